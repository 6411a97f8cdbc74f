/**
 * The session over real sockets: a command out of order closes that session only; a filter
 * that fails where no reply can carry it (a no-reply stage) still gets its failure verdict —
 * at end of message, with the filter asked nothing more; a filter callback slower than
 * command_timeout gets the failure verdict and its message's signal is aborted.
 */
import test from 'ava';
import { createConnection } from 'node:net';
import { encodeFrame, uint32 } from '../../src/milter/codec.ts';
import { SMFIC } from '../../src/milter/constants.ts';
import type { FilterFactory, MilterFilter, SessionContext } from '../../src/milter/filter.ts';
import { MilterClient, POSTFIX_OFFER, sendMessage, type SimpleMessage } from '../../src/milter/mta-client.ts';
import { startMilterServer, type MilterServer } from '../../src/milter/server.ts';
import { createTestHeaderFilterFactory } from '../../src/milter/test-header-filter.ts';
import { captureLogger } from '../support/logger.ts';

const { logger, lines } = captureLogger();
const message: SimpleMessage = { from: 'a@example.test', rcpts: ['b@example.test'], headers: [['From', ' a@example.test'], ['Subject', ' x']], body: 'x\r\n' };
const servers: MilterServer[] = [];
test.after.always(() => Promise.all(servers.map((s) => s.close({ drainMs: 100 }))));

async function serve(factory: FilterFactory, config: Parameters<typeof startMilterServer>[0]['config'] = {}): Promise<MilterServer> {
  const s = await startMilterServer({ listen: [{ kind: 'tcp', host: '127.0.0.1', port: 0 }], factory, logger, config });
  servers.push(s);
  return s;
}

/** Raw frames, then wait for the server to close; resolves with what it sent. */
function raw(server: MilterServer, frames: Buffer[]): Promise<Buffer> {
  const [, host, port] = /^inet:(.+):(\d+)$/.exec(server.addresses[0]!)!;
  return new Promise((resolve) => {
    const s = createConnection({ host: host!, port: Number(port) });
    const got: Buffer[] = [];
    s.on('data', (b) => got.push(b));
    s.on('error', () => undefined);
    s.on('close', () => resolve(Buffer.concat(got)));
    s.write(Buffer.concat(frames));
    setTimeout(() => s.destroy(), 5000).unref();
  });
}

const nul = (...v: string[]): Buffer => Buffer.concat(v.map((x) => Buffer.from(`${x}\0`, 'latin1')));
const OPTNEG = encodeFrame(SMFIC.OPTNEG, Buffer.concat([uint32(POSTFIX_OFFER.version), uint32(POSTFIX_OFFER.actions), uint32(POSTFIX_OFFER.protocol)]));

test('EOH, BODY and EOM after EOM: the filter never sees them; that session closes (unexpected-command), a parallel one completes', async (t) => {
  let eoms = 0;
  const factory: FilterFactory = {
    name: 'counting',
    requirements: { actions: ['add-header'], stages: ['mail', 'header', 'eoh', 'body'], noReplyStages: ['mail', 'header', 'eoh', 'body'], macros: {} },
    create: () => ({ mailFrom: () => ({ kind: 'continue' }), header: () => ({ kind: 'continue' }), endOfHeaders: () => ({ kind: 'continue' }), body: () => ({ kind: 'continue' }), endOfMessage: () => (eoms++, { verdict: { kind: 'continue' }, modifications: [] }) }),
  };
  const server = await serve(factory);
  for (const late of [[encodeFrame(SMFIC.EOH), encodeFrame(SMFIC.BODYEOB)], [encodeFrame(SMFIC.BODY, Buffer.from('x')), encodeFrame(SMFIC.BODYEOB)], [encodeFrame(SMFIC.BODYEOB)]]) {
    const since = lines.length;
    eoms = 0;
    const conversation = [OPTNEG, encodeFrame(SMFIC.CONNECT, Buffer.concat([nul('h'), Buffer.from('4'), Buffer.from([0, 25]), nul('192.0.2.1')])), encodeFrame(SMFIC.MAIL, nul('<a@b.test>')), encodeFrame(SMFIC.RCPT, nul('<c@d.test>')), encodeFrame(SMFIC.HEADER, nul('From', ' a@b.test')), encodeFrame(SMFIC.EOH), encodeFrame(SMFIC.BODYEOB), ...late];
    const c = await MilterClient.connect(server.addresses[0]!);
    await c.negotiate();
    const [, good] = await Promise.all([raw(server, conversation), sendMessage(c, message)]);
    c.quit();
    t.is(good.eom?.reply.kind, 'continue');
    t.is(eoms, 2, 'one end of message each: the repeated one never reached the filter');
    t.truthy(lines.slice(since).find((l) => l['code'] === 'unexpected-command' && /outside a message/.test(String(l['error']))));
  }
});

test('a filter that throws at a no-reply stage: the message gets the failure verdict at end of message; the filter sees nothing more of it', async (t) => {
  const seen: string[] = [];
  const factory: FilterFactory = {
    name: 'throws-at-header',
    requirements: { actions: ['add-header'], stages: ['header', 'eoh'], noReplyStages: ['header', 'eoh'], macros: {} },
    create: (): MilterFilter => ({
      header: (name) => {
        seen.push(`header:${name}`);
        if (name === 'Subject') throw new Error('broken parser');
        return { kind: 'continue' };
      },
      endOfHeaders: () => (seen.push('eoh'), { kind: 'continue' }),
      endOfMessage: () => (seen.push('eom'), { verdict: { kind: 'continue' }, modifications: [{ kind: 'add-header', name: 'X-Unverified', value: 'yes' }] }),
    }),
  };
  const server = await serve(factory);
  const c = await MilterClient.connect(server.addresses[0]!);
  await c.negotiate();
  const r = await sendMessage(c, message);
  t.deepEqual(r.eom?.reply, { kind: 'replycode', text: '451 4.3.0 temporary mail filter failure, try again later' });
  t.deepEqual(r.eom?.modifications, [], 'no header from a filter that failed on this message');
  t.deepEqual(seen, ['header:From', 'header:Subject']);
  // The next message on the same connection is a fresh start.
  seen.length = 0;
  const again = await sendMessage(c, { ...message, headers: [['From', ' a@example.test']] }, { skipConnect: true });
  t.is(again.eom?.reply.kind, 'continue');
  t.deepEqual(seen, ['header:From', 'eoh', 'eom']);
  c.quit();
});

test('a filter callback slower than command_timeout: 451 at a reply stage, owed at end of message at a no-reply stage; its message signal is aborted', async (t) => {
  const signals: AbortSignal[] = [];
  const factory: FilterFactory = {
    name: 'slow',
    requirements: { actions: [], stages: ['mail', 'header'], noReplyStages: ['header'], macros: {} },
    create: (ctx: SessionContext): MilterFilter => ({
      mailFrom: async (sender) => {
        signals.push(ctx.messageSignal());
        if (sender.startsWith('slow@')) await new Promise((r) => setTimeout(r, 2000));
        return { kind: 'continue' };
      },
      header: async (name) => {
        if (name === 'X-Slow') await new Promise((r) => setTimeout(r, 2000));
        return { kind: 'continue' };
      },
      endOfMessage: () => ({ verdict: { kind: 'continue' }, modifications: [] }),
    }),
  };
  const server = await serve(factory, { commandTimeoutMs: 300 });
  const c = await MilterClient.connect(server.addresses[0]!);
  await c.negotiate();
  const started = Date.now();
  const r = await sendMessage(c, { ...message, from: 'slow@example.test' });
  t.deepEqual(r.stopped, { kind: 'replycode', text: '451 4.3.0 temporary mail filter failure, try again later' });
  t.true(Date.now() - started < 1500, 'answered at the deadline, not when the filter finally returned');
  t.true(signals[0]!.aborted, 'the timed-out message signal is aborted: its DNS work stops');
  c.abort();
  const nr = await sendMessage(c, { ...message, headers: [['X-Slow', ' 1'], ...message.headers] }, { skipConnect: true });
  t.deepEqual(nr.eom?.reply, { kind: 'replycode', text: '451 4.3.0 temporary mail filter failure, try again later' });
  t.truthy(lines.find((l) => l['message'] === 'filter failed' && l['code'] === 'stage-timeout' && l['stage'] === 'header'));
  c.quit();
});

test('OPTNEG of the wrong length and a connect from 999.1.1.1 close the session; the test filter server is unaffected', async (t) => {
  const server = await serve(createTestHeaderFilterFactory());
  for (const bad of [[encodeFrame(SMFIC.OPTNEG, Buffer.alloc(13))], [OPTNEG, encodeFrame(SMFIC.CONNECT, Buffer.concat([nul('h'), Buffer.from('4'), Buffer.from([0, 25]), nul('999.1.1.1')]))]]) {
    const since = lines.length;
    await raw(server, bad);
    t.truthy(lines.slice(since).find((l) => l['code'] === 'malformed-payload'));
  }
  const c = await MilterClient.connect(server.addresses[0]!);
  await c.negotiate();
  t.is((await sendMessage(c, message)).eom?.reply.kind, 'continue');
  c.quit();
});
