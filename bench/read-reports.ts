/**
 * One `report read`/`report import` run over PATHs in its own process, for the bench and the
 * 100 MB test: prints one JSON line with reports, rows, messages, wall time and peak RSS
 * (getrusage ru_maxrss). `--import STORE` stores into the history of a store (a SQLite
 * file path or a postgresql:// URL, migrated first) instead of folding into a page.
 *
 *   node bench/read-reports.ts [--import FILE|postgresql://…] PATH…
 */
import { parseArgs } from 'node:util';
import { readPaths } from '../src/reports/read/reader.ts';
import { readDefaults, readLimits } from '../src/reports/received/config.ts';
import { pageConsumer, storeConsumer } from '../src/reports/received/consumers.ts';
import { PageBuilder } from '../src/reports/received/page-model.ts';
import { decodeConfig } from '../src/config/load.ts';
import { openStore } from '../src/store/open.ts';

const { values, positionals } = parseArgs({ options: { import: { type: 'string' } }, allowPositionals: true });
const started = performance.now();
const builder = new PageBuilder();
const store = values.import ? await openStore(decodeConfig({}).config.store, { override: values.import }) : undefined;
await store?.migrate();
const consumer = store ? storeConsumer(store.received, [], () => 'bench', Date.now, { stored: 0, duplicates: 0, inProgress: 0 }) : pageConsumer(builder, []);
let reports = 0;
let rows = 0;
let messages = 0;
let skipped = 0;
for await (const o of readPaths(positionals, readLimits(readDefaults()), consumer)) {
  if (o.status === 'skipped') {
    skipped++;
    process.stderr.write(`skipped ${o.source}: ${o.reason}\n`);
  } else if (o.kind === 'dmarc') {
    reports++;
    rows += o.stats.rows;
    messages += o.stats.messages;
  } else reports++;
}
if (!store) builder.finish(new Map(), { maxSourcesListed: 2000 });
await store?.close();
const ms = performance.now() - started;
process.stdout.write(`${JSON.stringify({ mode: store ? `import (${store.engine})` : 'read', reports, skipped, rows, messages, ms: Math.round(ms), reportsPerSecond: Math.round((reports / ms) * 1000), rowsPerSecond: Math.round((rows / ms) * 1000), peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) })}\n`);
