/**
 * Malformed input over real sockets: each bad session is closed with a log line, while a
 * good session running beside it completes. Includes a seeded random malformed-frame run.
 */
import test from 'ava';
import { createConnection } from 'node:net';
import { startMilterServer, type MilterServer } from '../../src/milter/server.ts';
import { createTestHeaderFilterFactory } from '../../src/milter/test-header-filter.ts';
import { MilterClient, sendMessage } from '../../src/milter/mta-client.ts';
import { encodeFrame, uint32, cstrings } from '../../src/milter/codec.ts';
import { SMFIC } from '../../src/milter/constants.ts';
import { captureLogger } from '../support/logger.ts';

let server: MilterServer;
const { logger, lines } = captureLogger();
test.before(async () => {
  server = await startMilterServer({ listen: [{ kind: 'tcp', host: '127.0.0.1', port: 0 }], factory: createTestHeaderFilterFactory(), logger, config: { maxFrame: 256 * 1024 } });
});
test.after.always(() => server.close({ drainMs: 100 }));

const target = () => {
  const [, host, port] = /^inet:(.+):(\d+)$/.exec(server.addresses[0]!)!;
  return { host: host!, port: Number(port) };
};

/** Sends raw bytes, optionally half-closes, and resolves when the server closes the connection. */
function rawSession(bytes: Buffer, halfClose: boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = createConnection(target());
    const got: Buffer[] = [];
    s.on('data', (b) => got.push(b));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(got)));
    s.write(bytes, () => (halfClose ? s.end() : undefined));
    setTimeout(() => s.destroy(), 5000).unref();
  });
}

const optneg = encodeFrame(SMFIC.OPTNEG, Buffer.concat([uint32(6), uint32(0x1ff), uint32(0x1fffff)]));

/** A good message going on in parallel; it must complete whatever the bad sessions do. */
async function goodSession(): Promise<string> {
  const c = await MilterClient.connect(server.addresses[0]!);
  await c.negotiate();
  const r = await sendMessage(c, { from: 'a@example.test', rcpts: ['b@example.test'], headers: [['From', ' a@example.test']], body: 'x\r\n' });
  c.quit();
  await c.closed();
  return r.eom?.reply.kind ?? 'none';
}

const cases: Array<[string, Buffer, boolean, string]> = [
  ['zero length', Buffer.concat([optneg, Buffer.from([0, 0, 0, 0])]), false, 'frame-empty'],
  ['length over the bound', Buffer.concat([optneg, Buffer.from([0x7f, 0xff, 0xff, 0xff, 0x42])]), false, 'frame-too-large'],
  ['truncated frame then close', Buffer.concat([optneg, Buffer.from([0, 0, 0, 20, 0x48, 0x61])]), true, 'frame-truncated'],
  ['unknown command byte', Buffer.concat([optneg, encodeFrame(0x5a)]), false, 'unknown-command'],
  ['HELO without NUL', Buffer.concat([optneg, encodeFrame(SMFIC.HELO, Buffer.from('x'))]), false, 'malformed-payload'],
  ['bad address family', Buffer.concat([optneg, encodeFrame(SMFIC.CONNECT, Buffer.from('h\0Q\0\x19a\0'))]), false, 'malformed-payload'],
  ['MAIL before negotiation', encodeFrame(SMFIC.MAIL, cstrings('<a@b>')), false, 'unexpected-command'],
];

for (const [name, bytes, halfClose, code] of cases) {
  test.serial(`${name}: this session closed with a log line (${code}); a parallel session completes`, async (t) => {
    const before = lines.length;
    const [, good] = await Promise.all([rawSession(bytes, halfClose), goodSession()]);
    t.is(good, 'continue');
    const logged = lines.slice(before).find((l) => l['code'] === code);
    t.truthy(logged, `log line with code ${code}`);
    t.truthy(logged?.['sid']);
  });
}

/** xorshift32: deterministic, so a failure can be replayed from the seed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

test.serial('200 seeded random malformed conversations: the server survives, good sessions complete', async (t) => {
  const seed = 0x6d696c74;
  const rand = rng(seed);
  const commands = Object.values(SMFIC);
  for (let round = 0; round < 200; round++) {
    const parts: Buffer[] = [optneg];
    const n = 1 + Math.floor(rand() * 6);
    for (let i = 0; i < n; i++) {
      const cmd = rand() < 0.9 ? commands[Math.floor(rand() * commands.length)]! : Math.floor(rand() * 256);
      const payload = Buffer.from(Array.from({ length: Math.floor(rand() * 40) }, () => Math.floor(rand() * 256)));
      let frame = encodeFrame(cmd, payload);
      const r = rand();
      if (r < 0.15) frame = frame.subarray(0, Math.floor(rand() * frame.length)); // truncate
      else if (r < 0.25) frame.writeUInt32BE(Math.floor(rand() * 0xffffffff), 0); // lie about length
      parts.push(frame);
    }
    // Quit or half-close so every conversation ends even when it happened to be well-formed.
    parts.push(encodeFrame(SMFIC.QUIT));
    await rawSession(Buffer.concat(parts), true);
    if (round % 40 === 0) t.is(await goodSession(), 'continue', `round ${round} (seed ${seed})`);
  }
  t.is(await goodSession(), 'continue');
  // The server sees the last close a moment after the client does.
  for (let i = 0; i < 100 && server.activeSessions > 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.is(server.activeSessions, 0, 'no session left behind');
});
