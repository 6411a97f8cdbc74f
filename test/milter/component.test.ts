/** The server over loopback TCP, IPv6 and a unix socket, driven by our own MTA-side client. */
import test from 'ava';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { startMilterServer, type MilterServer } from '../../src/milter/server.ts';
import { createTestHeaderFilterFactory, TEST_HEADER } from '../../src/milter/test-header-filter.ts';
import { MilterClient, sendMessage, type SimpleMessage } from '../../src/milter/mta-client.ts';
import { SMFIF, SMFIP } from '../../src/milter/constants.ts';
import type { FilterFactory } from '../../src/milter/filter.ts';
import { captureLogger } from '../support/logger.ts';

const message: SimpleMessage = {
  from: 'alice@example.test',
  rcpts: ['bob@example.net'],
  headers: [
    ['From', ' Alice <alice@example.test>'],
    ['Subject', ' hello\n\tfolded'],
  ],
  body: 'Hi Bob.\r\n',
};

let dir = '';
const servers: MilterServer[] = [];
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-milter-'));
});
test.after.always(async () => {
  await Promise.all(servers.map((s) => s.close({ drainMs: 100 })));
  await rm(dir, { recursive: true, force: true });
});

async function start(factory: FilterFactory = createTestHeaderFilterFactory(), listen = 'inet:127.0.0.1:0', extra: Partial<Parameters<typeof startMilterServer>[0]> = {}) {
  const { logger, lines } = captureLogger();
  const spec = listen.startsWith('unix:') ? { kind: 'unix' as const, path: listen.slice(5) } : listen.startsWith('inet6:') ? { kind: 'tcp' as const, host: '::1', port: 0 } : { kind: 'tcp' as const, host: '127.0.0.1', port: 0 };
  const server = await startMilterServer({ listen: [spec], factory, logger, ...extra });
  servers.push(server);
  return { server, lines };
}

test('negotiates only what the test filter needs, adds its header, logs one summary line with the queue id', async (t) => {
  const registry = new Registry();
  const { server, lines } = await start(undefined, 'inet:127.0.0.1:0', { metrics: registry });
  const c = await MilterClient.connect(server.addresses[0]!);
  const neg = await c.negotiate();
  t.is(neg.version, 6);
  t.is(neg.actions & ~SMFIF.SETSYMLIST, SMFIF.ADDHDRS, 'only ADDHDRS (plus the macro list)');
  t.truthy(neg.protocol & SMFIP.HDR_LEADSPC);
  t.truthy(neg.protocol & SMFIP.NOCONNECT && neg.protocol & SMFIP.NOHDRS && neg.protocol & SMFIP.NOBODY, 'unused stages switched off');
  t.regex(neg.macros.get(5) ?? '', /\bi\b/, 'queue id requested at end of message');
  const r = await sendMessage(c, message);
  t.is(r.eom?.reply.kind, 'continue');
  t.deepEqual(r.eom?.modifications.map((m) => m.kind), ['add-header']);
  const mod = r.eom!.modifications[0]!;
  t.true(mod.kind === 'add-header' && mod.name === TEST_HEADER && mod.value.startsWith(' '), 'value carries the leading space under HDR_LEADSPC');
  c.quit();
  await c.closed();
  const summary = lines.find((l) => l['message'] === 'message');
  t.is(summary?.['queue_id'], 'ABC123');
  t.is(summary?.['verdict'], 'accept');
  t.deepEqual(summary?.['actions'], [`add-header:${TEST_HEADER}`]);
  t.truthy(summary?.['sid']);
  t.regex(await registry.metrics(), /mailanchor_milter_messages_total\{verdict="accept"\} 1/);
});

test('IPv6 loopback and a unix socket with the configured mode', async (t) => {
  const v6 = await start(undefined, 'inet6:[::1]:0');
  t.regex(v6.server.addresses[0]!, /^inet6:\[::1\]:\d+$/);
  const c6 = await MilterClient.connect({ kind: 'tcp', host: '::1', port: Number(/:(\d+)$/.exec(v6.server.addresses[0]!)![1]) });
  await c6.negotiate();
  t.is((await sendMessage(c6, message)).eom?.reply.kind, 'continue');
  c6.quit();

  const path = join(dir, 'milter.sock');
  const ux = await start(undefined, `unix:${path}`, { socket: { mode: 0o660 } });
  t.is((await stat(path)).mode & 0o777, 0o660);
  const cu = await MilterClient.connect(`unix:${path}`);
  await cu.negotiate();
  t.is((await sendMessage(cu, message)).eom?.reply.kind, 'continue');
  cu.quit();
  await cu.closed();
  await ux.server.close({ drainMs: 100 });
  await t.throwsAsync(stat(path), undefined, 'socket file removed on close');
});

test('many concurrent sessions each get their own filter instance', async (t) => {
  const { server } = await start();
  const results = await Promise.all(
    Array.from({ length: 100 }, async () => {
      const c = await MilterClient.connect(server.addresses[0]!);
      await c.negotiate();
      const r = await sendMessage(c, message);
      c.quit();
      const m = r.eom?.modifications[0];
      return m && m.kind === 'add-header' ? m.value.trim() : '';
    }),
  );
  t.is(new Set(results).size, 100, 'one session id per connection');
});

test('a filter that throws gets tempfail (default policy) and the session survives for the next message', async (t) => {
  let n = 0;
  const factory: FilterFactory = {
    name: 'flaky',
    requirements: { actions: ['add-header'], stages: ['mail'], noReplyStages: [], macros: {} },
    create: () => ({
      mailFrom: () => ({ kind: 'continue' }),
      endOfMessage: () => {
        if (n++ === 0) throw new Error('boom');
        return { verdict: { kind: 'continue' }, modifications: [] };
      },
    }),
  };
  const { server, lines } = await start(factory);
  const c = await MilterClient.connect(server.addresses[0]!);
  await c.negotiate();
  const first = await sendMessage(c, message);
  t.deepEqual(first.eom?.reply, { kind: 'replycode', text: '451 4.3.0 temporary mail filter failure, try again later' });
  const second = await sendMessage(c, message, { skipConnect: true });
  t.is(second.eom?.reply.kind, 'continue');
  t.true(lines.some((l) => l['message'] === 'filter failed' && l['error'] === 'boom'));
  c.quit();
});

test('a modification that was not negotiated is refused, not sent', async (t) => {
  const factory: FilterFactory = {
    name: 'sneaky',
    requirements: { actions: ['add-header'], stages: [], noReplyStages: [], macros: {} },
    create: () => ({ endOfMessage: () => ({ verdict: { kind: 'continue' }, modifications: [{ kind: 'quarantine', reason: 'x' }] }) }),
  };
  const { server, lines } = await start(factory);
  const c = await MilterClient.connect(server.addresses[0]!);
  await c.negotiate();
  const r = await sendMessage(c, message);
  t.deepEqual(r.eom?.modifications, []);
  t.is(r.eom?.reply.kind, 'replycode');
  t.true(lines.some((l) => l['code'] === 'modification-not-negotiated'));
  c.quit();
});

test('progress is sent while a slow end of message runs; reject with a reply code', async (t) => {
  const factory: FilterFactory = {
    name: 'slow',
    requirements: { actions: [], stages: [], noReplyStages: [], macros: {} },
    create: () => ({
      endOfMessage: async () => {
        await new Promise((r) => setTimeout(r, 250));
        return { verdict: { kind: 'reject', reply: { code: 550, enhanced: '5.7.1', text: 'no 100% way' } }, modifications: [] };
      },
    }),
  };
  const { server } = await start(factory, 'inet:127.0.0.1:0', { config: { progressIntervalMs: 40 } });
  const c = await MilterClient.connect(server.addresses[0]!);
  await c.negotiate();
  const r = await sendMessage(c, message);
  t.true((r.eom?.progress ?? 0) >= 2, `progress frames: ${r.eom?.progress}`);
  t.deepEqual(r.eom?.reply, { kind: 'replycode', text: '550 5.7.1 no 100%% way' });
  c.quit();
});

test('close() lets a message in flight finish, then closes the session', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const factory: FilterFactory = {
    name: 'gated',
    requirements: { actions: [], stages: [], noReplyStages: [], macros: {} },
    create: () => ({ endOfMessage: async () => (await gate, { verdict: { kind: 'continue' }, modifications: [] }) }),
  };
  const { server } = await start(factory);
  const c = await MilterClient.connect(server.addresses[0]!);
  await c.negotiate();
  const pending = sendMessage(c, message);
  while (server.activeSessions === 0) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 50));
  const closing = server.close({ drainMs: 5000 });
  release();
  const r = await pending;
  t.is(r.eom?.reply.kind, 'continue');
  await closing;
  await c.closed();
  t.is(server.activeSessions, 0);
});
