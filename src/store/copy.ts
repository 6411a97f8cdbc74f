/**
 * `mailanchor store migrate --from FILE --to URL`: moves one host's SQLite store into a shared
 * (PostgreSQL) one through the ports, so both adapters' rules apply on the way in.
 *
 *   keys          copied with their states, dates and "seen everywhere" marks — unless the
 *                 target already has keys for that domain (another host moved first): two
 *                 key sets for one domain would mean two active keys, so that domain is
 *                 skipped and named, and the host signs with the fleet's keys afterwards;
 *   evaluations   every evaluation with a policy domain (the ones reports need), appended,
 *                 a day at a time (memory stays bounded);
 *   reports       the ledger with each delivery's state, so nothing already sent goes out
 *                 again; a report the target has for the same (domain, period) is kept;
 *   suppressions and bounce counts, merged;
 *   received     the received DMARC and TLS reports (`report import`'s history) with their
 *                source and import time, a report at a time with its records in batches;
 *                one the target holds already (same reporter, report id and domain — another
 *                host imported it too) is kept once.
 *
 * Run it once per file: evaluations are appended, not matched.
 */
import type { Store } from './store.ts';

export interface CopyReport {
  readonly keys: number;
  readonly keyDomainsSkipped: readonly string[];
  readonly evaluations: number;
  readonly reports: number;
  readonly reportsSkipped: number;
  readonly suppressions: number;
  readonly bounces: number;
  readonly received: number;
  readonly receivedSkipped: number;
}

const DAY = 86_400_000;

export async function copyStore(from: Store, to: Store, options: { readonly keys?: boolean; readonly onProgress?: (line: string) => void } = {}): Promise<CopyReport> {
  const say = options.onProgress ?? (() => {});
  let keys = 0;
  const keyDomainsSkipped: string[] = [];
  if (options.keys !== false) {
    const source = await from.keys.list();
    const targetDomains = new Set((await to.keys.list()).map((k) => k.domain));
    for (const domain of [...new Set(source.map((k) => k.domain))].sort()) {
      if (targetDomains.has(domain)) {
        keyDomainsSkipped.push(domain);
        continue;
      }
      for (const k of source.filter((x) => x.domain === domain)) {
        await to.keys.insert({ id: k.id, domain: k.domain, selector: k.selector, algorithm: k.algorithm, state: k.state, createdAt: k.createdAt, privateKeyPem: k.privateKeyPem, publicKeyPem: k.publicKeyPem });
        // insert() dates the state at creation; restore the real state date and mark.
        await to.keys.apply([{ id: k.id, state: k.state, seenEverywhereAt: k.seenEverywhereAt ?? null }], k.stateSince);
        keys++;
      }
    }
    say(`keys: ${keys} copied${keyDomainsSkipped.length ? `; domains already in the target, kept as they are there: ${keyDomainsSkipped.join(', ')}` : ''}`);
  }

  let evaluations = 0;
  const span = await from.evaluations.summary();
  if (span.first !== undefined && span.last !== undefined) {
    const sink = to.openEvaluationSink();
    try {
      for (let t = Math.floor(span.first / DAY) * DAY; t <= span.last; t += DAY) {
        const { rows } = await from.evaluations.list({ from: t, to: t + DAY });
        for (let i = 0; i < rows.length; i += 1000) await sink.insertBatch(rows.slice(i, i + 1000).map((r) => r.evaluation));
        evaluations += rows.length;
      }
    } finally {
      await sink.close();
    }
  }
  say(`evaluations: ${evaluations} copied`);

  let reports = 0;
  let reportsSkipped = 0;
  const deliveries = await from.ledger.listDeliveries();
  for (const r of await from.ledger.listReports()) {
    const xmlGz = await from.ledger.reportXmlGz(r.reportId);
    if (!xmlGz) continue;
    const ds = deliveries.filter((d) => d.reportId === r.reportId).map((d) => ({ address: d.address, uri: d.uri, state: d.state, ...(d.reason !== null ? { reason: d.reason } : {}) }));
    const { createdAt, ...rest } = r;
    if (await to.ledger.insertReport({ ...rest, xmlGz, deliveries: ds }, createdAt)) reports++;
    else reportsSkipped++;
  }
  say(`reports: ${reports} copied${reportsSkipped ? `, ${reportsSkipped} already in the target (kept)` : ''}`);

  let suppressions = 0;
  for (const s of await from.ledger.listSuppressions()) {
    await to.ledger.addSuppression(s.entry, s.reason, s.addedAt);
    suppressions++;
  }
  let bounces = 0;
  for (const b of await from.ledger.listBounces()) {
    for (let i = 0; i < b.count; i++) await to.ledger.recordBounce(b.address, b.lastAt, b.lastReason);
    bounces++;
  }
  say(`suppressions: ${suppressions}, bounce counters: ${bounces}`);

  let received = 0;
  let receivedSkipped = 0;
  const everything = { from: Number.MIN_SAFE_INTEGER, to: Number.MAX_SAFE_INTEGER, domains: [] };
  for await (const { report, rows } of from.received.dmarc(everything)) {
    const claim = await to.received.beginDmarc(report.header, { source: report.source, importedAt: report.importedAt });
    if (claim.kind !== 'new') {
      receivedSkipped++;
      continue;
    }
    try {
      for await (const batch of rows) await claim.sink.rows(batch);
      await claim.sink.commit(report.stats, report.warnings);
    } catch (err) {
      await claim.sink.abort().catch(() => undefined);
      throw err;
    }
    received++;
  }
  for await (const { report, source, importedAt } of from.received.tls(everything)) {
    if ((await to.received.addTls(report, { source, importedAt })) === 'stored') received++;
    else receivedSkipped++;
  }
  say(`received reports: ${received} copied${receivedSkipped ? `, ${receivedSkipped} already in the target (kept)` : ''}`);
  return { keys, keyDomainsSkipped, evaluations, reports, reportsSkipped, suppressions, bounces, received, receivedSkipped };
}
