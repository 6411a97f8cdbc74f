/**
 * The contract every adapter of the received-reports port passes, run against SQLite
 * (store-sqlite.test.ts) and a real PostgreSQL (store-postgres.test.ts) through
 * `Store.received`: de-duplication by (reporter, report id, policy domain), rows visible
 * only once complete and returned in order (across pages), an aborted import leaves nothing,
 * a died import is taken over and the import that lost it cannot write into the new one,
 * two connections claiming the same report at once, range and domain queries (subdomains,
 * not look-alikes), pruning of old reports and of died imports, counts.
 */
import type { ExecutionContext, TestFn } from 'ava';
import { parseAggregate, type AggregateStats } from '../../../src/reports/read/aggregate-parser.ts';
import type { AggregateHeader, AggregateRow, TlsReport } from '../../../src/reports/read/model.ts';
import { STALE_IMPORT_MS, type HistoryQuery, type ReceivedReportStore } from '../../../src/reports/received/store.ts';
import type { Store } from '../../../src/store/store.ts';
import { parseTlsReport } from '../../../src/reports/read/tlsrpt-parser.ts';
import { Warnings } from '../../../src/reports/read/warnings.ts';
import { month, reportXml } from '../../support/dmarc-reports.ts';

const START = 1_790_812_800; // 2026-10-01
const ALL: HistoryQuery = { from: 0, to: 2 ** 31, domains: [] };

export interface ReceivedTarget {
  readonly name: string;
  /** A fresh, migrated store, closed by the test's teardown. */
  open(t: ExecutionContext): Promise<Store>;
  /** Another connection to the same database (a second host), closed by the teardown. */
  second(t: ExecutionContext, s: Store): Promise<Store>;
}

async function allRows(store: ReceivedReportStore, q: HistoryQuery): Promise<{ ids: string[]; rows: AggregateRow[] }> {
  const ids: string[] = [];
  const rows: AggregateRow[] = [];
  for await (const r of store.dmarc(q)) {
    ids.push(r.report.header.reportId);
    for await (const b of r.rows) rows.push(...b);
  }
  return { ids, rows };
}

async function tlsIds(store: ReceivedReportStore, q: HistoryQuery): Promise<string[]> {
  const ids: string[] = [];
  for await (const x of store.tls(q)) ids.push(x.report.reportId);
  return ids;
}

async function storeWhole(store: ReceivedReportStore, r: { header: AggregateHeader; rows: readonly AggregateRow[]; stats: AggregateStats }, importedAt = 5): Promise<boolean> {
  const b = await store.beginDmarc(r.header, { source: 's', importedAt });
  if (b.kind !== 'new') return false;
  for (let i = 0; i < r.rows.length; i += 1000) await b.sink.rows(r.rows.slice(i, i + 1000));
  await b.sink.commit(r.stats, []);
  return true;
}

const tlsReport = (over: Partial<TlsReport> & { domains?: string[] } = {}): TlsReport => {
  const { domains = ['example.test'], ...rest } = over;
  return {
    orgName: 'Google Inc.',
    reportId: 't1',
    begin: START,
    end: START + 86399,
    policies: domains.map((d) => ({ policyType: 'sts' as const, policyDomain: d, policyStrings: [], mxHosts: [`mx.${d}`], successfulSessions: 10, failedSessions: 1, failures: [{ resultType: 'certificate-expired', failedSessions: 1 }] })),
    ...rest,
  };
};

export function receivedContract(test: TestFn, target: ReceivedTarget): void {
  const name = `${target.name} received history`;
  const reports = month({ domain: 'example.test', start: START, days: 3, seed: 11 }).map((r) => parseAggregate(reportXml(r)));
  const other = parseAggregate(reportXml(month({ domain: 'other.test', start: START, days: 1, seed: 12 })[0]!));

  test(`${name}: a report stored twice counts once; rows round-trip exactly`, async (t) => {
    const store = (await target.open(t)).received;
    const r = reports[0]!;
    const first = await store.beginDmarc(r.header, { source: 'a', importedAt: 1000 });
    if (first.kind !== 'new') return t.fail('not new');
    await first.sink.rows(r.rows.slice(0, 2));
    t.deepEqual((await allRows(store, ALL)).ids, [], 'not visible while loading');
    await first.sink.rows([]);
    await first.sink.rows(r.rows.slice(2));
    await first.sink.commit(r.stats, ['w1']);
    const again = await store.beginDmarc({ ...r.header, orgName: `  ${r.header.orgName.toUpperCase()} ` }, { source: 'b', importedAt: 2000 });
    t.like(again, { kind: 'duplicate', source: 'a', importedAt: 1000 });
    const got = await allRows(store, ALL);
    t.deepEqual(got.ids, [r.header.reportId]);
    t.deepEqual(got.rows, r.rows);
    const stored = (await store.dmarc(ALL)[Symbol.asyncIterator]().next()).value!.report;
    t.deepEqual(stored.header, r.header);
    t.deepEqual(stored.stats, r.stats);
    t.deepEqual(stored.warnings, ['w1']);
    t.like(stored, { source: 'a', importedAt: 1000 });
    t.deepEqual(Object.keys(stored.header), Object.keys(r.header), 'documents come back with their keys in order');
  });

  test(`${name}: an aborted import leaves nothing; a died import is taken over after STALE_IMPORT_MS, not before, and cannot write afterwards`, async (t) => {
    const store = (await target.open(t)).received;
    const r = reports[1]!;
    const a = await store.beginDmarc(r.header, { source: 'a', importedAt: 0 });
    if (a.kind !== 'new') return t.fail();
    await a.sink.rows(r.rows);
    t.is(await a.sink.abort(), undefined);
    const b = await store.beginDmarc(r.header, { source: 'b', importedAt: 1 });
    t.is(b.kind, 'new', 'aborted: free again');
    if (b.kind !== 'new') return;
    await b.sink.rows(r.rows.slice(0, 1)); // … and this run stops here
    t.like(await store.beginDmarc(r.header, { source: 'c', importedAt: 60_000 }), { kind: 'in-progress', source: 'b', importedAt: 1 }, 'still loading: another run owns it, and it is not stored yet');
    const d = await store.beginDmarc(r.header, { source: 'd', importedAt: 1 + STALE_IMPORT_MS });
    t.is(d.kind, 'new', 'stale: taken over');
    if (d.kind !== 'new') return;
    // The run that was thought dead wakes up: it may not write into d's report.
    await t.throwsAsync(b.sink.rows(r.rows.slice(1, 2)), { code: 'IN_PROGRESS' } as never);
    await t.throwsAsync(b.sink.commit(r.stats, []), { code: 'IN_PROGRESS' } as never);
    await b.sink.abort(); // what the reader does next: removes nothing of d's
    await d.sink.rows(r.rows);
    await d.sink.commit(r.stats, []);
    const got = await allRows(store, ALL);
    t.deepEqual(got.rows, r.rows, "only d's rows: the died run's row is gone");
    t.like((await store.dmarc(ALL)[Symbol.asyncIterator]().next()).value!.report, { source: 'd' });
  });

  test(`${name}: two hosts claiming the same report at the same moment: one stores it, the other is told it is in progress, then a duplicate`, async (t) => {
    const s1 = await target.open(t);
    const s2 = await target.second(t, s1);
    for (const r of reports.slice(0, 5)) {
      const claims = await Promise.all([s1, s2].map((s) => s.received.beginDmarc(r.header, { source: s === s1 ? 'host1' : 'host2', importedAt: 10 })));
      t.deepEqual(claims.map((c) => c.kind).sort(), ['in-progress', 'new'], 'one claims it; the other sees it being stored');
      const winner = claims.find((c) => c.kind === 'new');
      if (winner?.kind !== 'new') continue;
      await winner.sink.rows(r.rows);
      await winner.sink.commit(r.stats, []);
      const late = await (winner === claims[0] ? s2 : s1).received.beginDmarc(r.header, { source: 'late', importedAt: 20 });
      t.is(late.kind, 'duplicate', 'once complete, a duplicate');
    }
    t.is((await s2.received.counts()).dmarcReports, 5);
    t.deepEqual((await allRows(s1.received, ALL)).ids.sort(), reports.slice(0, 5).map((r) => r.header.reportId).sort());
  });

  test(`${name}: TLS reports de-duplicated; queries by period and domain (subdomains yes, look-alikes no); pruning; counts`, async (t) => {
    const store = (await target.open(t)).received;
    for (const r of [...reports, other]) t.true(await storeWhole(store, r));
    const sub = { ...other, header: { ...other.header, reportId: 'sub-1', policy: { ...other.header.policy, domain: 'mail.example.test' } } };
    const lookalike = { ...other, header: { ...other.header, reportId: 'look-1', policy: { ...other.header.policy, domain: 'badexample.test' } } };
    t.true(await storeWhole(store, sub));
    t.true(await storeWhole(store, lookalike));
    t.is(await store.addTls(tlsReport(), { source: 's', importedAt: 5 }), 'stored');
    t.is(await store.addTls(tlsReport({ orgName: 'google inc.' }), { source: 's', importedAt: 6 }), 'duplicate');
    t.is(await store.addTls(tlsReport({ reportId: 't2', domains: ['other.test', 'mail.example.test'] }), { source: 's', importedAt: 7 }), 'stored');
    t.is(await store.addTls(tlsReport({ reportId: 't3', domains: ['badexample.test'], begin: START + 86400, end: START + 2 * 86400 - 1 }), { source: 's', importedAt: 8 }), 'stored');
    const day2 = await allRows(store, { from: START + 86400, to: START + 2 * 86400, domains: ['example.test'] });
    t.true(day2.ids.length > 0 && day2.ids.every((id) => id.endsWith(`-${START + 86400}`)), day2.ids.join());
    t.deepEqual((await allRows(store, { ...ALL, domains: ['other.test'] })).ids, [other.header.reportId]);
    const ours = (await allRows(store, { ...ALL, domains: ['example.test'] })).ids;
    t.true(ours.includes('sub-1') && !ours.includes('look-1') && !ours.includes(other.header.reportId), ours.join());
    t.is(ours.length, reports.length + 1);
    t.deepEqual((await allRows(store, { ...ALL, domains: ['mail.example.test', 'badexample.test'] })).ids.sort(), ['look-1', 'sub-1']);
    t.deepEqual(await tlsIds(store, { ...ALL, domains: ['example.test'] }), ['t1', 't2']);
    t.deepEqual(await tlsIds(store, { ...ALL, domains: ['other.test'] }), ['t2']);
    t.deepEqual(await tlsIds(store, { ...ALL, domains: ['xample.test'] }), []);
    t.deepEqual(await tlsIds(store, { from: START + 86400, to: 2 ** 31, domains: [] }), ['t3']);
    const stored = (await store.tls({ ...ALL, domains: ['other.test'] })[Symbol.asyncIterator]().next()).value!;
    t.deepEqual(stored.report, tlsReport({ reportId: 't2', domains: ['other.test', 'mail.example.test'] }));
    t.like(stored, { source: 's', importedAt: 7 });
    const before = await store.counts();
    t.like(before, { dmarcReports: reports.length + 3, tlsReports: 3, first: START, rows: [...reports, other, sub, lookalike].reduce((n, r) => n + r.rows.length, 0) });
    // Period ends before START + 86400: day 1 of each of the five reporters, the other.test three, two TLS.
    t.deepEqual(await store.prune(START + 86400, 10), { dmarc: 5 + 3, tls: 2 });
    t.like(await store.counts(), { dmarcReports: reports.length - 5, tlsReports: 1 });
  });

  test(`${name}: a died import's rows are pruned once it is stale; a live one is left alone`, async (t) => {
    const store = (await target.open(t)).received;
    const [r1, r2] = [reports[0]!, reports[1]!];
    const died = await store.beginDmarc(r1.header, { source: 'died', importedAt: 1000 });
    const live = await store.beginDmarc(r2.header, { source: 'live', importedAt: 1000 + STALE_IMPORT_MS });
    if (died.kind !== 'new' || live.kind !== 'new') return t.fail();
    await died.sink.rows(r1.rows);
    await live.sink.rows(r2.rows);
    t.deepEqual(await store.prune(0, 1000 + STALE_IMPORT_MS + 1), { dmarc: 1, tls: 0 });
    await t.throwsAsync(died.sink.commit(r1.stats, []), { code: 'IN_PROGRESS' } as never);
    await live.sink.commit(r2.stats, []);
    t.deepEqual((await allRows(store, ALL)).rows, r2.rows);
    t.is((await store.beginDmarc(r1.header, { source: 'again', importedAt: 2000 + STALE_IMPORT_MS })).kind, 'new', 'the pruned report can be imported again');
  });

  test(`${name}: odd text from reporters (what the parsers leave of NUL, ESC, lone surrogates; C1; non-BMP; quotes and backslashes) is stored and comes back as parsed`, async (t) => {
    const store = (await target.open(t)).received;
    const tls = parseTlsReport(
      JSON.stringify({
        'organization-name': 'Ev\u0000il "\\ Corp 📮',
        'date-range': { 'start-datetime': '2026-10-01T00:00:00Z', 'end-datetime': '2026-10-01T23:59:59Z' },
        'report-id': 'id\u0000\ud800\u001b',
        policies: [{ policy: { 'policy-type': 'sts', 'policy-domain': 'example.test' }, summary: { 'total-successful-session-count': 1, 'total-failure-session-count': 0 }, 'failure-details': [{ 'result-type': 'x', 'failed-session-count': 1, 'additional-information': 'a\u0000b' }] }],
      }),
      new Warnings(),
    );
    t.is(await store.addTls(tls, { source: 'imap:INBOX/1', importedAt: 1 }), 'stored');
    t.is(await store.addTls(tls, { source: 's', importedAt: 2 }), 'duplicate');
    t.deepEqual((await store.tls(ALL)[Symbol.asyncIterator]().next()).value!.report, tls);
    const xml = reportXml(month({ domain: 'example.test', start: START, days: 1, seed: 13 })[0]!).replace(/<org_name>[^<]*<\/org_name>/, '<org_name>Ünïcødé &amp; "Q" \\ &#x9b;📮</org_name>');
    const r = parseAggregate(xml);
    t.true(await storeWhole(store, r));
    const back = (await store.dmarc(ALL)[Symbol.asyncIterator]().next()).value!.report;
    t.is(back.header.orgName, r.header.orgName);
    t.deepEqual(back.header, r.header);
  });

  test(`${name}: 700 reports and a report of 12,000 records come back whole and in order across pages`, async (t) => {
    const store = (await target.open(t)).received;
    const base = reports[0]!;
    const big = Array.from({ length: 12_000 }, (_, i) => ({ ...base.rows[i % base.rows.length]!, sourceIp: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, count: i + 1 }));
    t.true(await storeWhole(store, { header: { ...base.header, reportId: 'big' }, rows: big, stats: { ...base.stats, rows: big.length } }));
    // 700 one-record reports over 7 days, so the listing spans pages (500) and periods tie.
    for (let i = 0; i < 700; i++) {
      const begin = START + (i % 7) * 86400;
      t.true(await storeWhole(store, { header: { ...base.header, reportId: `r${i}`, begin, end: begin + 86399 }, rows: base.rows.slice(0, 1), stats: { ...base.stats, rows: 1 } }));
    }
    let seen = 0;
    let lastBegin = -1;
    const ids = new Set<string>();
    for await (const { report, rows } of store.dmarc(ALL)) {
      t.true(report.header.begin >= lastBegin, 'oldest period first');
      lastBegin = report.header.begin;
      ids.add(report.header.reportId);
      const got: AggregateRow[] = [];
      for await (const b of rows) got.push(...b);
      if (report.header.reportId === 'big') t.deepEqual(got, big);
      else t.is(got.length, 1);
      seen++;
    }
    t.is(seen, 701);
    t.is(ids.size, 701, 'no report twice, none left out');
  });
}
