/**
 * `node bench/milter-session.ts [--count N] [--rounds R] [--profile]`: what the milter path
 * costs per message *around* the authentication engine — frame decoding, command parsing,
 * the protocol state, deadlines, stage calls, metrics, the per-message log line, replies —
 * in process, one core, no sockets. Not a test; nothing here runs in `npm test`.
 *
 * Each inbound corpus message goes through its own `MilterSession` (one connection per
 * message, as in the bench), fed the bytes the bench's chain driver sends (bench/chain-driver.ts):
 * OPTNEG with Postfix's offer, then connect, HELO, MAIL, RCPT, all headers in one chunk,
 * EOH, body chunks of 65,535 octets, end of message, QUIT. The filter is a stand-in with the
 * product's requirements (src/app/mail-filter.ts: inbound + outbound) that does no work and
 * answers end of message with one Authentication-Results insertion and a summary shaped like
 * the inbound filter's, so what is measured is the session's own cost. The logger is the
 * product's (`createLogger`, level warn as in the bench config) writing to a null stream;
 * metrics are the product's on a fresh prom-client registry; every call runs in the
 * session's AsyncLocalStorage scope as the server does it.
 *
 * Prints CPU µs per message (best of R rounds) and replies written per message.
 * `--profile`: writes a .cpuprofile of one more round to bench/results/profiles/.
 * `--server`: instead, the real listener (`startMilterServer`, TCP on loopback) with the same
 * stand-in filter in a child process, driven by the bench's chain driver from this one with
 * `--sessions` (default 50) concurrent connections, one message each: the child's CPU per
 * message is the milter path with sockets but without the engine.
 * `--heap-sample`: what one more round allocates, by function (V8's sampling heap profiler,
 * collected objects included: the young generation's churn is what GC time pays for).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Session } from 'node:inspector/promises';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { createLogger } from '../src/log/logger.ts';
import type { FilterFactory, MilterFilter, Verdict } from '../src/milter/filter.ts';
import { registerMilterMetrics } from '../src/milter/metrics.ts';
import { startMilterServer } from '../src/milter/server.ts';
import { MilterSession } from '../src/milter/session.ts';
import { sessionScope } from '../src/milter/session-scope.ts';
import { buildCorpus, type BenchMessage } from './corpus.ts';
import { sampleHeap } from './heap-sample.ts';
import { frame, macros, sendThroughChain, splitMessage, z } from './chain-driver.ts';
import { cpuSeconds } from './proc-stats.ts';

const { values } = parseArgs({ options: { count: { type: 'string' }, rounds: { type: 'string' }, profile: { type: 'boolean' }, 'heap-sample': { type: 'boolean' }, server: { type: 'boolean' }, serve: { type: 'boolean' }, sessions: { type: 'string' } } });
const count = Number(values.count ?? 400);
const rounds = Number(values.rounds ?? 5);

// ----------------------------------------------------------------------------- wire bytes
/** The chunks one message arrives in, as the chain driver writes them (no-reply stages). */
function chunksOf(m: BenchMessage, n: number): Buffer[] {
  const qid = `B${n.toString(16).toUpperCase().padStart(9, '0')}`;
  const { headers, body } = splitMessage(m);
  const opt = Buffer.allocUnsafe(12);
  opt.writeUInt32BE(6, 0);
  opt.writeUInt32BE(0x1ff, 4);
  opt.writeUInt32BE(0x1fffff, 8);
  const port = Buffer.alloc(2);
  port.writeUInt16BE(40000 + (n % 20000));
  const out: Buffer[] = [
    frame('O', opt),
    Buffer.concat([
      macros('C', { j: 'mx.mailanchor.example', '{daemon_name}': 'smtpd', '{daemon_addr}': '127.0.0.1', v: 'Postfix 3.7', _: `${m.clientHostname} [${m.clientAddress}]`, '{client_addr}': m.clientAddress, '{client_name}': m.clientHostname, '{client_ptr}': m.clientHostname }),
      frame('C', z(m.clientHostname), '4', port, z(m.clientAddress)),
    ]),
    frame('H', z(m.helo)),
    Buffer.concat([macros('M', { i: qid, '{mail_addr}': m.mailFrom, '{mail_mailer}': 'smtp', ...m.macros }), frame('M', z(`<${m.mailFrom}>`))]),
  ];
  for (const r of m.rcptTo) out.push(Buffer.concat([macros('R', { i: qid, '{rcpt_addr}': r, '{rcpt_mailer}': 'local' }), frame('R', z(`<${r}>`))]));
  // Negotiation switches DATA off (no filter asks for it), so the driver does not send it.
  out.push(Buffer.concat(headers.map((h) => frame('L', z(h.name), z(h.value)))));
  out.push(Buffer.concat([macros('N', { i: qid }), frame('N')]));
  for (let off = 0; off < body.length; off += 65535) out.push(frame('B', body.subarray(off, Math.min(body.length, off + 65535))));
  out.push(Buffer.concat([macros('E', { i: qid }), frame('E')]));
  out.push(frame('Q'));
  return out;
}

// ----------------------------------------------------------------------------- the stand-in filter
const CONTINUE: Verdict = { kind: 'continue' };
const AR = 'mx.mailanchor.example; iprev=pass policy.iprev=198.51.100.7 (mail.sender01.example); spf=pass smtp.mailfrom=sender01.example; dkim=pass header.d=sender01.example header.s=rsa2026 header.a=rsa-sha256 header.b=AbCdEfGh; dmarc=pass header.from=sender01.example';
const factory: FilterFactory = {
  name: 'mail',
  // The product's (src/app/mail-filter.ts, inbound + outbound combined).
  requirements: {
    actions: ['add-header', 'change-header', 'quarantine'],
    stages: ['connect', 'helo', 'mail', 'rcpt', 'header', 'eoh', 'body'],
    noReplyStages: ['connect', 'helo', 'mail', 'rcpt', 'header', 'eoh', 'body'],
    macros: { connect: ['j', '{daemon_name}', '{client_addr}', '{client_name}'], mail: ['i', '{auth_authen}'], eom: ['i'] },
  },
  create(ctx): MilterFilter {
    let signal: AbortSignal | undefined;
    return {
      // The router answers connect and HELO for both filters (a Promise.all).
      connect: async () => CONTINUE,
      helo: async () => CONTINUE,
      mailFrom: () => {
        signal = ctx.messageSignal();
        return CONTINUE;
      },
      rcptTo: () => CONTINUE,
      header: () => CONTINUE,
      endOfHeaders: () => CONTINUE,
      body: () => CONTINUE,
      endOfMessage: async () => {
        if (signal?.aborted) throw new Error('aborted');
        return {
          verdict: CONTINUE,
          modifications: [{ kind: 'insert-header', index: 0, name: 'Authentication-Results', value: AR }],
          summary: { direction: 'inbound', spf: 'pass', dkim: 'pass:sender01.example', dmarc: 'pass', from_domain: 'sender01.example', iprev: 'pass', policy: 'deliver', reason: 'pass' },
        };
      },
    };
  },
};

// ----------------------------------------------------------------------------- --server / --serve
if (values.serve) {
  const server = await startMilterServer({ listen: [{ kind: 'tcp', host: '127.0.0.1', port: 0 }], factory, logger: createLogger({ level: 'warn', format: 'text', destination: 'stderr' }), metrics: new Registry() });
  process.stdout.write(`${server.addresses[0]}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => void server.close({ drainMs: 1000 }).then(() => process.exit(0)));
  await new Promise<never>(() => undefined); // served until stdin ends
} else if (values.server) {
  const corpus = await buildCorpus({ count: count * 2 });
  const inbound = corpus.messages.filter((m) => m.direction === 'inbound').slice(0, count);
  const prepared = inbound.map((m) => ({ m, p: splitMessage(m) }));
  const child = spawn(process.execPath, ['--max-semi-space-size=2', fileURLToPath(import.meta.url), '--serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const address = await new Promise<string>((resolve) => child.stdout.once('data', (b: Buffer) => resolve(b.toString().trim())));
  const [, host, port] = /^inet:(.+):(\d+)$/.exec(address)!;
  const chain = [{ host: host!, port: Number(port) }];
  const sessions = Number(values.sessions ?? 50);
  const pass = async (): Promise<number> => {
    let next = 0;
    await Promise.all(Array.from({ length: sessions }, async () => {
      while (next < prepared.length) {
        const { m, p } = prepared[next++]!;
        await sendThroughChain(chain, m, p);
      }
    }));
    return prepared.length;
  };
  await pass(); // warm-up
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = cpuSeconds([child.pid!]);
    const n = await pass();
    best = Math.min(best, ((cpuSeconds([child.pid!]) - t0) / n) * 1e6);
  }
  process.stdout.write(`server with the stand-in filter, ${prepared.length} inbound messages × ${rounds} rounds, ${sessions} sessions: ${best.toFixed(0)} CPU µs / message (best round; /proc ticks, 10 ms resolution)\n`);
  child.stdin.end();
  await new Promise((r) => child.once('exit', r));
  process.exit(0);
}

// ----------------------------------------------------------------------------- the run
const corpus = await buildCorpus({ count: count * 2 });
const inbound = corpus.messages.filter((m) => m.direction === 'inbound').slice(0, count);
const wire = inbound.map((m, i) => chunksOf(m, i + 1));
const logger = createLogger({ level: 'warn', format: 'text', destination: 'stderr' }, new Writable({ write: (_c, _e, cb) => cb() }));
const metrics = registerMilterMetrics(new Registry());
let writes = 0;
let counter = 0;

function one(chunks: readonly Buffer[]): Promise<void> {
  return new Promise((resolve) => {
    const session: MilterSession = new MilterSession({
      id: `bench.${(++counter).toString(36)}`,
      factory,
      logger,
      metrics,
      transport: {
        write: () => void writes++,
        end: () => resolve(),
        pause: () => undefined,
        resume: () => undefined,
      },
    });
    metrics.sessions.inc();
    metrics.activeSessions.inc();
    void session.done.then(() => metrics.activeSessions.dec());
    // Each chunk as its own 'data' event, later ones after the session handled the earlier.
    let i = 0;
    const next = (): void => {
      if (i >= chunks.length) return;
      const c = chunks[i++]!;
      sessionScope.run(session, () => session.receive(c));
      setImmediate(next);
    };
    next();
  });
}

async function round(): Promise<{ cpuUs: number; writes: number }> {
  writes = 0;
  const t0 = process.cpuUsage();
  for (const w of wire) await one(w);
  const t = process.cpuUsage(t0);
  return { cpuUs: t.user + t.system, writes };
}

await round(); // warm-up (JIT)
let best = Infinity;
let w = 0;
for (let r = 0; r < rounds; r++) {
  const x = await round();
  best = Math.min(best, x.cpuUs);
  w = x.writes;
}
process.stdout.write(`${inbound.length} inbound messages, ${rounds} rounds: ${(best / inbound.length).toFixed(1)} CPU µs / message (best round), ${(w / inbound.length).toFixed(2)} writes / message\n`);

if (values.profile) {
  const s = new Session();
  s.connect();
  await s.post('Profiler.enable');
  await s.post('Profiler.start');
  await round();
  const { profile } = await s.post('Profiler.stop');
  const dir = new URL('./results/profiles/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const file = new URL(`milter-session-${Date.now()}.cpuprofile`, dir);
  writeFileSync(file, JSON.stringify(profile));
  process.stdout.write(`profile: ${file.pathname}\n`);
  s.disconnect();
}

if (values['heap-sample']) {
  const { total, byFunction } = await sampleHeap(round, 512);
  process.stdout.write(`allocated (sampled) ${(total / inbound.length / 1024).toFixed(1)} KiB per message; top functions:\n`);
  for (const [k, v] of byFunction.slice(0, 25)) process.stdout.write(`  ${((v / total) * 100).toFixed(1).padStart(5)} %  ${(v / inbound.length / 1024).toFixed(2).padStart(7)} KiB/msg  ${k}\n`);
}
