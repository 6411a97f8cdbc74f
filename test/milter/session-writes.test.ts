/**
 * The session driven directly through its transport (no socket): what it writes and when.
 * End of message goes out as one write (modifications, then the verdict); a whole message
 * of no-reply commands in one chunk is handled with synchronous filter callbacks; a callback
 * that throws synchronously at a no-reply stage still owes its verdict at end of message,
 * and the filter is asked nothing more about that message.
 */
import test from 'ava';
import { FrameDecoder, encodeFrame, uint32 } from '../../src/milter/codec.ts';
import { SMFIC, SMFIR } from '../../src/milter/constants.ts';
import type { FilterFactory, MilterFilter } from '../../src/milter/filter.ts';
import { POSTFIX_OFFER } from '../../src/milter/mta-client.ts';
import { MilterSession } from '../../src/milter/session.ts';
import { captureLogger } from '../support/logger.ts';

const nul = (...v: string[]): Buffer => Buffer.concat(v.map((x) => Buffer.from(`${x}\0`, 'latin1')));
const OPTNEG = encodeFrame(SMFIC.OPTNEG, Buffer.concat([uint32(POSTFIX_OFFER.version), uint32(POSTFIX_OFFER.actions), uint32(POSTFIX_OFFER.protocol)]));
const MESSAGE = [
  encodeFrame(SMFIC.CONNECT, Buffer.concat([nul('h.example'), Buffer.from('4'), Buffer.from([0, 25]), nul('192.0.2.1')])),
  encodeFrame(SMFIC.MAIL, nul('<a@example.test>')),
  encodeFrame(SMFIC.RCPT, nul('<b@example.test>')),
  encodeFrame(SMFIC.HEADER, nul('From', ' a@example.test')),
  encodeFrame(SMFIC.HEADER, nul('Subject', ' x')),
  encodeFrame(SMFIC.EOH),
  encodeFrame(SMFIC.BODY, Buffer.from('x\r\n')),
  encodeFrame(SMFIC.BODYEOB),
];
const REQUIREMENTS: FilterFactory['requirements'] = {
  actions: ['add-header'],
  stages: ['connect', 'mail', 'rcpt', 'header', 'eoh', 'body'],
  noReplyStages: ['connect', 'mail', 'rcpt', 'header', 'eoh', 'body'],
  macros: {},
};

function drive(filter: () => MilterFilter): Promise<{ writes: Buffer[]; ended: boolean }> {
  const writes: Buffer[] = [];
  const { logger } = captureLogger();
  return new Promise((resolve) => {
    const session = new MilterSession({
      id: 't',
      factory: { name: 't', requirements: REQUIREMENTS, create: filter },
      logger,
      transport: { write: (b) => void writes.push(Buffer.from(b)), end: () => resolve({ writes, ended: true }), pause: () => undefined, resume: () => undefined },
    });
    session.receive(OPTNEG);
    session.receive(Buffer.concat([...MESSAGE, encodeFrame(SMFIC.QUIT)]));
  });
}

const frames = (b: Buffer) => new FrameDecoder().push(b).map((f) => f.command);

test('end of message is one write: the modifications, then the verdict', async (t) => {
  const { writes } = await drive(() => ({
    endOfMessage: async () => ({
      verdict: { kind: 'continue' },
      modifications: [
        { kind: 'insert-header', index: 0, name: 'Authentication-Results', value: 'x; none' },
        { kind: 'add-header', name: 'X-Two', value: 'y' },
      ],
    }),
  }));
  t.is(writes.length, 2, 'the OPTNEG reply, then everything of end of message');
  t.deepEqual(frames(writes[0]!), [SMFIC.OPTNEG]);
  t.deepEqual(frames(writes[1]!), [SMFIR.INSHEADER, SMFIR.ADDHEADER, SMFIR.CONTINUE]);
});

test('synchronous callbacks see every command of a chunk in order; a synchronous throw is owed at end of message and ends the filter\'s part', async (t) => {
  const seen: string[] = [];
  const { writes } = await drive(() => ({
    connect: (i) => (seen.push(`connect:${i.hostname}`), { kind: 'continue' }),
    mailFrom: (s) => (seen.push(`mail:${s}`), { kind: 'continue' }),
    rcptTo: (r) => (seen.push(`rcpt:${r}`), { kind: 'continue' }),
    header: (name) => {
      seen.push(`header:${name}`);
      if (name === 'From') throw new Error('boom');
      return { kind: 'continue' };
    },
    endOfHeaders: () => (seen.push('eoh'), { kind: 'continue' }),
    body: () => (seen.push('body'), { kind: 'continue' }),
    endOfMessage: () => (seen.push('eom'), { verdict: { kind: 'accept' }, modifications: [] }),
  }));
  t.deepEqual(seen, ['connect:h.example', 'mail:a@example.test', 'rcpt:b@example.test', 'header:From']);
  t.deepEqual(frames(writes[1]!), [SMFIR.REPLYCODE], 'the failure policy (tempfail with a reply)');
  t.regex(new FrameDecoder().push(writes[1]!)[0]!.payload.toString('latin1'), /^451 4\.3\.0 /);
});
