/**
 * Public real-world report samples (parsedmarc's `samples/`, Stalwart mail-auth's
 * `resources/dmarc-feedback` and `resources/tlsrpt`, mail-dmarc's `t/fixtures`), when they
 * are on this machine: `$MAILANCHOR_PUBLIC_REPORTS`, or `shared/suites/dmarc-reports/` beside
 * the checkout. They are not committed here (see docs/reports.md). Every file must give typed
 * outcomes; those listed in `expected-skips.txt` (one `source regex<TAB>reason regex` a line)
 * must be refused with that reason and every other report must be read.
 */
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readPaths, type ReadOutcome, type ReportConsumer } from '../../../src/reports/read/reader.ts';
import { readDefaults, readLimits } from '../../../src/reports/received/config.ts';

const DIR = process.env.MAILANCHOR_PUBLIC_REPORTS ?? new URL('../../../../shared/suites/dmarc-reports/', import.meta.url).pathname;
const present = existsSync(DIR);
if (!present) test.skip(`public report samples not present at ${DIR} (set MAILANCHOR_PUBLIC_REPORTS)`, () => {});
else test('public real-world samples: every report read, every refusal the expected one', async (t) => {
  const consumer: ReportConsumer = { dmarc: async () => ({ rows: async () => {}, commit: async () => {}, abort: async () => undefined }), tls: async () => {} };
  const outcomes: ReadOutcome[] = [];
  for await (const o of readPaths([DIR], readLimits(readDefaults()), consumer)) outcomes.push(o);
  const listFile = join(DIR, 'expected-skips.txt');
  const expected = existsSync(listFile)
    ? readFileSync(listFile, 'utf8').split('\n').filter((l) => l.trim() && !l.startsWith('#')).map((l) => {
        const [path = '', re = '.'] = l.split('\t');
        return { path: new RegExp(path), re: new RegExp(re) };
      })
    : [];
  const read = outcomes.filter((o) => o.status === 'read');
  t.log(`${read.length} read, ${outcomes.length - read.length} refused`);
  for (const o of outcomes) {
    const want = expected.find((e) => e.path.test(o.source));
    if (o.status === 'read') t.falsy(want, `${o.source} was read but is listed as refused`);
    else if (o.source.endsWith('expected-skips.txt') || /\b(LICEN[CS]E|README|COPYING)/i.test(o.source)) continue;
    else t.true(want !== undefined && want.re.test(o.reason), `${o.source}: ${o.code} ${o.reason}`);
  }
  t.true(read.length > 0);
});
