/**
 * The contract every adapter of the received-reports port passes (SQLite now; the
 * PostgreSQL adapter runs the same suite once the fleet store lands): de-duplication by
 * (reporter, report id, policy domain), rows visible only once complete, an aborted import
 * leaves nothing, a died import is taken over, range and domain queries, pruning.
 */
import type { ExecutionContext, TestFn } from 'ava';
import { parseAggregate } from '../../../src/reports/read/aggregate-parser.ts';
import type { AggregateRow } from '../../../src/reports/read/model.ts';
import type { ReceivedReportStore } from '../../../src/reports/received/store.ts';
import { month, reportXml } from '../../support/dmarc-reports.ts';

const START = 1_790_812_800; // 2026-10-01

async function allRows(store: ReceivedReportStore, q: { from: number; to: number; domains: string[] }): Promise<{ ids: string[]; rows: AggregateRow[] }> {
  const ids: string[] = [];
  const rows: AggregateRow[] = [];
  for await (const r of store.dmarc(q)) {
    ids.push(r.report.header.reportId);
    for await (const b of r.rows) rows.push(...b);
  }
  return { ids, rows };
}

export function storeContract(test: TestFn, name: string, open: (t: ExecutionContext) => Promise<ReceivedReportStore>): void {
  const reports = month({ domain: 'example.test', start: START, days: 3, seed: 11 }).map((r) => parseAggregate(reportXml(r)));
  const other = parseAggregate(reportXml(month({ domain: 'other.test', start: START, days: 1, seed: 12 })[0]!));

  test(`${name}: a report stored twice counts once; rows round-trip exactly`, async (t) => {
    const store = await open(t);
    const r = reports[0]!;
    const first = await store.beginDmarc(r.header, { source: 'a', importedAt: 1000 });
    if (first.kind !== 'new') return t.fail('not new');
    await first.sink.rows(r.rows.slice(0, 2));
    t.deepEqual((await allRows(store, { from: 0, to: 2 ** 31, domains: [] })).ids, [], 'not visible while loading');
    await first.sink.rows(r.rows.slice(2));
    await first.sink.commit(r.stats, ['w1']);
    const again = await store.beginDmarc({ ...r.header, orgName: `  ${r.header.orgName.toUpperCase()} ` }, { source: 'b', importedAt: 2000 });
    t.like(again, { kind: 'duplicate', source: 'a', importedAt: 1000 });
    const got = await allRows(store, { from: 0, to: 2 ** 31, domains: [] });
    t.deepEqual(got.ids, [r.header.reportId]);
    t.deepEqual(got.rows, r.rows);
    const stored = (await (store.dmarc({ from: 0, to: 2 ** 31, domains: [] })[Symbol.asyncIterator]().next())).value!.report;
    t.deepEqual(stored.header, r.header);
    t.deepEqual(stored.warnings, ['w1']);
    await store.close();
  });

  test(`${name}: an aborted import leaves nothing; a died import is taken over after an hour, not before`, async (t) => {
    const store = await open(t);
    const r = reports[1]!;
    const a = await store.beginDmarc(r.header, { source: 'a', importedAt: 0 });
    if (a.kind !== 'new') return t.fail();
    await a.sink.rows(r.rows);
    await a.sink.abort();
    const b = await store.beginDmarc(r.header, { source: 'b', importedAt: 1 });
    t.is(b.kind, 'new', 'aborted: free again');
    if (b.kind !== 'new') return;
    await b.sink.rows(r.rows.slice(0, 1)); // … and this run dies here
    t.is((await store.beginDmarc(r.header, { source: 'c', importedAt: 60_000 })).kind, 'duplicate', 'still loading: another run owns it');
    const d = await store.beginDmarc(r.header, { source: 'd', importedAt: 3_700_000 });
    t.is(d.kind, 'new', 'stale after an hour: taken over');
    if (d.kind !== 'new') return;
    await d.sink.rows(r.rows);
    await d.sink.commit(r.stats, []);
    t.is((await allRows(store, { from: 0, to: 2 ** 31, domains: [] })).rows.length, r.rows.length, 'the died run\'s row is gone');
    await store.close();
  });

  test(`${name}: TLS reports de-duplicated; queries by period and domain; pruning; counts`, async (t) => {
    const store = await open(t);
    for (const r of [...reports, other]) {
      const b = await store.beginDmarc(r.header, { source: 's', importedAt: 5 });
      if (b.kind !== 'new') continue;
      await b.sink.rows(r.rows);
      await b.sink.commit(r.stats, []);
    }
    const tls = { orgName: 'Google Inc.', reportId: 't1', begin: START, end: START + 86399, policies: [{ policyType: 'sts' as const, policyDomain: 'example.test', policyStrings: [], mxHosts: ['mx.example.test'], successfulSessions: 10, failedSessions: 1, failures: [{ resultType: 'certificate-expired', failedSessions: 1 }] }] };
    t.is(await store.addTls(tls, { source: 's', importedAt: 5 }), 'stored');
    t.is(await store.addTls({ ...tls, orgName: 'google inc.' }, { source: 's', importedAt: 6 }), 'duplicate');
    const day2 = await allRows(store, { from: START + 86400, to: START + 2 * 86400, domains: ['example.test'] });
    t.true(day2.ids.length > 0 && day2.ids.every((id) => id.endsWith(`-${START + 86400}`)), day2.ids.join());
    t.deepEqual((await allRows(store, { from: 0, to: 2 ** 31, domains: ['other.test'] })).ids, [other.header.reportId]);
    const tlsGot: string[] = [];
    for await (const x of store.tls({ from: 0, to: 2 ** 31, domains: ['example.test'] })) tlsGot.push(x.reportId);
    t.deepEqual(tlsGot, ['t1']);
    const before = await store.counts();
    t.like(before, { dmarcReports: reports.length + 1, tlsReports: 1, first: START });
    t.deepEqual(await store.prune(START + 86400), { dmarc: 5 + 1, tls: 1 });
    t.is((await store.counts()).dmarcReports, reports.length - 5);
    await store.close();
  });
}
