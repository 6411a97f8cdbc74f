/**
 * `npm run bench`: mailanchor against OpenDKIM + OpenDMARC and rspamd, side by side, in one
 * session. One corpus, one DNS server (Knot on loopback), the same MTA-side driver
 * (bench/chain-driver.ts, speaking milter v6 as Postfix does) for every peer; cells alternate
 * between peers (for each workload and session count, every peer in turn) so drift in the
 * machine hits all of them alike. Prints one Markdown table and writes it, with the raw JSON,
 * to bench/results/.
 *
 * Options: --peers a,b (mailanchor, opendkim+opendmarc, rspamd), --quick (a tenth of the
 * counts; a smoke run), --skip-big, --skip-idle, --profile (mailanchor under `node --cpu-prof`),
 * --workers N (mailanchor's milter.workers, default 1), --workloads inbound,outbound (a subset), --attach HOST:PORT:PID (measure a mailanchor milter started by hand, e.g. with another
 * config, instead of starting one; give it `dns.servers: [127.77.0.53]` and run with
 * --dns-address 127.77.0.53 so the bench Knot answers there), --store postgres (mailanchor's
 * store in a PostgreSQL started for the run, as a fleet host has it; default: its SQLite file).
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { bigMessageSigned, buildCorpus, type BenchMessage } from './corpus.ts';
import { holdSession, sendThroughChain, splitMessage } from './chain-driver.ts';
import { startBenchDns } from './dns.ts';
import { startOpendkimOpendmarc, startRspamd, type RunningPeer } from './peers.ts';
import { startMailanchor, mailanchorMissing } from './mailanchor-peer.ts';
import { cpuSeconds, peakRssMiB, resetPeakRss, rssMiB, samplePeakPss } from './proc-stats.ts';
import { startPostgres, type PostgresServer } from '../test/support/postgres.ts';

/**
 * `outbound-small`: the outbound messages under 20 KB only, at 50 and 500 sessions — there the
 * RSA-2048 signature is most of the work, which is what the signing-ceiling ratio is about.
 */
type Workload = 'inbound' | 'outbound' | 'mixed' | 'outbound-small';

/** Messages per cell (bounded by count and by time, whichever comes first). */
const CELL = {
  1: { count: 300, capMs: 8_000 },
  50: { count: 3_000, capMs: 12_000 },
  500: { count: 4_000, capMs: 15_000 },
} as const;
const SESSIONS = [1, 50, 500] as const;
const WORKLOADS: readonly Workload[] = ['inbound', 'outbound', 'mixed', 'outbound-small'];
const BIG_BYTES = 50 * 1024 * 1024;

interface CellResult {
  peer: string;
  workload: Workload;
  sessions: number;
  messages: number;
  errors: number;
  seconds: number;
  msgsPerSec: number;
  p50: number;
  p99: number;
  p999: number;
  peakRssMiB: number;
  /** Highest sampled (every 200 ms) sum of Pss over the tree. */
  peakPssMiB: number;
  cpuPer1000: number;
  /** CPU the driver itself used (it shares the machine). */
  driverCpuPer1000: number;
  /** Queries the DNS server answered during the cell, per 1,000 messages (warm caches). */
  dnsPer1000: number;
  /** 1-minute load average at the end of the cell (the bench itself adds ~1.5–2 on two cores). */
  load1: number;
  firstError?: string;
}

/** A milter started elsewhere (`--attach HOST:PORT:PID`): driven and measured, not started or stopped. */
function attachedPeer(spec: string): RunningPeer {
  const m = /^(.+):(\d+):(\d+)$/.exec(spec);
  if (!m) throw new Error(`--attach expects HOST:PORT:PID, got ${spec}`);
  const pid = Number(m[3]);
  return { name: 'mailanchor', chain: [{ host: m[1]!, port: Number(m[2]) }], processes: [{ pid } as ChildProcess], stop: async () => {} };
}

function quantile(sorted: readonly number[], q: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function pids(peer: RunningPeer): number[] {
  return peer.processes.map((p) => p.pid).filter((p): p is number => typeof p === 'number');
}

type Prepared = { m: BenchMessage; p: ReturnType<typeof splitMessage> };

async function runCell(peer: RunningPeer, workload: Workload, msgs: readonly Prepared[], sessions: number, count: number, capMs: number, dnsQueries: () => number): Promise<CellResult> {
  const roots = pids(peer);
  const q0 = dnsQueries();
  resetPeakRss(roots);
  const cpu0 = cpuSeconds(roots);
  const self0 = process.cpuUsage();
  const stopPss = samplePeakPss(roots);
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  const deadline = t0 + capMs;
  const loop = async (): Promise<void> => {
    while (next < count && performance.now() < deadline) {
      const item = msgs[next++ % msgs.length]!;
      const s = performance.now();
      try {
        const out = await sendThroughChain(peer.chain, item.m, item.p);
        if (out.verdict !== 'c' && out.verdict !== 'a') throw new Error(`verdict ${out.verdict}`);
        latencies.push(performance.now() - s);
      } catch (e) {
        errors++;
        firstError ??= (e as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: sessions }, loop));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(roots) - cpu0;
  const self = process.cpuUsage(self0);
  const peakPss = stopPss();
  const n = latencies.length;
  latencies.sort((a, b) => a - b);
  const r: CellResult = {
    peer: peer.name,
    workload,
    sessions,
    messages: n,
    errors,
    seconds,
    msgsPerSec: n / seconds,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    p999: quantile(latencies, 0.999),
    peakRssMiB: peakRssMiB(roots),
    peakPssMiB: peakPss,
    cpuPer1000: n ? (cpu / n) * 1000 : NaN,
    driverCpuPer1000: n ? ((self.user + self.system) / 1e6 / n) * 1000 : NaN,
    dnsPer1000: n ? ((dnsQueries() - q0) / n) * 1000 : NaN,
    load1: loadavg()[0]!,
  };
  if (firstError !== undefined) r.firstError = firstError;
  return r;
}

interface PacedResult {
  peer: string;
  workload: Workload;
  targetPerSec: number;
  achievedPerSec: number;
  messages: number;
  p50: number;
  p99: number;
  p999: number;
  errors: number;
  load1: number;
}

/**
 * Open-loop load: messages start at a fixed rate whatever the milter does (as SMTP clients
 * arrive), each on its own session; latency is from its start to the final reply. Used at
 * half of the peer's own best closed-loop throughput: "p99 added latency at half load".
 */
async function runPaced(peer: RunningPeer, workload: Workload, msgs: readonly Prepared[], ratePerSec: number, durationMs: number): Promise<PacedResult> {
  const latencies: number[] = [];
  const inFlight: Promise<void>[] = [];
  let errors = 0;
  const t0 = performance.now();
  const total = Math.max(1, Math.floor((ratePerSec * durationMs) / 1000));
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / ratePerSec;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const item = msgs[i % msgs.length]!;
    const s = performance.now();
    inFlight.push(
      sendThroughChain(peer.chain, item.m, item.p).then(
        (out) => {
          if (out.verdict !== 'c' && out.verdict !== 'a') errors++;
          else latencies.push(performance.now() - s);
        },
        () => void errors++,
      ),
    );
  }
  await Promise.all(inFlight);
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return { peer: peer.name, workload, targetPerSec: ratePerSec, achievedPerSec: latencies.length / seconds, messages: latencies.length, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), p999: quantile(latencies, 0.999), errors, load1: loadavg()[0]! };
}

/** `openssl speed` sign/s for one algorithm on one core. */
function opensslSignPerSec(alg: 'rsa2048' | 'ed25519', seconds: number): number {
  const out = execFileSync('openssl', ['speed', '-seconds', String(seconds), alg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const line = out.split('\n').find((l) => (alg === 'rsa2048' ? /^rsa\s+2048 bits/.test(l) : /Ed25519\)/.test(l)));
  if (!line) throw new Error(`openssl speed ${alg}: no result line`);
  const nums = line.trim().split(/\s+/).map(Number).filter((x) => Number.isFinite(x));
  // rsa: "rsa 2048 bits 0.000712s 0.000021s 1404.5 47619.0" → sign/s is the 2nd-last number;
  // ed25519: "253 bits EdDSA (Ed25519) 0.0000s 0.0001s 25000.0 9000.0" → same position.
  return nums[nums.length - 2]!;
}

const fmt = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : '—');

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { peers: { type: 'string' }, quick: { type: 'boolean' }, 'skip-big': { type: 'boolean' }, 'skip-idle': { type: 'boolean' }, profile: { type: 'boolean' }, workers: { type: 'string' }, workloads: { type: 'string' }, attach: { type: 'string' }, 'dns-address': { type: 'string' }, store: { type: 'string' } } });
  const scale = values.quick ? 0.1 : 1;
  const wanted = values.peers?.split(',') ?? ['mailanchor', 'opendkim+opendmarc', 'rspamd'];
  const started = new Date();
  const resultsDir = join(import.meta.dirname, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'mailanchor-bench-'));
  const log = (s: string): void => void process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
  const machine = { cores: cpus().length, cpu: cpus()[0]?.model ?? '?', memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, store: values.store ?? 'sqlite' };

  log('signing ceiling: openssl speed -seconds 3 rsa2048 / ed25519 (one core, machine idle)');
  const rsaSign = opensslSignPerSec('rsa2048', values.quick ? 1 : 3);
  const edSign = opensslSignPerSec('ed25519', values.quick ? 1 : 3);

  log('corpus');
  const corpus = await buildCorpus({ count: 400 });
  const prepared = corpus.messages.map((m) => ({ m, p: splitMessage(m) }));
  const byWorkload: Record<Workload, Prepared[]> = {
    inbound: prepared.filter((x) => x.m.direction === 'inbound'),
    outbound: prepared.filter((x) => x.m.direction === 'outbound'),
    mixed: prepared,
    'outbound-small': prepared.filter((x) => x.m.direction === 'outbound' && x.m.raw.length < 20 * 1024),
  };
  const sizes = corpus.messages.map((m) => m.raw.length);
  const corpusInfo = { messages: sizes.length, meanBytes: Math.round(sizes.reduce((a, b) => a + b, 0) / sizes.length), minBytes: Math.min(...sizes), maxBytes: Math.max(...sizes) };

  log('dns (knot)');
  const dns = await startBenchDns(join(work, 'dns'), corpus.keys, values['dns-address']);
  log(`dns at ${dns.address}:53`);
  const peers: RunningPeer[] = [];
  const notRun: Record<string, string> = {};
  let pg: PostgresServer | undefined;
  try {
    let storeUrl: string | undefined;
    if (values.store === 'postgres') {
      log('postgresql (test/support/postgres.ts)');
      pg = await startPostgres();
      storeUrl = pg.url(await pg.createDatabase('bench'));
    } else if (values.store !== undefined && values.store !== 'sqlite') throw new Error(`--store ${values.store}: expected sqlite or postgres`);
    const env = (name: string) => ({ runDir: join(work, name), dnsAddress: dns.address, keysDir: corpus.keysDir });
    log(`starting peers: ${wanted.join(', ')}`);
    const starts: Promise<void>[] = [];
    for (const name of wanted) {
      if (name === 'mailanchor' && values.attach) {
        peers.push(attachedPeer(values.attach));
        continue;
      }
      if (name === 'mailanchor') {
        const missing = mailanchorMissing();
        if (missing) {
          notRun[name] = missing;
          continue;
        }
        // --profile: V8 CPU profile of the whole run, written when mailanchor stops
        // (summarise with `node bench/profile-summary.ts bench/results/profiles/*.cpuprofile`).
        const prof = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${join(resultsDir, 'profiles')}`] : [];
        starts.push(startMailanchor(env(name), corpus, prof, Number(values.workers ?? 1), storeUrl).then((p) => void peers.push(p)));
      } else if (name === 'opendkim+opendmarc') starts.push(startOpendkimOpendmarc(env('opendkim')).then((p) => void peers.push(p)));
      else if (name === 'rspamd') starts.push(startRspamd(env('rspamd')).then((p) => void peers.push(p)));
    }
    const settled = await Promise.allSettled(starts);
    settled.forEach((s, i) => {
      if (s.status === 'rejected') notRun[`start #${i}`] = String((s.reason as Error).message);
    });
    peers.sort((a, b) => wanted.indexOf(a.name) - wanted.indexOf(b.name));
    for (const [k, v] of Object.entries(notRun)) log(`NOT RUN ${k}: ${v}`);

    log('warm-up: every corpus message once through every peer (fills DNS caches)');
    const coldDns: Record<string, number> = {};
    for (const peer of peers) {
      let bad = 0;
      const q0 = dns.queries();
      for (const x of prepared) {
        const o = await sendThroughChain(peer.chain, x.m, x.p).catch((e: Error) => ({ verdict: e.message, added: [] }));
        if (o.verdict !== 'c' && o.verdict !== 'a') bad++;
      }
      coldDns[peer.name] = ((dns.queries() - q0) / prepared.length) * 1000;
      log(`  ${peer.name}: ${prepared.length - bad}/${prepared.length} accepted, ${fmt(coldDns[peer.name]!, 0)} DNS queries per 1,000 messages (cold cache)`);
    }

    const cells: CellResult[] = [];
    const workloads = values.workloads ? WORKLOADS.filter((w) => values.workloads!.split(',').includes(w)) : WORKLOADS;
    for (const workload of workloads) {
      for (const sessions of SESSIONS) {
        if (workload === 'outbound-small' && sessions === 1) continue;
        for (const peer of peers) {
          const c = CELL[sessions];
          const r = await runCell(peer, workload, byWorkload[workload], sessions, Math.ceil(c.count * scale), Math.ceil(c.capMs * scale), () => dns.queries());
          log(`  ${peer.name} ${workload} ×${sessions}: ${r.messages} msgs ${fmt(r.msgsPerSec)} msg/s p99 ${fmt(r.p99)} ms rss ${fmt(r.peakRssMiB)} MiB load ${fmt(r.load1, 1)}${r.errors ? ` errors ${r.errors} (${r.firstError})` : ''}`);
          cells.push(r);
        }
      }
    }

    // Half load: each peer at half of its own best closed-loop rate for the workload.
    const paced: PacedResult[] = [];
    for (const workload of (['inbound', 'outbound'] as const).filter((w) => workloads.includes(w))) {
      for (const peer of peers) {
        const best = Math.max(...cells.filter((c) => c.peer === peer.name && c.workload === workload).map((c) => c.msgsPerSec));
        if (!Number.isFinite(best) || best <= 0) continue;
        const r = await runPaced(peer, workload, byWorkload[workload], best / 2, Math.ceil(10_000 * scale));
        log(`  half load ${peer.name} ${workload}: ${fmt(r.targetPerSec)} msg/s offered, p50 ${fmt(r.p50, 2)} p99 ${fmt(r.p99, 2)} ms load ${fmt(r.load1, 1)}${r.errors ? ` errors ${r.errors}` : ''}`);
        paced.push(r);
      }
    }

    const big: { peer: string; direction: string; idleRssMiB: number; peakRssMiB: number; seconds: number; verdict: string }[] = [];
    if (!values['skip-big']) {
      for (const direction of ['inbound', 'outbound'] as const) {
        const m = await bigMessageSigned(direction, BIG_BYTES, corpus.keys);
        const p = splitMessage(m);
        for (const peer of peers) {
          const roots = pids(peer);
          resetPeakRss(roots);
          const idle = rssMiB(roots);
          const t = performance.now();
          const o = await sendThroughChain(peer.chain, m, p).catch((e: Error) => ({ verdict: e.message, added: [] }));
          big.push({ peer: peer.name, direction, idleRssMiB: idle, peakRssMiB: peakRssMiB(roots), seconds: (performance.now() - t) / 1000, verdict: o.verdict });
          log(`  50 MB ${direction} ${peer.name}: idle ${fmt(idle)} → peak ${fmt(peakRssMiB(roots))} MiB in ${fmt((performance.now() - t) / 1000, 2)} s (${o.verdict})`);
        }
      }
    }

    const idleRows: { peer: string; idle: number; active: number; peakRssMiB: number; msgsPerSec: number; p99: number }[] = [];
    if (!values['skip-idle']) {
      for (const peer of peers) {
        const roots = pids(peer);
        resetPeakRss(roots);
        const closers: (() => void)[] = [];
        const idleN = 950;
        try {
          for (let i = 0; i < idleN; i += 50) {
            const batch = await Promise.all(Array.from({ length: 50 }, (_, k) => holdSession(peer.chain, prepared[(i + k) % prepared.length]!.m)));
            closers.push(...batch);
          }
          const r = await runCell(peer, 'mixed', byWorkload.mixed, 50, Math.ceil(1000 * scale), Math.ceil(10_000 * scale), () => dns.queries());
          idleRows.push({ peer: peer.name, idle: idleN, active: 50, peakRssMiB: peakRssMiB(roots), msgsPerSec: r.msgsPerSec, p99: r.p99 });
          log(`  1000 sessions ${peer.name}: peak ${fmt(peakRssMiB(roots))} MiB, ${fmt(r.msgsPerSec)} msg/s while ${idleN} idle`);
        } catch (e) {
          notRun[`1000 sessions ${peer.name}`] = (e as Error).message;
        } finally {
          for (const c of closers) c();
        }
      }
    }

    const finished = new Date();
    const report = renderMarkdown({ started, finished, machine, rsaSign, edSign, corpusInfo, cells, coldDns, paced, big, idleRows, notRun, scale });
    process.stdout.write(report);
    const stamp = started.toISOString().replace(/[:.]/g, '-');
    writeFileSync(join(resultsDir, `bench-${stamp}.json`), JSON.stringify({ started, finished, machine, ceiling: { rsa2048SignPerSecOneCore: rsaSign, ed25519SignPerSecOneCore: edSign }, corpus: corpusInfo, cells, coldDns, paced, big, idleRows, notRun, scale }, null, 2));
    writeFileSync(join(resultsDir, `bench-${stamp}.md`), report);
    writeFileSync(join(resultsDir, 'latest.md'), report);
    log(`written bench/results/bench-${stamp}.{json,md}`);
  } finally {
    for (const p of peers) await p.stop();
    await pg?.stop();
    await dns.stop();
    // Keep the filled-in configs and the peers' logs for inspection, then drop the rest.
    const keep = join(resultsDir, 'last-run');
    rmSync(keep, { recursive: true, force: true });
    cpSync(work, keep, { recursive: true, filter: (src) => !/\/(db|zones)(\/|$)|\.sock$/.test(src) });
    rmSync(work, { recursive: true, force: true });
  }
}

interface ReportData {
  started: Date;
  finished: Date;
  machine: { cores: number; cpu: string; memoryGiB: number; node: string; store: string };
  rsaSign: number;
  edSign: number;
  corpusInfo: { messages: number; meanBytes: number; minBytes: number; maxBytes: number };
  cells: CellResult[];
  coldDns: Record<string, number>;
  paced: PacedResult[];
  big: { peer: string; direction: string; idleRssMiB: number; peakRssMiB: number; seconds: number; verdict: string }[];
  idleRows: { peer: string; idle: number; active: number; peakRssMiB: number; msgsPerSec: number; p99: number }[];
  notRun: Record<string, string>;
  scale: number;
}

function renderMarkdown(d: ReportData): string {
  const L: string[] = [];
  L.push(`## Benchmark ${d.started.toISOString().slice(0, 16).replace('T', ' ')} UTC (${Math.round((d.finished.getTime() - d.started.getTime()) / 1000)} s${d.scale !== 1 ? `, --quick ×${d.scale}` : ''})`, '');
  L.push(`Machine: ${d.machine.cores} cores (${d.machine.cpu}), ${d.machine.memoryGiB} GiB; Node ${d.machine.node}. mailanchor store: ${d.machine.store}. Command: \`npm run bench\`.`, '');
  L.push(`Corpus: ${d.corpusInfo.messages} messages (half inbound, half outbound), ${d.corpusInfo.minBytes}–${d.corpusInfo.maxBytes} bytes, mean ${d.corpusInfo.meanBytes}.`, '');
  L.push('Load: the 1-minute load average at the end of each cell (the bench itself adds about 1.5–2 on two cores; more means other work shared the machine).', '');
  L.push('| peer | workload | sessions | messages | msg/s | p50 ms | p99 ms | p99.9 ms | peak RSS MiB | peak PSS MiB | CPU s / 1000 msg | driver CPU s / 1000 | DNS q / 1000 msg | errors | load |');
  L.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const c of d.cells) L.push(`| ${c.peer} | ${c.workload} | ${c.sessions} | ${c.messages} | ${fmt(c.msgsPerSec)} | ${fmt(c.p50, 2)} | ${fmt(c.p99, 2)} | ${fmt(c.p999, 2)} | ${fmt(c.peakRssMiB)} | ${fmt(c.peakPssMiB)} | ${fmt(c.cpuPer1000, 2)} | ${fmt(c.driverCpuPer1000, 2)} | ${fmt(c.dnsPer1000, 0)} | ${c.errors} | ${fmt(c.load1, 1)} |`);
  L.push('');
  if (Object.keys(d.coldDns).length) {
    L.push(`DNS queries per 1,000 messages with a cold cache (the warm-up pass, all ${d.corpusInfo.messages} corpus messages once): ${Object.entries(d.coldDns).map(([p, q]) => `${p} ${fmt(q, 0)}`).join(', ')}.`, '');
  }
  if (d.paced.length) {
    L.push('Half load (open loop: messages start at half the peer\'s own best msg/s for the workload, each on its own session, 10 s; warm DNS cache):', '');
    L.push('| peer | workload | offered msg/s | achieved msg/s | p50 ms | p99 ms | p99.9 ms | errors | load |');
    L.push('|---|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of d.paced) L.push(`| ${r.peer} | ${r.workload} | ${fmt(r.targetPerSec)} | ${fmt(r.achievedPerSec)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${fmt(r.p999, 2)} | ${r.errors} | ${fmt(r.load1, 1)} |`);
    L.push('');
  }
  const cores = d.machine.cores;
  L.push(`Signing ceiling (openssl speed, one core × ${cores} cores): RSA-2048 ${fmt(d.rsaSign, 0)} × ${cores} = **${fmt(d.rsaSign * cores, 0)} sign/s**; Ed25519 ${fmt(d.edSign, 0)} × ${cores} = **${fmt(d.edSign * cores, 0)} sign/s**.`, '');
  L.push('| peer | workload | best msg/s (1 RSA-2048 signature each) | sessions | ratio to RSA-2048 ceiling |');
  L.push('|---|---|---:|---:|---:|');
  const peerNames = [...new Set(d.cells.map((c) => c.peer))];
  for (const w of ['outbound', 'outbound-small'] as const) {
    for (const p of peerNames) {
      const best = d.cells.filter((c) => c.peer === p && c.workload === w).sort((a, b) => b.msgsPerSec - a.msgsPerSec)[0];
      if (best) L.push(`| ${p} | ${w} | ${fmt(best.msgsPerSec)} | ${best.sessions} | ${fmt((100 * best.msgsPerSec) / (d.rsaSign * cores))} % |`);
    }
  }
  L.push('');
  if (d.big.length) {
    L.push('One 50 MB message (inbound: DKIM-signed, verified; outbound: signed), alone:', '');
    L.push('| peer | direction | RSS before MiB | peak RSS MiB | rise MiB | seconds | verdict |');
    L.push('|---|---|---:|---:|---:|---:|---|');
    for (const b of d.big) L.push(`| ${b.peer} | ${b.direction} | ${fmt(b.idleRssMiB)} | ${fmt(b.peakRssMiB)} | ${fmt(b.peakRssMiB - b.idleRssMiB)} | ${fmt(b.seconds, 2)} | ${b.verdict} |`);
    L.push('');
  }
  if (d.idleRows.length) {
    L.push('1,000 concurrent sessions (950 idle after MAIL FROM + 50 active, mixed workload):', '');
    L.push('| peer | peak RSS MiB | msg/s of the 50 active | p99 ms |');
    L.push('|---|---:|---:|---:|');
    for (const r of d.idleRows) L.push(`| ${r.peer} | ${fmt(r.peakRssMiB)} | ${fmt(r.msgsPerSec)} | ${fmt(r.p99, 2)} |`);
    L.push('');
  }
  if (Object.keys(d.notRun).length) {
    L.push('Not run:', '');
    for (const [k, v] of Object.entries(d.notRun)) L.push(`- ${k}: ${v}`);
    L.push('');
  }
  return L.join('\n');
}

await main();
