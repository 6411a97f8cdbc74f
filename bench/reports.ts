/**
 * `node bench/reports.ts [--keep] [--postgres]`: the received-reports reader. Generates 1,000
 * aggregate reports (.xml.gz files, a month of five reporters for seven domains) and one
 * 100 MB report, then runs `bench/read-reports.ts` on each in a fresh process — folding into
 * a page (`report read`) and storing into a fresh SQLite history (`report import`); with
 * `--postgres` also into a private PostgreSQL on loopback (test/support/postgres.ts) — and
 * prints reports/s, records/s and peak RSS (getrusage maxrss) per run.
 */
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { month, reportXml, writeHugeReport } from '../test/support/dmarc-reports.ts';
import { startPostgres, type PostgresServer } from '../test/support/postgres.ts';

const SCRIPT = new URL('./read-reports.ts', import.meta.url).pathname;

function runOnce(args: string[]): Promise<Record<string, number | string>> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [SCRIPT, ...args], { maxBuffer: 1 << 22, timeout: 600_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout) as Record<string, number | string>))),
  );
}

const dir = await mkdtemp(join(tmpdir(), 'mailanchor-bench-reports-'));
let pg: PostgresServer | undefined;
try {
  if (process.argv.includes('--postgres')) pg = await startPostgres();
  const many = join(dir, 'many');
  mkdirSync(many);
  let n = 0;
  for (let d = 0; n < 1000; d++) {
    for (const r of month({ domain: `d${d}.example.test`, start: 1_790_812_800, days: 30, seed: 100 + d })) {
      if (n >= 1000) break;
      await writeFile(join(many, `${n++}.xml.gz`), gzipSync(reportXml(r)));
    }
  }
  const huge = join(dir, 'huge.xml');
  const h = await writeHugeReport(huge, 100 * 1024 * 1024);
  const rows: string[] = [];
  const runs: [string, string[]][] = [
    ['1,000 reports, read (page)', [many]],
    ['1,000 reports, import (SQLite)', ['--import', join(dir, 'a.db'), many]],
    [`100 MB report (${h.rows} records), read (page)`, [huge]],
    [`100 MB report (${h.rows} records), import (SQLite)`, ['--import', join(dir, 'b.db'), huge]],
  ];
  if (pg) {
    runs.push(['1,000 reports, import (PostgreSQL)', ['--import', pg.url(await pg.createDatabase()), many]]);
    runs.push([`100 MB report (${h.rows} records), import (PostgreSQL)`, ['--import', pg.url(await pg.createDatabase()), huge]]);
  }
  for (const [label, args] of runs) {
    const r = await runOnce([...args]);
    rows.push(`| ${label} | ${r.ms} ms | ${r.reportsPerSecond} | ${r.rowsPerSecond} | ${r.peakRssMiB} MiB |`);
    process.stderr.write(`${label}: ${JSON.stringify(r)}\n`);
  }
  process.stdout.write(['| input | wall time | reports/s | records/s | peak RSS |', '|---|---|---|---|---|', ...rows].join('\n') + '\n');
} finally {
  await pg?.stop();
  if (!process.argv.includes('--keep')) await rm(dir, { recursive: true, force: true });
}
