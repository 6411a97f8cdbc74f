/**
 * Slow and greedy peers against the milter server over real sockets (issue 16): slowloris,
 * idle connections, partial frames one byte short, content dribbled far below the minimum
 * rate, zero-length frames and QUIT without closing — each cut off at its deadline or
 * budget, with the slot free afterwards, while a good session beside them completes. Short
 * deadlines here so the test takes seconds; the defaults are in docs/milter.md.
 */
import test from 'ava';
import { createConnection } from 'node:net';
import { startSlowPeers } from '../../attack/slow-peers.ts';
import { goodSession } from '../../attack/milter-fuzz.ts';
import { cstrings, encodeFrame, uint32 } from '../../src/milter/codec.ts';
import { SMFIC } from '../../src/milter/constants.ts';
import type { FilterFactory } from '../../src/milter/filter.ts';
import { POSTFIX_OFFER } from '../../src/milter/mta-client.ts';
import { startMilterServer, type MilterServer } from '../../src/milter/server.ts';
import { createTestHeaderFilterFactory } from '../../src/milter/test-header-filter.ts';
import { captureLogger } from '../support/logger.ts';

const MAX_FRAME = 128 * 1024;
const { logger, lines } = captureLogger();
let server: MilterServer;
const target = (): string => server.addresses[0]!;

test.before(async () => {
  server = await startMilterServer({
    listen: [{ kind: 'tcp', host: '127.0.0.1', port: 0 }],
    factory: createTestHeaderFilterFactory(),
    logger,
    config: { readTimeoutMs: 1500, frameTimeoutMs: 1000, minDataRate: 2000, maxFrame: MAX_FRAME },
    maxBuffered: 8 * MAX_FRAME,
    maxSessions: 400,
  });
});
test.after.always(() => server.close({ drainMs: 100 }));

async function slotsFree(ms = 2000): Promise<boolean> {
  for (let i = 0; i < ms / 20; i++) {
    if (server.activeSessions === 0) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return server.activeSessions === 0;
}
const codes = (since: number): string[] => lines.slice(since).map((l) => String(l['code'] ?? '')).filter(Boolean);

test.serial('slowloris: 300 connections sending one byte every 300 ms are all cut at frame_timeout (1 s), not kept alive by their bytes', async (t) => {
  const since = lines.length;
  const peers = startSlowPeers({ target: target(), kind: 'slowloris', connections: 300, byteEveryMs: 300 });
  try {
    await new Promise((r) => setTimeout(r, 400));
    t.true(await goodSession(target()), 'a good session completes beside them');
    t.true(await peers.allClosed(6000), `${peers.open} still open`);
    const cut = peers.closedAfterMs.map((x) => x ?? Infinity);
    t.true(Math.max(...cut) < 4000, `last one cut after ${Math.max(...cut)} ms`);
    t.true(Math.min(...cut) >= 900, `first one cut after ${Math.min(...cut)} ms (the deadline is 1 s)`);
    t.true(codes(since).filter((c) => c === 'frame-timeout').length >= 300);
    t.true(await slotsFree());
  } finally {
    peers.stop();
  }
});

test.serial('idle connections are cut at read_timeout (1.5 s); slots free', async (t) => {
  const since = lines.length;
  const peers = startSlowPeers({ target: target(), kind: 'idle', connections: 100 });
  try {
    t.true(await peers.allClosed(6000), `${peers.open} still open`);
    t.true(Math.min(...peers.closedAfterMs.map((x) => x ?? 0)) >= 1400);
    t.true(codes(since).filter((c) => c === 'read-timeout').length >= 100);
    t.true(await slotsFree());
  } finally {
    peers.stop();
  }
});

test.serial('partial frames one byte short of max_frame: the budget (8 frames) is never exceeded, the rest refused at once, all cut by frame_timeout', async (t) => {
  const since = lines.length;
  let peak = 0;
  const watch = setInterval(() => (peak = Math.max(peak, server.bufferedBytes)), 5);
  const peers = startSlowPeers({ target: target(), kind: 'partialFrame', connections: 40, frameBytes: MAX_FRAME });
  try {
    t.true(await peers.allClosed(6000), `${peers.open} still open`);
    t.true(peak <= 8 * MAX_FRAME, `peak ${peak} bytes held, budget ${8 * MAX_FRAME}`);
    t.true(peak >= 4 * MAX_FRAME, `the budget was really used (peak ${peak})`);
    const c = codes(since);
    t.true(c.filter((x) => x === 'over-budget').length >= 40 - 8, JSON.stringify(c));
    t.true(c.filter((x) => x === 'frame-timeout').length >= 1);
    t.true(await slotsFree());
    for (let i = 0; i < 50 && server.bufferedBytes > 0; i++) await new Promise((r) => setTimeout(r, 20));
    t.is(server.bufferedBytes, 0, 'every byte of the budget released');
    t.true(await goodSession(target()));
  } finally {
    clearInterval(watch);
    peers.stop();
  }
});

test.serial('message content dribbled at one small header per 300 ms (far below min_data_rate) is cut: data-rate', async (t) => {
  const since = lines.length;
  const peers = startSlowPeers({ target: target(), kind: 'dribble', connections: 20, frameEveryMs: 300 });
  try {
    t.true(await peers.allClosed(8000), `${peers.open} still open`);
    t.true(codes(since).filter((c) => c === 'data-rate').length >= 20, JSON.stringify(codes(since)));
    t.true(await slotsFree());
  } finally {
    peers.stop();
  }
});

test.serial('zero-length frames: each session is closed fully and its slot freed at once, though the peer never closes', async (t) => {
  const since = lines.length;
  const peers = startSlowPeers({ target: target(), kind: 'zeroFrame', connections: 20 });
  try {
    t.true(await peers.allClosed(3000), `${peers.open} still open: the server half-closed and waited`);
    t.true(Math.max(...peers.closedAfterMs.map((x) => x ?? Infinity)) < 1000);
    t.true(codes(since).filter((c) => c === 'frame-empty').length >= 20);
    t.true(await slotsFree(500));
  } finally {
    peers.stop();
  }
});

test.serial('QUIT without closing our side: the slot is freed and the server closes the socket', async (t) => {
  const [, host, port] = /^inet:(.+):(\d+)$/.exec(target())!;
  const s = createConnection({ host: host!, port: Number(port) });
  const closed = new Promise<void>((r) => s.on('end', () => r()));
  s.on('data', () => undefined);
  s.write(Buffer.concat([encodeFrame(SMFIC.OPTNEG, Buffer.concat([uint32(POSTFIX_OFFER.version), uint32(POSTFIX_OFFER.actions), uint32(POSTFIX_OFFER.protocol)])), encodeFrame(SMFIC.QUIT)]));
  await closed;
  t.true(await slotsFree(500));
  s.destroy();
});

test.serial('a peer that pipelines frames without reading replies: paused by the queue bound, then cut by the write backlog; memory stays bounded', async (t) => {
  const replying: FilterFactory = {
    name: 'replies-at-rcpt',
    requirements: { actions: [], stages: ['rcpt'], noReplyStages: [], macros: {} },
    // A long per-recipient reply: the kernel's buffers fill after a few thousand of them.
    create: () => ({ rcptTo: () => ({ kind: 'reject', reply: { code: 550, enhanced: '5.1.1', text: `no such user ${'x'.repeat(2000)}` } }), endOfMessage: () => ({ verdict: { kind: 'continue' }, modifications: [] }) }),
  };
  const own = await startMilterServer({ listen: [{ kind: 'tcp', host: '127.0.0.1', port: 0 }], factory: replying, logger, config: { maxFrame: MAX_FRAME, readTimeoutMs: 5000 } });
  try {
    const since = lines.length;
    const [, host, port] = /^inet:(.+):(\d+)$/.exec(own.addresses[0]!)!;
    const s = createConnection({ host: host!, port: Number(port) });
    s.pause(); // never read
    s.on('error', () => undefined);
    // The client is paused and sees nothing; the server's side is what counts.
    const ended = (async () => {
      while (!codes(since).includes('write-backlog')) await new Promise((r) => setTimeout(r, 20));
    })();
    const rcpt = encodeFrame(SMFIC.RCPT, cstrings('<r@anchor.test>'));
    s.write(Buffer.concat([encodeFrame(SMFIC.OPTNEG, Buffer.concat([uint32(6), uint32(0x1ff), uint32(0x1fffff)])), encodeFrame(SMFIC.CONNECT, Buffer.concat([Buffer.from('h\0'), Buffer.from('4'), Buffer.from([0, 25]), Buffer.from('192.0.2.1\0')])), encodeFrame(SMFIC.MAIL, cstrings('<a@b.test>'))]));
    let peak = 0;
    let closed = false;
    void ended.then(() => (closed = true));
    const batch = Buffer.concat(Array.from({ length: 2000 }, () => rcpt));
    // Our replies (2 KB per RCPT) fill the kernel's buffers, then the server's own.
    for (const until = Date.now() + 10_000; !closed && Date.now() < until; ) {
      if (s.writableLength < 4 * 1024 * 1024) s.write(batch);
      peak = Math.max(peak, own.bufferedBytes);
      await new Promise((r) => setTimeout(r, 1));
    }
    const done = await Promise.race([ended.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000))]);
    t.true(done, `the server gave up on the connection: ${JSON.stringify(lines.slice(since).map((l) => `${String(l['message'])} ${String(l['error'])}`))} ${s.writableLength} ${s.bytesWritten}`);
    for (let i = 0; i < 50 && own.activeSessions > 0; i++) await new Promise((r) => setTimeout(r, 20));
    t.is(own.activeSessions, 0);
    t.true(codes(since).includes('write-backlog'), JSON.stringify(codes(since)));
    t.true(peak <= 2 * MAX_FRAME + 256 * 1024, `peak held ${peak}`);
    s.destroy();
  } finally {
    await own.close({ drainMs: 100 });
  }
});
