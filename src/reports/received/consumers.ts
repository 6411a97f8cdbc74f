/**
 * Where the reader's reports go: into a page (`report read`: de-duplicated within the run)
 * or into the history store (`report import`: de-duplicated against everything stored).
 * Both refuse reports about domains that are not ours, when our domains are configured.
 */
import { isSubdomainOf } from '../../mail/domain.ts';
import { ReportError } from '../errors.ts';
import { reporterKey, type AggregateHeader, type AggregateRow, type TlsReport } from '../read/model.ts';
import type { ReportConsumer } from '../read/reader.ts';
import type { PageBuilder } from './page-model.ts';
import type { ReceivedReportStore } from './store.ts';

export function isOurs(domain: string, ours: readonly string[]): boolean {
  return ours.length === 0 || ours.some((d) => isSubdomainOf(domain, d));
}

function checkOurs(domains: readonly string[], ours: readonly string[]): void {
  const foreign = domains.find((d) => !isOurs(d, ours));
  if (foreign) throw new ReportError('NOT_OURS', `report for ${foreign}, which is not one of our domains (${ours.join(', ')}; reports.domains)`);
}

/** Rows of one report held before they are folded into the page. */
const FOLD_AT = 5000;

/** Folds reports into `builder`; a report read twice in one run counts once. */
export function pageConsumer(builder: PageBuilder, ours: readonly string[]): ReportConsumer {
  const seen = new Set<string>();
  return {
    async dmarc(h: AggregateHeader) {
      checkOurs([h.policy.domain], ours);
      const key = `d\0${reporterKey(h.orgName)}\0${h.reportId}\0${h.policy.domain}`;
      if (seen.has(key)) throw new ReportError('DUPLICATE', `duplicate of report ${h.reportId} from ${h.orgName} (already read in this run)`);
      // Rows wait until the report ended well, so a report that breaks half-way counts for
      // nothing; past FOLD_AT rows (a 100 MB report) they are folded as they come instead
      // of being held, and a later failure says that its first rows were counted.
      let feed: ((rows: readonly AggregateRow[]) => void) | undefined;
      let pending: (readonly AggregateRow[])[] = [];
      let held = 0;
      const flush = (): void => {
        feed ??= builder.dmarc(h);
        for (const b of pending) feed(b);
        pending = [];
        held = 0;
      };
      return {
        rows: async (batch) => {
          if (feed) return feed(batch);
          pending.push(batch);
          held += batch.length;
          if (held >= FOLD_AT) flush();
        },
        commit: async () => {
          seen.add(key);
          flush();
        },
        abort: async () => {
          pending = [];
          return feed ? `the report's first ${FOLD_AT} or more records are counted` : undefined;
        },
      };
    },
    async tls(r: TlsReport) {
      checkOurs(r.policies.map((p) => p.policyDomain), ours);
      const key = `t\0${reporterKey(r.orgName)}\0${r.reportId}`;
      if (seen.has(key)) throw new ReportError('DUPLICATE', `duplicate of TLS report ${r.reportId} from ${r.orgName} (already read in this run)`);
      seen.add(key);
      builder.tls(r);
    },
  };
}

export interface ImportCounters {
  stored: number;
  duplicates: number;
  inProgress: number;
}

/**
 * Stores reports in the history; a report already stored is a `DUPLICATE` outcome, one
 * another import is storing right now `IN_PROGRESS` (its mail is left for the next run).
 */
export function storeConsumer(store: ReceivedReportStore, ours: readonly string[], source: (s: string) => string, now: () => number, counters: ImportCounters): ReportConsumer {
  return {
    async dmarc(h) {
      checkOurs([h.policy.domain], ours);
      const r = await store.beginDmarc(h, { source: source(h.reportId), importedAt: now() });
      if (r.kind === 'duplicate') {
        counters.duplicates++;
        throw new ReportError('DUPLICATE', `report ${h.reportId} from ${h.orgName} is already stored (imported ${new Date(r.importedAt).toISOString()} from ${r.source})`);
      }
      if (r.kind === 'in-progress') {
        counters.inProgress++;
        throw new ReportError('IN_PROGRESS', `report ${h.reportId} from ${h.orgName} is being stored by another import (started ${new Date(r.importedAt).toISOString()} from ${r.source}); left for the next run`);
      }
      return {
        rows: (b) => r.sink.rows(b),
        commit: async (stats, warnings) => {
          await r.sink.commit(stats, warnings);
          counters.stored++;
        },
        abort: () => r.sink.abort(),
      };
    },
    async tls(rep) {
      checkOurs(rep.policies.map((p) => p.policyDomain), ours);
      if ((await store.addTls(rep, { source: source(rep.reportId), importedAt: now() })) === 'duplicate') {
        counters.duplicates++;
        throw new ReportError('DUPLICATE', `TLS report ${rep.reportId} from ${rep.orgName} is already stored`);
      }
      counters.stored++;
    },
  };
}

