/**
 * Prometheus gauges for a finished run, in the text exposition format, for node_exporter's
 * textfile collector (`--collector.textfile.directory`): written to a temporary file and
 * renamed into place, so the collector never reads half a file. A gauge per domain and
 * check — the worst status of that check: 0 ok, 1 warn, 2 fail, 3 error — plus the run's
 * time and duration. Chosen over a push to the milter's endpoint because the audit runs from
 * a timer without the milter, and a textfile survives between runs (docs/audit.md).
 */
import { rename, writeFile } from 'node:fs/promises';
import { checkStatuses, domainStatus } from './render.ts';
import { STATUS_RANK, type DomainAudit } from './types.ts';

/** Label values escape backslash, double quote and newline (exposition format). */
const label = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export function renderMetrics(domains: readonly DomainAudit[], finishedAt: Date, durationMs: number): string {
  const lines = [
    '# HELP mailanchor_audit_check_status Worst status of one audit check of one domain: 0 ok, 1 warn, 2 fail, 3 error.',
    '# TYPE mailanchor_audit_check_status gauge',
  ];
  for (const d of domains) for (const [check, status] of checkStatuses(d)) lines.push(`mailanchor_audit_check_status{domain="${label(d.domain)}",check="${label(check)}"} ${STATUS_RANK[status]}`);
  lines.push('# HELP mailanchor_audit_domain_status Worst status of all checks of one domain: 0 ok, 1 warn, 2 fail, 3 error.', '# TYPE mailanchor_audit_domain_status gauge');
  for (const d of domains) lines.push(`mailanchor_audit_domain_status{domain="${label(d.domain)}"} ${STATUS_RANK[domainStatus(d)]}`);
  lines.push('# HELP mailanchor_audit_domain_dns_queries DNS queries the last audit of the domain sent.', '# TYPE mailanchor_audit_domain_dns_queries gauge');
  for (const d of domains) lines.push(`mailanchor_audit_domain_dns_queries{domain="${label(d.domain)}"} ${d.queries}`);
  lines.push(
    '# HELP mailanchor_audit_last_run_timestamp_seconds When the last audit run finished.',
    '# TYPE mailanchor_audit_last_run_timestamp_seconds gauge',
    `mailanchor_audit_last_run_timestamp_seconds ${Math.floor(finishedAt.getTime() / 1000)}`,
    '# HELP mailanchor_audit_last_run_duration_seconds How long the last audit run took.',
    '# TYPE mailanchor_audit_last_run_duration_seconds gauge',
    `mailanchor_audit_last_run_duration_seconds ${(durationMs / 1000).toFixed(3)}`,
  );
  return `${lines.join('\n')}\n`;
}

export async function writeMetricsFile(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode: 0o644 });
  await rename(tmp, file);
}
