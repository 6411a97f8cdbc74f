/**
 * `node bench/store.ts [--count N] [--processes P] [--rate R]`: the DMARC evaluation write path.
 *
 * For each of P processes at once (P milter processes on one host, one store), COUNT
 * evaluations offered as fast as the process can, then R per second (a busy milter), and measured:
 *   - evaluations/s until every one is in the store (summed over processes),
 *   - the worst event-loop stall of the process while it did so (monitorEventLoopDelay,
 *     1 ms resolution), i.e. how long a milter session could have waited on the store;
 * for: PostgreSQL through the batching writer (multi-row INSERT … unnest), SQLite through the
 * batching writer (inserts on a worker thread), and the old path — one synchronous SQLite
 * INSERT per message on the event loop — for comparison.
 *
 * PostgreSQL is the test harness's (test/support/postgres.ts: fsync off!), so its numbers are
 * an upper bound for a durable server; SQLite runs with the product's settings (WAL,
 * synchronous=NORMAL). Prints a Markdown table.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import winston from 'winston';
import { decodeConfig } from '../src/config/load.ts';
import { createEvaluationWriter } from '../src/store/evaluation-writer.ts';
import { openStore } from '../src/store/open.ts';
import { openDatabase } from '../src/store/sqlite/database.ts';
import { batchInserter } from '../src/store/sqlite/evaluations.ts';
import { startPostgres } from '../test/support/postgres.ts';
import { evaluation, HOUR, T0 } from '../test/reports/evaluations.ts';

type Mode = 'postgres-writer' | 'sqlite-writer' | 'sqlite-sync-insert';
interface Result {
  readonly count: number;
  /** CPU of the whole process (every thread: the SQLite writer thread too) per evaluation, µs. */
  readonly cpuMicrosPerEvaluation: number;
  readonly seconds: number;
  readonly maxStallMs: number;
  readonly p99StallMs: number;
}

/**
 * In a child: one process's run. `rate` evaluations/s (0: as fast as it can), offered in
 * ticks of 10 ms, as messages finishing would. The loop-delay histogram starts after the store
 * is open and warmed up (module loading and the first connection happen before a milter
 * listens, not while it serves).
 */
async function child(mode: Mode, location: string, count: number, rate: number): Promise<Result> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  const rows = Array.from({ length: 1000 }, (_, i) => evaluation({ receivedAt: T0 + (i % 24) * HOUR + i, domain: `d${i % 50}.test` }));
  const pace = async (i: number, started: number): Promise<void> => {
    if (rate === 0) {
      if (i % 10 === 9) await new Promise((r) => setImmediate(r));
      return;
    }
    const due = started + (i / rate) * 1000;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
  };
  let offer: (ev: (typeof rows)[number]) => void;
  let finish: () => Promise<void>;
  if (mode === 'sqlite-sync-insert') {
    // What the inbound filter did before: one INSERT per message, on the event loop.
    const db = openDatabase(location);
    const insert = batchInserter(db);
    insert([rows[0]!]);
    offer = (ev) => insert([ev]);
    finish = async () => db.close();
  } else {
    const store = await openStore(decodeConfig({}).config.store, { override: location });
    const writer = createEvaluationWriter({ sink: store.openEvaluationSink(), logger: winston.createLogger({ silent: true }), location, maxQueue: count + 1000, batchSize: 500, flushMs: 50 });
    for (const r of rows.slice(0, 500)) writer.record(r);
    await writer.flush();
    offer = (ev) => writer.record(ev);
    finish = async () => {
      await writer.close(600_000);
      const s = writer.stats();
      if (s.recorded !== count + 500) throw new Error(`${mode}: recorded ${s.recorded} of ${count + 500}`);
      await store.close();
    };
  }
  h.enable();
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < count; i++) {
    offer(rows[i % rows.length]!);
    await pace(i, started);
  }
  await finish();
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  h.disable();
  return { count, seconds, cpuMicrosPerEvaluation: (cpu.user + cpu.system) / count, maxStallMs: h.max / 1e6, p99StallMs: h.percentile(99) / 1e6 };
}

async function runMode(mode: Mode, location: string, count: number, processes: number, rate: number): Promise<{ perSec: number; maxStallMs: number; p99StallMs: number; seconds: number; cpuMicros: number }> {
  const results = await Promise.all(
    Array.from({ length: processes }, () =>
      new Promise<Result>((resolve, reject) => {
        const c = fork(import.meta.filename, ['--child', mode, location, String(count), String(rate)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        c.once('message', (m) => resolve(m as Result));
        c.once('exit', (code) => (code ? reject(new Error(`${mode} child exited ${code}`)) : undefined));
      }),
    ),
  );
  const seconds = Math.max(...results.map((r) => r.seconds));
  const cpuMicros = results.reduce((n, r) => n + r.cpuMicrosPerEvaluation, 0) / results.length;
  return { perSec: (count * processes) / seconds, seconds, cpuMicros, maxStallMs: Math.max(...results.map((r) => r.maxStallMs)), p99StallMs: Math.max(...results.map((r) => r.p99StallMs)) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { count: { type: 'string' }, processes: { type: 'string' }, rate: { type: 'string' } } });
  const count = Number(values.count ?? 20_000);
  const processes = Number(values.processes ?? 4);
  const rate = Number(values.rate ?? 1000);
  const dir = mkdtempSync(join(tmpdir(), 'mailanchor-store-bench-'));
  const pg = await startPostgres();
  const log = (s: string): void => void process.stderr.write(`[store bench] ${s}\n`);
  try {
    const rows: string[] = [];
    for (const paced of [0, rate]) {
      for (const mode of ['postgres-writer', 'sqlite-writer', 'sqlite-sync-insert'] as const) {
        const location = mode === 'postgres-writer' ? pg.url(await pg.createDatabase()) : join(dir, `${mode}-${paced}.db`);
        const s = await openStore(decodeConfig({}).config.store, { override: location });
        await s.migrate();
        await s.close();
        const n = paced ? Math.min(count, paced * 10) : count; // paced runs last 10 s at most
        log(`${mode}: ${processes} processes × ${n} evaluations, ${paced ? `${paced}/s each` : 'as fast as possible'}`);
        const r = await runMode(mode, location, n, processes, paced);
        rows.push(`| ${mode} | ${paced ? `${paced}/s per process` : 'as fast as possible'} | ${processes} | ${n * processes} | ${r.seconds.toFixed(2)} | ${Math.round(r.perSec)} | ${Math.round(r.cpuMicros)} | ${r.p99StallMs.toFixed(1)} | ${r.maxStallMs.toFixed(1)} |`);
      }
    }
    process.stdout.write(
      [
        `Evaluations into the store, ${processes} processes at once (\`node bench/store.ts --count ${count} --processes ${processes} --rate ${rate}\`):`,
        '',
        '| path | offered | processes | evaluations | seconds | evaluations/s | milter-process CPU µs / evaluation | worst p99 loop delay (ms) | worst loop delay (ms) |',
        '|---|---|---:|---:|---:|---:|---:|---:|---:|',
        ...rows,
        '',
      ].join('\n'),
    );
  } finally {
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') {
  const [, mode, location, count, rate] = process.argv.slice(2) as [string, Mode, string, string, string];
  const r = await child(mode, location, Number(count), Number(rate));
  process.send!(r, () => process.exit(0));
} else {
  await main();
}
