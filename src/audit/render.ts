/**
 * The audit's outputs, from the same `DomainAudit` values: a text report for a terminal or
 * a cron mail, the JSON contract (docs/audit.md) for scripts and monitoring, and one
 * self-contained HTML page (no scripts, no external assets), worst domains first.
 */
import { CHECK_NAMES, STATUS_RANK, STATUSES, worst, type CheckResult, type CheckStatus, type DomainAudit } from './types.ts';

export const JSON_VERSION = 1;

export function domainStatus(d: DomainAudit): CheckStatus {
  return worst(d.checks.map((c) => c.status));
}

/** Worst check status per check name, for the gauges and the HTML table. */
export function checkStatuses(d: DomainAudit): Map<string, CheckStatus> {
  const m = new Map<string, CheckStatus>();
  for (const c of d.checks) m.set(c.check, worst([m.get(c.check) ?? 'ok', c.status]));
  return m;
}

export function summary(domains: readonly DomainAudit[]): Record<CheckStatus, number> & { domains: number } {
  const s = { domains: domains.length, ok: 0, warn: 0, fail: 0, error: 0 };
  for (const d of domains) s[domainStatus(d)]++;
  return s;
}

/** `{"version":1,"generated":…,"summary":…,"domains":[{"domain","status","checks":[…]}]}`. */
export function renderJson(domains: readonly DomainAudit[], generated: Date): string {
  const doc = {
    version: JSON_VERSION,
    generated: generated.toISOString(),
    summary: summary(domains),
    domains: domains.map((d) => ({
      domain: d.domain,
      ...(d.input !== undefined ? { input: d.input } : {}),
      status: domainStatus(d),
      elapsedMs: d.elapsedMs,
      queries: d.queries,
      checks: d.checks.map((c) => ({ check: c.check, status: c.status, subject: c.subject, detail: c.detail, ...(c.fix ? { fix: c.fix } : {}) })),
    })),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

const LABEL: Record<CheckStatus, string> = { ok: 'ok   ', warn: 'WARN ', fail: 'FAIL ', error: 'ERROR' };

/** One block per domain; `ok` lines only with `verbose`. */
export function renderText(domains: readonly DomainAudit[], options: { verbose: boolean }): string {
  const out: string[] = [];
  for (const d of domains) {
    const status = domainStatus(d);
    out.push(`${d.domain}${d.input !== undefined && d.input !== d.domain ? ` (${d.input})` : ''}: ${status.toUpperCase()}  [${d.checks.length} results, ${d.queries} DNS queries, ${(d.elapsedMs / 1000).toFixed(1)} s]`);
    const shown = options.verbose ? d.checks : d.checks.filter((c) => c.status !== 'ok');
    for (const c of shown) {
      out.push(`  ${LABEL[c.status]} ${c.check.padEnd(9)} ${c.subject}: ${c.detail}`);
      if (c.fix) out.push(`        fix: ${c.fix}`);
    }
    if (!options.verbose) {
      const okChecks = CHECK_NAMES.filter((n) => d.checks.some((c) => c.check === n) && d.checks.filter((c) => c.check === n).every((c) => c.status === 'ok'));
      if (okChecks.length) out.push(`  ok    ${okChecks.join(', ')}`);
    }
  }
  const s = summary(domains);
  out.push(`${s.domains} domain${s.domains === 1 ? '' : 's'}: ${STATUSES.map((st) => `${s[st]} ${st}`).join(', ')}`);
  return `${out.join('\n')}\n`;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const COLOUR: Record<CheckStatus, string> = { ok: '#2e9d4f', warn: '#c98a00', fail: '#d13b3b', error: '#6b4fbb' };

function detailRows(checks: readonly CheckResult[]): string {
  return checks
    .filter((c) => c.status !== 'ok')
    .map((c) => `<tr class="${c.status}"><td><span class="badge ${c.status}">${c.status}</span></td><td>${esc(c.check)}</td><td>${esc(c.subject)}</td><td>${esc(c.detail)}${c.fix ? `<div class="fix">fix: <code>${esc(c.fix)}</code></div>` : ''}</td></tr>`)
    .join('\n');
}

/** The page for `--html FILE`: a summary table (domain × check, worst first) and each domain's findings. */
export function renderHtml(domains: readonly DomainAudit[], generated: Date): string {
  const sorted = [...domains].sort((a, b) => STATUS_RANK[domainStatus(b)] - STATUS_RANK[domainStatus(a)] || a.domain.localeCompare(b.domain));
  const s = summary(domains);
  const head = CHECK_NAMES.filter((n) => n !== 'domain' || domains.some((d) => d.checks.some((c) => c.check === 'domain')));
  const rows = sorted
    .map((d) => {
      const st = checkStatuses(d);
      const cells = head.map((n) => {
        const v = st.get(n);
        return v ? `<td class="cell ${v}" title="${esc(n)}: ${v}">${v}</td>` : '<td class="cell none">–</td>';
      });
      return `<tr><th scope="row"><a href="#d-${esc(d.domain)}">${esc(d.domain)}</a></th><td class="cell ${domainStatus(d)}">${domainStatus(d)}</td>${cells.join('')}</tr>`;
    })
    .join('\n');
  const sections = sorted
    .map((d) => {
      const findings = detailRows(d.checks);
      const okNames = CHECK_NAMES.filter((n) => d.checks.some((c) => c.check === n) && d.checks.filter((c) => c.check === n).every((c) => c.status === 'ok'));
      return `<section id="d-${esc(d.domain)}"><h2>${esc(d.domain)} <span class="badge ${domainStatus(d)}">${domainStatus(d)}</span></h2>${findings ? `<table class="findings"><thead><tr><th>status</th><th>check</th><th>subject</th><th>detail and fix</th></tr></thead><tbody>${findings}</tbody></table>` : '<p>Everything checked is right.</p>'}${okNames.length ? `<p class="okline">ok: ${okNames.map(esc).join(', ')}</p>` : ''}</section>`;
    })
    .join('\n');
  const css = `body{font:14px/1.45 system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}.cell{text-align:center;color:#fff;font-weight:600}.cell.none{color:#999;background:#f5f5f5}${(Object.keys(COLOUR) as CheckStatus[]).map((k) => `.cell.${k},.badge.${k}{background:${COLOUR[k]};color:#fff}`).join('')}.badge{padding:1px 6px;border-radius:3px;font-size:12px}.fix{margin-top:3px;color:#444}code{font-size:12px;word-break:break-all}.okline{color:#2e9d4f}h2{margin-top:1.6em;font-size:17px}`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>mailanchor audit ${esc(generated.toISOString())}</title><style>${css}</style></head>
<body><h1>mailanchor audit</h1>
<p>${esc(generated.toISOString())} — ${s.domains} domains: ${STATUSES.map((k) => `<span class="badge ${k}">${s[k]} ${k}</span>`).join(' ')}</p>
<table id="summary"><thead><tr><th>domain</th><th>status</th>${head.map((n) => `<th>${esc(n)}</th>`).join('')}</tr></thead><tbody>
${rows}
</tbody></table>
${sections}
</body></html>
`;
}
