/**
 * `report read` without the terminal: collect documents, parse each as a DMARC aggregate
 * (XML) or TLS-RPT (JSON) report, drop duplicates and reports about domains that are not
 * ours, and summarise. Every document that is skipped is named with its reason.
 */
import { ReportError } from '../errors.ts';
import { collectDocuments, type InputFailure, type ReadLimits } from './inputs.ts';
import { parseAggregateXml, type ReceivedAggregate } from './parse-aggregate.ts';
import { parseTlsRpt, type ReceivedTlsReport } from './parse-tlsrpt.ts';
import { summarize, type Summary } from './summary.ts';

export interface ReadResult {
  readonly summary: Summary;
  readonly dmarc: readonly ReceivedAggregate[];
  readonly tls: readonly ReceivedTlsReport[];
  readonly skipped: readonly InputFailure[];
}

function ours(domain: string, domains: readonly string[]): boolean {
  return domains.length === 0 || domains.some((d) => domain === d || domain.endsWith(`.${d}`));
}

export async function readReports(paths: readonly string[], limits: ReadLimits, ourDomains: readonly string[]): Promise<ReadResult> {
  const { documents, failures } = await collectDocuments(paths, limits);
  const skipped: InputFailure[] = [...failures];
  const dmarc: ReceivedAggregate[] = [];
  const tls: ReceivedTlsReport[] = [];
  const seen = new Set<string>();
  for (const doc of documents) {
    try {
      if (doc.kind === 'xml') {
        const r = parseAggregateXml(doc.text);
        const key = `dmarc\0${r.orgName}\0${r.reportId}`;
        if (seen.has(key)) throw new ReportError('NOT_A_REPORT', `duplicate of report ${r.reportId} from ${r.orgName}`);
        if (!ours(r.policyDomain, ourDomains)) throw new ReportError('NOT_OURS', `report for ${r.policyDomain}, which is not one of our domains (${ourDomains.join(', ')})`);
        seen.add(key);
        dmarc.push(r);
      } else {
        const r = parseTlsRpt(doc.text);
        const key = `tls\0${r.orgName}\0${r.reportId}`;
        if (seen.has(key)) throw new ReportError('NOT_A_REPORT', `duplicate of TLS report ${r.reportId} from ${r.orgName}`);
        const foreign = r.policies.find((p) => !ours(p.policyDomain, ourDomains));
        if (foreign) throw new ReportError('NOT_OURS', `TLS report for ${foreign.policyDomain}, which is not one of our domains`);
        seen.add(key);
        tls.push(r);
      }
    } catch (err) {
      skipped.push({ source: doc.source, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  return { summary: summarize(dmarc, tls), dmarc, tls, skipped };
}
