/**
 * A 100 MB aggregate report (generated at test time, streamed to disk, 214,360 records) is
 * imported into the SQLite history in bounded memory: the XML is streamed, never held, and
 * rows go to the store in batches. Run in a child process so its peak RSS is its own.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHugeReport } from '../../support/dmarc-reports.ts';

const NODE = process.execPath;
const SCRIPT = new URL('../../../bench/read-reports.ts', import.meta.url).pathname;

test('a 100 MB report: every record stored, peak RSS far below the file size', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mailanchor-huge-'));
  try {
    const file = join(dir, 'huge.xml');
    const want = await writeHugeReport(file, 100 * 1024 * 1024);
    const out = await new Promise<string>((resolve, reject) =>
      execFile(NODE, [SCRIPT, '--import', join(dir, 'h.db'), file], { timeout: 170_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout))),
    );
    const r = JSON.parse(out) as { rows: number; messages: number; ms: number; peakRssMiB: number; skipped: number };
    t.log(`${want.rows} records, ${r.ms} ms, peak RSS ${r.peakRssMiB} MiB`);
    t.is(r.skipped, 0);
    t.is(r.rows, want.rows);
    t.is(r.messages, want.messages);
    t.true(r.peakRssMiB < 200, `peak RSS ${r.peakRssMiB} MiB`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
