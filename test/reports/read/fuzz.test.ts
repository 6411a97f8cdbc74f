/**
 * Every parser of the reader fuzzed with a seeded PRNG, bounded in count and time: the
 * aggregate XML parser, the TLS-RPT parser, the sniffer, the mbox splitter and the gzip
 * framer, and the whole reader on mutated report mails. The property: a typed outcome
 * (a report or a named ReportError) — never a crash, a hang or a different answer for the
 * same bytes split differently.
 */
import test from 'ava';
import { gzipSync } from 'node:zlib';
import { ReportError } from '../../../src/reports/errors.ts';
import { AggregateParser, parseAggregate } from '../../../src/reports/read/aggregate-parser.ts';
import { gunzip } from '../../../src/reports/read/gzip.ts';
import { Budget, chunksOf } from '../../../src/reports/read/limits.ts';
import { MboxSplitter } from '../../../src/reports/read/mbox.ts';
import { readBuffer, type ReportConsumer } from '../../../src/reports/read/reader.ts';
import { sniff } from '../../../src/reports/read/sniff.ts';
import { parseTlsReport } from '../../../src/reports/read/tlsrpt-parser.ts';
import { Warnings } from '../../../src/reports/read/warnings.ts';
import { month, reportMail, reportXml } from '../../support/dmarc-reports.ts';
import { prng } from '../../support/prng.ts';

const TIME_BUDGET_MS = 8000;
const xml = reportXml(month({ domain: 'example.test', start: 1_790_812_800, days: 1, seed: 3 })[0]!);

function mutate(rnd: () => number, s: string): string {
  const ops = 1 + Math.floor(rnd() * 4);
  let out = s;
  for (let i = 0; i < ops; i++) {
    const at = Math.floor(rnd() * out.length);
    const k = Math.floor(rnd() * 5);
    if (k === 0) out = out.slice(0, at) + out.slice(at + 1 + Math.floor(rnd() * 20));
    else if (k === 1) out = out.slice(0, at) + String.fromCharCode(Math.floor(rnd() * 0x250)) + out.slice(at);
    else if (k === 2) out = out.slice(0, at) + ['<', '>', '&', '</record>', '<record>', '<![CDATA[x]]>', '&amp;', '\u0000', '<feedback>'][Math.floor(rnd() * 9)] + out.slice(at);
    else if (k === 3) out = out.slice(0, at);
    else out = out.replace(/<count>\d+</, `<count>${Math.floor(rnd() * 1e6)}<`);
  }
  return out;
}

/** The first string anywhere in `v` holding a control character or a lone surrogate (what printable() removes), or undefined. */
function unprintable(v: unknown): string | undefined {
  if (typeof v === 'string') return /[\u0000-\u001f\u007f-\u009f]/.test(v) || !v.isWellFormed() ? v : undefined;
  if (Array.isArray(v)) return v.map(unprintable).find((x) => x !== undefined);
  if (v && typeof v === 'object') return Object.values(v).map(unprintable).find((x) => x !== undefined);
  return undefined;
}

test('aggregate XML: mutated reports give a report or a named ReportError; chunking does not change the answer', (t) => {
  const rnd = prng(1);
  const started = Date.now();
  let n = 0;
  let ok = 0;
  for (; n < 3000 && Date.now() - started < TIME_BUDGET_MS; n++) {
    const input = mutate(rnd, xml);
    let whole: string;
    try {
      const r = parseAggregate(input);
      const bad = unprintable([r.header, r.rows]);
      if (bad !== undefined) return t.fail(`input #${n}: a control character reached the report: ${JSON.stringify(bad)}`);
      whole = `ok ${r.header.reportId} ${r.rows.length} ${r.stats.messages}`;
      ok++;
    } catch (err) {
      if (!(err instanceof ReportError)) return t.fail(`not a ReportError for input #${n}: ${(err as Error).stack}`);
      whole = `err ${err.code}`;
    }
    // The same text in small chunks: the streaming parser must agree.
    let chunked: string;
    try {
      const p = new AggregateParser();
      let rows = 0;
      for (let i = 0; i < input.length; i += 97) {
        p.write(input.slice(i, i + 97));
        rows += p.takeRows().length;
      }
      const h = p.end();
      rows += p.takeRows().length;
      chunked = `ok ${h.reportId} ${rows} ${p.stats.messages}`;
    } catch (err) {
      chunked = `err ${(err as ReportError).code}`;
    }
    if (chunked !== whole) return t.fail(`input #${n}: whole ${whole}, chunked ${chunked}`);
  }
  t.log(`${n} inputs, ${ok} still reports`);
  // The count depends on the machine's load (the time budget stops it first when shared).
  t.true(n >= 50, `only ${n} inputs in ${TIME_BUDGET_MS} ms`);
});

test('TLS-RPT JSON: random and mutated documents never crash; no control character survives into the report', (t) => {
  const rnd = prng(2);
  const base = JSON.stringify({ 'organization-name': 'X', 'date-range': { 'start-datetime': '2026-01-01T00:00:00Z', 'end-datetime': '2026-01-01T23:59:59Z' }, 'report-id': 'r', policies: [{ policy: { 'policy-type': 'sts', 'policy-domain': 'example.test' }, summary: { 'total-successful-session-count': 1, 'total-failure-session-count': 2 }, 'failure-details': [{ 'result-type': 'certificate-expired', 'failed-session-count': 2 }] }] });
  const started = Date.now();
  let n = 0;
  for (; n < 3000 && Date.now() - started < TIME_BUDGET_MS; n++) {
    // Also \u escapes of control characters and surrogates inside the strings.
    const input = rnd() < 0.3 ? base.replace(/"([^"]*)"/g, (m, s: string) => (rnd() < 0.3 ? `"${s}${['\\u0000', '\\u001b[31m', '\\u009b', '\\ud800', '\\n', '\\u007f'][Math.floor(rnd() * 6)]}"` : m)) : mutate(rnd, base);
    try {
      const r = parseTlsReport(input, new Warnings());
      const bad = unprintable(r);
      if (bad !== undefined) return t.fail(`input #${n}: a control character reached the report: ${JSON.stringify(bad)}`);
    } catch (err) {
      if (!(err instanceof ReportError)) return t.fail(`input #${n}: ${(err as Error).stack}`);
    }
  }
  t.true(n >= 50, `only ${n} inputs in ${TIME_BUDGET_MS} ms`);
});

test('sniff: random bytes are classified in linear time, never thrown on', (t) => {
  const rnd = prng(3);
  for (let n = 0; n < 2000; n++) {
    const len = Math.floor(rnd() * 9000);
    const b = Buffer.alloc(len);
    for (let i = 0; i < len; i++) b[i] = rnd() < 0.3 ? [0x0d, 0x0a, 0x3a, 0x20, 0x46][Math.floor(rnd() * 5)]! : Math.floor(rnd() * 256);
    sniff(b);
  }
  // A pathological header block: many short fields, CRLF, no end — bounded by the sniff window.
  const evil = Buffer.from('a:\r\n'.repeat(100_000));
  const t0 = performance.now();
  t.is(sniff(evil.subarray(0, 8192)), 'mail');
  t.true(performance.now() - t0 < 100);
});

test('mbox: split at every chunk size, the same messages come out', (t) => {
  const body = (i: number) => `From: a${i}@b.test\nSubject: m${i}\n\nline\n>From quoted\nFrom unquoted but not after an empty line\n`;
  const mbox = Buffer.from([1, 2, 3].map((i) => `From x${i} Mon Nov  2 01:02:03 2026\n${body(i)}\n`).join(''));
  const expected = [1, 2, 3].map((i) => body(i).replace('>From quoted', 'From quoted'));
  for (let size = 1; size <= mbox.length; size++) {
    const s = new MboxSplitter(1 << 20);
    const got: string[] = [];
    for (let i = 0; i < mbox.length; i += size) for (const m of s.push(mbox.subarray(i, i + size))) if ('message' in m) got.push(m.message.toString());
    for (const m of s.end()) if ('message' in m) got.push(m.message.toString());
    if (JSON.stringify(got) !== JSON.stringify(expected)) return t.fail(`chunk size ${size}: ${JSON.stringify(got)}`);
  }
  // A message over the bound is reported, not held.
  const s = new MboxSplitter(100);
  const items = [...s.push(Buffer.from(`From a\n${'x'.repeat(500)}\n\nFrom b\nSubject: ok\n\nbody\n`)), ...s.end()];
  t.deepEqual(items.map((i) => ('tooLarge' in i ? 'too large' : i.message.toString())), ['too large', 'Subject: ok\n\nbody\n']);
});

async function gunzipAll(chunks: AsyncIterable<Uint8Array>, warnings = new Warnings()): Promise<string> {
  const out: Buffer[] = [];
  for await (const c of gunzip(chunks, new Budget(1 << 26), 'g', warnings)) out.push(c);
  return Buffer.concat(out).toString();
}

test('gzip framing: members, padding, trailing bytes and every chunk size give the same bytes', async (t) => {
  const rnd = prng(4);
  const started = Date.now();
  let n = 0;
  for (; n < 300 && Date.now() - started < TIME_BUDGET_MS; n++) {
    const parts = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => Buffer.from(Array.from({ length: Math.floor(rnd() * 5000) }, () => String.fromCharCode(32 + Math.floor(rnd() * 90))).join('')));
    const tail = rnd() < 0.5 ? Buffer.alloc(0) : rnd() < 0.5 ? Buffer.alloc(Math.floor(rnd() * 600)) : Buffer.from('\r\njunk');
    const gz = Buffer.concat([...parts.map((p) => gzipSync(p)), tail]);
    const size = 1 + Math.floor(rnd() * 300);
    const w = new Warnings();
    const got = await gunzipAll(chunksOf(gz, size), w);
    if (got !== Buffer.concat(parts).toString()) return t.fail(`case #${n}: wrong output (chunk size ${size})`);
  }
  // Random corruption: a named error or (if it happened to hit only the tail) the data; never a crash.
  for (let i = 0; i < 300; i++) {
    const gz = Buffer.from(gzipSync(Buffer.from(xml)));
    gz[Math.floor(rnd() * gz.length)] = Math.floor(rnd() * 256);
    try {
      await gunzipAll(chunksOf(gz, 1 + Math.floor(rnd() * 4000)));
    } catch (err) {
      if (!(err instanceof ReportError)) return t.fail(`corruption #${i}: ${(err as Error).stack}`);
    }
  }
  t.pass();
});

test('the whole reader on mutated report mails: outcomes only', async (t) => {
  const rnd = prng(5);
  const consumer: ReportConsumer = { dmarc: async () => ({ rows: async () => {}, commit: async () => {}, abort: async () => undefined }), tls: async () => {} };
  const started = Date.now();
  let n = 0;
  const limits = { maxFileSize: 1 << 24, maxUncompressedSize: 1 << 22, maxMessageSize: 1 << 22, maxZipEntries: 10 };
  for (; n < 400 && Date.now() - started < TIME_BUDGET_MS; n++) {
    const raw = reportMail(gzipSync(Buffer.from(rnd() < 0.5 ? xml : mutate(rnd, xml))), 'r.xml.gz', 'application/gzip', 'Report').toString('latin1');
    const mail = Buffer.from(mutate(rnd, raw), 'latin1');
    try {
      for await (const o of readBuffer(`m${n}`, mail, limits, consumer)) if (o.status === 'skipped' && !o.reason) return t.fail('an outcome without a reason');
    } catch (err) {
      return t.fail(`mail #${n}: ${(err as Error).stack}`);
    }
  }
  t.log(`${n} mails`);
  t.true(n >= 20, `only ${n} mails in ${TIME_BUDGET_MS} ms`);
});
