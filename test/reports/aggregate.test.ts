/** Grouping evaluations into reports: periods, ri, records with counts, half-written rows. */
import test from 'ava';
import { buildReports, periodLength, periodOf } from '../../src/reports/aggregate.ts';
import type { StoredEvaluation } from '../../src/reports/evaluation-reader.ts';
import { DAY, evaluation, HOUR, policy, spoofed, T0 } from './evaluations.ts';

const rows = (evs: unknown[]): StoredEvaluation[] => evs.map((e, i) => ({ id: i + 1, evaluation: e as StoredEvaluation['evaluation'] }));

test('daily periods are UTC days; ri shorter than our interval is not honoured, longer is', (t) => {
  t.is(periodLength(3600, DAY), DAY);
  t.is(periodLength(86400, DAY), DAY);
  t.is(periodLength(3 * 86400, DAY), 3 * DAY);
  t.is(periodLength(1.5 * 86400, DAY), 2 * DAY);
  t.deepEqual(periodOf(T0 + 5 * HOUR, DAY), { begin: T0, end: T0 + DAY });
});

test('one report per (domain, period), one record per (IP, disposition, results) with counts', (t) => {
  const evs = [
    evaluation(),
    evaluation({ receivedAt: T0 + 2 * HOUR }),
    spoofed(),
    spoofed({ receivedAt: T0 + 3 * HOUR }),
    spoofed({ receivedAt: T0 + 4 * HOUR }),
    evaluation({ domain: 'other.test' }),
    evaluation({ receivedAt: T0 + DAY + HOUR }), // next day: not finished at `now`
  ];
  const out = buildReports({ rows: rows(evs), intervalMs: DAY, now: T0 + DAY + 2 * HOUR, reportedUntil: new Map() });
  t.deepEqual(out.skipped, []);
  t.deepEqual(out.reports.map((r) => [r.policyDomain, r.begin, r.end, r.messageCount]), [
    ['example.test', T0, T0 + DAY, 5],
    ['other.test', T0, T0 + DAY, 1],
  ]);
  const ex = out.reports[0]!;
  t.deepEqual(ex.records.map((r) => [r.sourceIp, r.count, r.disposition, r.dkimAligned, r.spfAligned]), [
    ['192.0.2.10', 2, 'none', 'pass', 'pass'],
    ['203.0.113.66', 3, 'reject', 'fail', 'fail'],
  ]);
});

test('already reported periods are not reported again; a longer ri makes longer periods', (t) => {
  const evs = [evaluation(), evaluation({ receivedAt: T0 + DAY + HOUR }), evaluation({ receivedAt: T0 + 2 * DAY + HOUR })];
  const out = buildReports({ rows: rows(evs), intervalMs: DAY, now: T0 + 10 * DAY, reportedUntil: new Map([['example.test', T0 + DAY]]) });
  t.deepEqual(out.reports.map((r) => [r.begin - T0, r.messageCount]), [[DAY, 1], [2 * DAY, 1]]);
  const week = [0, 1, 2].map((d) => evaluation({ receivedAt: T0 + d * DAY + HOUR, policy: policy('example.test', { ri: 7 * 86400 }) }));
  const w = buildReports({ rows: rows(week), intervalMs: DAY, now: T0 + 30 * DAY, reportedUntil: new Map() });
  t.is(w.reports.length, 1);
  t.is(w.reports[0]!.end - w.reports[0]!.begin, 7 * DAY);
  t.is(w.reports[0]!.messageCount, 3);
});

test('half-written rows are skipped with a reason, the rest is reported', (t) => {
  const half = { receivedAt: T0 + HOUR, sourceIp: '192.0.2.1', policy: policy('example.test') }; // no results
  const out = buildReports({ rows: rows([half, evaluation(), null]), intervalMs: DAY, now: T0 + DAY, reportedUntil: new Map() });
  t.deepEqual(out.skipped.map((s) => s.id), [1, 3]);
  t.regex(out.skipped[0]!.reason, /headerFrom missing/);
  t.is(out.reports[0]!.messageCount, 1);
});
