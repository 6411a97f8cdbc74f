/**
 * A seeded, structure-aware milter fuzzer: it builds conversations the way Postfix speaks
 * (OPTNEG, macros, CONNECT, HELO, MAIL, RCPT, DATA, headers, EOH, body, EOM, ABORT, QUIT),
 * then breaks them — commands reordered or repeated after EOM, body after EOM, oversized,
 * truncated and zero-length frames, lying length prefixes, unknown commands, huge and
 * binary macros, CR/LF/NUL and control characters in header names, odd OPTNEG versions,
 * flags and lengths, impossible connect addresses, byte flips, writes split at random
 * offsets — and sends each to the milter over a real socket. The same seed gives the same
 * conversations, so a failure can be replayed.
 *
 *   node attack/milter-fuzz.ts --target inet:127.0.0.1:8891 --seed 7 --minutes 10 [--pid PID]
 *   node attack/milter-fuzz.ts --self --seed 7 --minutes 10
 *      (--self: starts a hostile DNS server and `mailanchor milter` with the mail filter on it)
 *
 * After each batch a good session must complete (a whole message, a final reply); the report
 * gives sessions, frames, bytes, good-session failures, and the milter's RSS (with --pid or
 * --self) before and after.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cstrings, encodeFrame, uint32 } from '../src/milter/codec.ts';
import { SMFIC } from '../src/milter/constants.ts';
import { MilterClient, POSTFIX_OFFER, sendMessage, type SimpleMessage } from '../src/milter/mta-client.ts';
import { parseListenSpec } from '../src/config/schema.ts';
import { prng } from '../test/support/prng.ts';
import { startHostileDns, type HostileDns, type Rule, type Zone } from './hostile-dns.ts';

interface Rng {
  (): number;
  int(n: number): number;
  pick<T>(xs: readonly T[]): T;
  bytes(n: number): Buffer;
  chance(p: number): boolean;
}

function rng(seed: number): Rng {
  const r = prng(seed) as Rng;
  r.int = (n) => Math.floor(r() * n);
  r.pick = (xs) => xs[r.int(xs.length)]!;
  r.bytes = (n) => {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = r.int(256);
    return b;
  };
  r.chance = (p) => r() < p;
  return r;
}

export const MUTATIONS = [
  'reorder',
  'repeat-after-eom',
  'body-after-eom',
  'oversized-frame',
  'truncated',
  'zero-length',
  'lying-length',
  'unknown-command',
  'huge-macro',
  'binary-macro',
  'macro-flood',
  'bad-header-name',
  'odd-optneg',
  'bad-connect',
  'byte-flip',
  'second-optneg',
  'abort-anywhere',
  'quit-nc',
] as const;
export type Mutation = (typeof MUTATIONS)[number];

const nul = (...s: string[]): Buffer => Buffer.concat(s.map((x) => Buffer.from(`${x}\0`, 'latin1')));
const macro = (stage: number, pairs: Record<string, string>): Buffer => encodeFrame(SMFIC.MACRO, Buffer.concat([Buffer.from([stage]), ...Object.entries(pairs).map(([k, v]) => nul(k, v))]));

/** One Postfix-like conversation: a list of frames (each one encoded frame). */
function conversation(r: Rng): Buffer[] {
  const f: Buffer[] = [];
  f.push(encodeFrame(SMFIC.OPTNEG, Buffer.concat([uint32(POSTFIX_OFFER.version), uint32(POSTFIX_OFFER.actions), uint32(POSTFIX_OFFER.protocol)])));
  const messages = 1 + r.int(2);
  f.push(macro(SMFIC.CONNECT, { j: 'mx.anchor.test', '{daemon_name}': 'smtpd', '{client_addr}': '192.0.2.10' }));
  const ip = r.chance(0.2) ? '2001:db8::10' : '192.0.2.10';
  f.push(encodeFrame(SMFIC.CONNECT, Buffer.concat([nul('client.test'), Buffer.from(ip.includes(':') ? '6' : '4'), Buffer.from([0, 25]), nul(ip)])));
  f.push(encodeFrame(SMFIC.HELO, nul('client.test')));
  for (let m = 0; m < messages; m++) {
    const dom = r.pick(['fuzz.test', 'good.test', 'refused.test', 'servfail.test', 'slow.test']);
    f.push(macro(SMFIC.MAIL, { i: `Q${r.int(1e6)}`, '{auth_authen}': r.chance(0.1) ? 'user' : '' }));
    f.push(encodeFrame(SMFIC.MAIL, nul(`<a@${dom}>`, 'SIZE=100')));
    for (let i = 0; i < 1 + r.int(3); i++) f.push(encodeFrame(SMFIC.RCPT, nul(`<r${i}@anchor.test>`)));
    f.push(encodeFrame(SMFIC.DATA));
    const headers: Array<[string, string]> = [
      ['From', ` <a@${dom}>`],
      ['To', ' <r0@anchor.test>'],
      ['Subject', ` fuzz ${r.int(1000)}`],
      ['Authentication-Results', ' mx.anchor.test.; dmarc=pass'],
    ];
    if (r.chance(0.3)) headers.push(['DKIM-Signature', ` v=1; a=rsa-sha256; d=${dom}; s=sel; h=from; bh=${r.bytes(8).toString('base64')}; b=${r.bytes(16).toString('base64')}`]);
    for (const [n, v] of headers) f.push(encodeFrame(SMFIC.HEADER, nul(n, v)));
    f.push(encodeFrame(SMFIC.EOH));
    const chunks = r.int(3);
    for (let i = 0; i < chunks; i++) f.push(encodeFrame(SMFIC.BODY, Buffer.from(`${'body line\r\n'.repeat(1 + r.int(50))}`)));
    f.push(macro(SMFIC.BODYEOB, { i: 'Q1' }));
    f.push(encodeFrame(SMFIC.BODYEOB));
    f.push(encodeFrame(SMFIC.ABORT));
  }
  f.push(encodeFrame(SMFIC.QUIT));
  return f;
}

const isCommand = (frame: Buffer, c: number): boolean => frame.length >= 5 && frame[4] === c;

function mutate(frames: Buffer[], m: Mutation, r: Rng, maxFrame: number): Buffer[] {
  if (frames.length === 0) return frames;
  /** A place to insert at (never before OPTNEG). */
  const at = (): number => Math.min(frames.length, 1 + r.int(Math.max(1, frames.length - 1)));
  /** An existing frame (not OPTNEG when there are others). */
  const one = (): number => (frames.length > 1 ? 1 + r.int(frames.length - 1) : 0);
  const eom = frames.findIndex((x) => isCommand(x, SMFIC.BODYEOB));
  const insert = (i: number, ...x: Buffer[]): Buffer[] => [...frames.slice(0, i), ...x, ...frames.slice(i)];
  switch (m) {
    case 'reorder': {
      const a = one();
      const b = one();
      const out = [...frames];
      [out[a], out[b]] = [out[b]!, out[a]!];
      return out;
    }
    case 'repeat-after-eom':
      return eom < 0 ? frames : insert(eom + 1, encodeFrame(SMFIC.EOH), encodeFrame(SMFIC.BODYEOB), ...(r.chance(0.5) ? [encodeFrame(SMFIC.EOH)] : []));
    case 'body-after-eom':
      return eom < 0 ? frames : insert(eom + 1, encodeFrame(SMFIC.BODY, Buffer.from('late body\r\n')), encodeFrame(SMFIC.BODYEOB));
    case 'oversized-frame': {
      const head = Buffer.alloc(5);
      head.writeUInt32BE(maxFrame + 1 + r.int(1 << 20), 0);
      head[4] = SMFIC.BODY;
      return insert(at(), Buffer.concat([head, r.bytes(r.int(100))]));
    }
    case 'truncated': {
      const all = Buffer.concat(frames);
      return [all.subarray(0, r.int(all.length))];
    }
    case 'zero-length':
      return insert(at(), Buffer.from([0, 0, 0, 0]));
    case 'lying-length': {
      const i = one();
      const copy = Buffer.from(frames[i]!);
      if (copy.length >= 4) copy.writeUInt32BE(r.chance(0.5) ? r.int(copy.length) : copy.length + r.int(4096), 0);
      const out = [...frames];
      out[i] = copy;
      return out;
    }
    case 'unknown-command':
      return insert(at(), encodeFrame(r.pick([0x00, 0x20, 0x5a, 0x7f, 0xff, 0x61, 0x53]), r.bytes(r.int(64))));
    case 'huge-macro':
      return insert(at(), macro(r.pick([SMFIC.CONNECT, SMFIC.MAIL, SMFIC.RCPT, SMFIC.BODYEOB]), { '{x}': 'v'.repeat(Math.min(maxFrame - 64, 20_000 + r.int(100_000))) }));
    case 'binary-macro': {
      const bin = (): string => r.bytes(1 + r.int(200)).toString('latin1').replace(/\0/g, '\x01');
      return insert(at(), encodeFrame(SMFIC.MACRO, Buffer.concat([Buffer.from([r.chance(0.5) ? r.int(256) : SMFIC.MAIL]), nul(bin(), bin(), bin(), bin())])));
    }
    case 'macro-flood': {
      const flood = Array.from({ length: 100 + r.int(400) }, (_, i) => macro(SMFIC.RCPT, { [`{m${i}}`]: 'x'.repeat(r.int(300)) }));
      return insert(at(), ...flood);
    }
    case 'bad-header-name': {
      const name = r.pick(['Sub\rject', 'Sub\nject', 'X-\x01', 'Fr:om', ' ', '\x7f', `X-${r.bytes(4).toString('latin1').replace(/\0/g, '')}`]);
      const i = frames.findIndex((x) => isCommand(x, SMFIC.HEADER));
      return insert(i < 0 ? at() : i, encodeFrame(SMFIC.HEADER, nul(name, ' value')));
    }
    case 'odd-optneg': {
      const version = r.pick([0, 1, 2, 6, 7, 0xffffffff]);
      let payload = Buffer.concat([uint32(version), uint32(r.int(2 ** 32)), uint32(r.int(2 ** 32))]);
      if (r.chance(0.3)) payload = r.chance(0.5) ? payload.subarray(0, 11) : Buffer.concat([payload, Buffer.from([0])]);
      return [encodeFrame(SMFIC.OPTNEG, payload), ...frames.slice(1)];
    }
    case 'bad-connect': {
      const i = frames.findIndex((x) => isCommand(x, SMFIC.CONNECT));
      const payload = r.pick([
        Buffer.concat([nul('h'), Buffer.from('4'), Buffer.from([0, 25]), nul('999.1.1.1')]),
        Buffer.concat([nul('h'), Buffer.from('6'), Buffer.from([0, 25]), nul('IPv6:::zz')]),
        Buffer.concat([nul('h'), Buffer.from('Z'), Buffer.from([0, 25]), nul('x')]),
        Buffer.concat([nul('h'), Buffer.from('4')]),
        Buffer.concat([nul('x'.repeat(300)), Buffer.from('4'), Buffer.from([0, 25]), nul('192.0.2.1')]),
        Buffer.concat([nul('h'), Buffer.from('L'), Buffer.from([0, 0]), nul('/tmp/sock')]),
      ]);
      const out = [...frames];
      if (i >= 0) out[i] = encodeFrame(SMFIC.CONNECT, payload);
      return out;
    }
    case 'byte-flip': {
      const i = one();
      const copy = Buffer.from(frames[i]!);
      for (let k = 0; k < 1 + r.int(4); k++) if (copy.length > 4) copy[4 + r.int(copy.length - 4)] = r.int(256);
      const out = [...frames];
      out[i] = copy;
      return out;
    }
    case 'second-optneg':
      return insert(at(), frames[0]!);
    case 'abort-anywhere':
      return insert(at(), encodeFrame(SMFIC.ABORT));
    case 'quit-nc':
      return insert(at(), encodeFrame(SMFIC.QUIT_NC));
  }
}

export interface FuzzCase {
  readonly bytes: Buffer;
  readonly frames: number;
  readonly mutations: readonly Mutation[];
  /** Split the write at these offsets (partial frames on the wire). */
  readonly splits: readonly number[];
}

/** The `n`-th conversation of a seed: deterministic. */
export function fuzzCase(seed: number, n: number, maxFrame: number): FuzzCase {
  const r = rng((seed * 0x9e3779b1 + n) >>> 0);
  let frames = conversation(r);
  const mutations: Mutation[] = [];
  const count = r.chance(0.1) ? 0 : 1 + r.int(3);
  for (let i = 0; i < count; i++) {
    const m = r.pick(MUTATIONS);
    mutations.push(m);
    frames = mutate(frames, m, r, maxFrame);
  }
  const bytes = Buffer.concat(frames);
  const splits = r.chance(0.2) ? Array.from({ length: 1 + r.int(5) }, () => r.int(bytes.length)).sort((a, b) => a - b) : [];
  return { bytes, frames: frames.length, mutations, splits };
}

/** Sends one case and waits (bounded) for the milter to close the connection. */
function runCase(target: string, c: FuzzCase, timeoutMs: number): Promise<void> {
  const spec = parseListenSpec(target);
  if (!spec) throw new Error(`bad target ${target}`);
  return new Promise((resolve) => {
    const s: Socket = spec.kind === 'unix' ? createConnection({ path: spec.path }) : createConnection({ host: spec.host, port: spec.port });
    const timer = setTimeout(() => s.destroy(), timeoutMs);
    s.on('data', () => undefined); // read and drop the replies
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
    s.on('connect', async () => {
      let from = 0;
      for (const to of [...c.splits, c.bytes.length]) {
        if (s.destroyed) return;
        s.write(c.bytes.subarray(from, to));
        from = to;
        if (to < c.bytes.length) await new Promise((r) => setTimeout(r, 1));
      }
      if (!s.destroyed) s.end();
    });
  });
}

export const GOOD_MESSAGE: SimpleMessage = {
  client: { hostname: 'mail.good.test', address: '192.0.2.10' },
  helo: 'mail.good.test',
  from: 'alice@good.test',
  rcpts: ['bob@anchor.test'],
  headers: [
    ['From', ' <alice@good.test>'],
    ['To', ' <bob@anchor.test>'],
    ['Subject', ' a good message between fuzz batches'],
  ],
  body: 'Hello.\r\n',
  macros: { connect: { j: 'mx.anchor.test' } },
};

/** One whole good message; true when it gets a final reply. */
export async function goodSession(target: string, timeoutMs = 15_000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const attempt = (async () => {
    const c = await MilterClient.connect(target);
    try {
      await c.negotiate();
      const r = await sendMessage(c, GOOD_MESSAGE);
      c.quit();
      return Boolean(r.eom);
    } finally {
      c.destroy();
    }
  })();
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  try {
    return await Promise.race([attempt.catch(() => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface FuzzOptions {
  readonly target: string;
  readonly seed: number;
  /** Stop after this many sessions or this long, whichever first. */
  readonly sessions?: number;
  readonly durationMs?: number;
  readonly batchSize?: number;
  readonly concurrency?: number;
  /** The milter's max_frame, for frames just over it. Default 1 MiB. */
  readonly maxFrame?: number;
  readonly caseTimeoutMs?: number;
  /** Called after each batch's good session. */
  readonly onBatch?: (b: { readonly batch: number; readonly sessions: number; readonly good: boolean }) => void | Promise<void>;
}

export interface FuzzReport {
  readonly seed: number;
  readonly sessions: number;
  readonly frames: number;
  readonly bytes: number;
  readonly batches: number;
  readonly goodSessions: number;
  readonly goodFailures: number;
  readonly mutations: Readonly<Record<string, number>>;
  readonly ms: number;
}

export async function runFuzz(o: FuzzOptions): Promise<FuzzReport> {
  const started = Date.now();
  const maxSessions = o.sessions ?? Infinity;
  const deadline = o.durationMs === undefined ? Infinity : started + o.durationMs;
  const batchSize = o.batchSize ?? 50;
  const concurrency = o.concurrency ?? 10;
  const maxFrame = o.maxFrame ?? 1024 * 1024;
  const mutations: Record<string, number> = {};
  let sessions = 0;
  let frames = 0;
  let bytes = 0;
  let batches = 0;
  let goodSessions = 0;
  let goodFailures = 0;
  while (sessions < maxSessions && Date.now() < deadline) {
    const n = Math.min(batchSize, maxSessions - sessions);
    let next = 0;
    const base = sessions;
    await Promise.all(
      Array.from({ length: Math.min(concurrency, n) }, async () => {
        while (next < n) {
          const c = fuzzCase(o.seed, base + next++, maxFrame);
          frames += c.frames;
          bytes += c.bytes.length;
          for (const m of c.mutations) mutations[m] = (mutations[m] ?? 0) + 1;
          await runCase(o.target, c, o.caseTimeoutMs ?? 3000);
        }
      }),
    );
    sessions += n;
    batches++;
    const good = await goodSession(o.target);
    if (good) goodSessions++;
    else goodFailures++;
    await o.onBatch?.({ batch: batches, sessions, good });
  }
  return { seed: o.seed, sessions, frames, bytes, batches, goodSessions, goodFailures, mutations, ms: Date.now() - started };
}

/** VmRSS of a process in MiB, from /proc. */
export function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** The zone and faults `--self` runs against: good.test passes; the others fail in DNS. */
export const SELF_DNS: { readonly zone: Zone; readonly rules: readonly Rule[] } = {
  zone: {
    'good.test': { TXT: ['v=spf1 ip4:192.0.2.10 -all'] },
    '_dmarc.good.test': { TXT: ['v=DMARC1; p=reject'] },
    'fuzz.test': { TXT: ['v=spf1 ptr include:dead.fuzz.test -all'] },
    '_dmarc.fuzz.test': { TXT: ['v=DMARC1; p=reject'] },
    'refused.test': { TXT: ['v=spf1 -all'] },
    'servfail.test': { TXT: ['v=spf1 -all'] },
    'slow.test': { TXT: ['v=spf1 mx -all'] },
  },
  rules: [
    { name: /^_dmarc\.refused\.test$/, fault: { kind: 'rcode', rcode: 'REFUSED' } },
    { name: 'dead.fuzz.test', fault: { kind: 'rcode', rcode: 'REFUSED' } },
    { name: /servfail\.test$/, fault: { kind: 'rcode', rcode: 'SERVFAIL' } },
    { name: /in-addr\.arpa$/, delayMs: 300 },
    { name: 'slow.test', type: 'MX', delayMs: 800 },
  ],
};

/**
 * Asks a Node process with `--inspect` for a full GC and then its memory figures (the
 * inspector protocol over its loopback WebSocket): what is still reachable after the run,
 * as opposed to RSS, which keeps what malloc and V8 do not give back to the system.
 */
async function heapAfterGc(url: string): Promise<{ heapUsedMiB: number; rssMiB: number; externalMiB: number }> {
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve(), { once: true });
    ws.addEventListener('error', () => reject(new Error(`cannot reach the inspector at ${url}`)), { once: true });
  });
  let id = 0;
  const call = (method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> =>
    new Promise((resolve) => {
      const mine = ++id;
      const onMessage = (ev: MessageEvent): void => {
        const m = JSON.parse(String(ev.data)) as { id?: number; result?: Record<string, unknown> };
        if (m.id !== mine) return;
        ws.removeEventListener('message', onMessage);
        resolve(m.result ?? {});
      };
      ws.addEventListener('message', onMessage);
      ws.send(JSON.stringify({ id: mine, method, params }));
    });
  try {
    await call('HeapProfiler.collectGarbage');
    await call('HeapProfiler.collectGarbage');
    const r = await call('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true });
    const mem = JSON.parse(String((r['result'] as { value?: unknown } | undefined)?.value ?? '{}')) as { heapUsed: number; rss: number; external: number };
    return { heapUsedMiB: mem.heapUsed / 1048576, rssMiB: mem.rss / 1048576, externalMiB: mem.external / 1048576 };
  } finally {
    ws.close();
  }
}

export interface SelfMilter {
  readonly target: string;
  readonly pid: number;
  readonly dns: HostileDns;
  stop(): Promise<void>;
  output(): string;
  exited(): boolean;
  /** With `inspect`: a full GC in the milter, then its heap in use (MiB). */
  heapAfterGc(): Promise<{ heapUsedMiB: number; rssMiB: number; externalMiB: number }>;
}

/**
 * `--self`: a hostile DNS server and the real milter CLI (mail filter) on it, with the V8
 * flags bin/mailanchor uses in production; `inspect` adds `--inspect=127.0.0.1:0` so the
 * heap can be measured after a forced GC.
 */
export async function startSelf(options: { readonly maxFrame?: number; readonly inspect?: boolean } = {}): Promise<SelfMilter> {
  const dir = await mkdtemp(join(tmpdir(), 'mailanchor-fuzz-'));
  const dns = await startHostileDns({ zone: SELF_DNS.zone, rules: [...SELF_DNS.rules] });
  const config = join(dir, 'mailanchor.yml');
  const sock = join(dir, 'milter.sock');
  await writeFile(config, ['milter:', `  max_frame: ${options.maxFrame ?? 1024 * 1024}`, 'store:', `  path: ${join(dir, 'state.db')}`, 'dns:', '  timeout: 500ms', '  attempts: 1', 'inbound:', '  authserv_id: mx.anchor.test', 'log:', '  level: warn', ''].join('\n'));
  const main = new URL('../src/cli/main.ts', import.meta.url).pathname;
  const flags = ['--max-semi-space-size=2', ...(options.inspect ? ['--inspect=127.0.0.1:0'] : [])];
  const child = spawn(process.execPath, [...flags, main, 'milter', '--config', config, '--dns', `${dns.server.host}:${dns.server.port}`, '--listen', `unix:${sock}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let inspector: string | undefined;
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => {
    const text = d.toString();
    inspector ??= /ws:\/\/127\.0\.0\.1:\d+\/[\w-]+/.exec(text)?.[0];
    out = (out + text).slice(-1_000_000);
  });
  for (let i = 0; i < 200 && !/milter listening on/.test(out); i++) {
    if (child.exitCode !== null) throw new Error(`milter exited: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!/milter listening on/.test(out)) throw new Error(`milter did not start: ${out}`);
  return {
    target: `unix:${sock}`,
    pid: child.pid!,
    dns,
    output: () => out,
    exited: () => child.exitCode !== null || child.signalCode !== null,
    heapAfterGc: () => {
      if (!inspector) throw new Error('started without inspect');
      return heapAfterGc(inspector);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await gone;
        clearTimeout(kill);
      }
      await dns.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      target: { type: 'string' },
      self: { type: 'boolean' },
      seed: { type: 'string', default: '1' },
      minutes: { type: 'string', default: '1' },
      sessions: { type: 'string' },
      concurrency: { type: 'string', default: '10' },
      pid: { type: 'string' },
      'max-frame': { type: 'string', default: String(1024 * 1024) },
    },
  });
  const maxFrame = Number(values['max-frame']);
  const self = values.self ? await startSelf({ maxFrame, inspect: true }) : undefined;
  const target = self?.target ?? values.target;
  if (!target) throw new Error('--target or --self is needed');
  const pid = self?.pid ?? (values.pid ? Number(values.pid) : undefined);
  try {
    // Warm up: JIT, caches, the first sessions' allocations, before the baseline is taken.
    for (let i = 0; i < 20; i++) await goodSession(target);
    await new Promise((r) => setTimeout(r, 2000));
    const heapBefore = self ? await self.heapAfterGc() : undefined;
    const rssBefore = pid ? rssMiB(pid) : undefined;
    console.log(`fuzzing ${target} seed ${values.seed} for ${values.minutes} min${rssBefore !== undefined ? `, milter RSS ${rssBefore.toFixed(1)} MiB` : ''}`);
    const report = await runFuzz({
      target,
      seed: Number(values.seed),
      durationMs: Number(values.minutes) * 60_000,
      ...(values.sessions ? { sessions: Number(values.sessions) } : {}),
      concurrency: Number(values.concurrency),
      maxFrame,
      onBatch: (b) => {
        if (b.batch % 20 === 0) console.log(`  ${b.sessions} sessions, good session ${b.good ? 'ok' : 'FAILED'}${pid ? `, RSS ${rssMiB(pid).toFixed(1)} MiB` : ''}`);
        if (self?.exited()) throw new Error(`the milter exited:\n${self.output().slice(-4000)}`);
      },
    });
    await new Promise((r) => setTimeout(r, 5000)); // let sessions close and memory settle
    const rssAfter = pid ? rssMiB(pid) : undefined;
    const crashed = self ? self.exited() : false;
    const heapAfter = self && !crashed ? await self.heapAfterGc() : undefined;
    const rssAfterGc = self && !crashed && pid ? rssMiB(pid) : undefined;
    console.log(
      JSON.stringify(
        { ...report, crashes: crashed ? 1 : 0, rssBeforeMiB: rssBefore, rssAfterMiB: rssAfter, rssAfterGcMiB: rssAfterGc, heapUsedAfterGcBeforeMiB: heapBefore?.heapUsedMiB, heapUsedAfterGcAfterMiB: heapAfter?.heapUsedMiB },
        null,
        2,
      ),
    );
  } finally {
    await self?.stop();
  }
}

if (import.meta.main) await main();
