/** The terminal summary of `report read`. */
import type { InputFailure } from './inputs.ts';
import { pct, type Summary } from './summary.ts';

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const day = (s: number) => new Date(s * 1000).toISOString().slice(0, 16).replace('T', ' ');

export function renderText(s: Summary, skipped: readonly InputFailure[]): string {
  const out: string[] = [];
  out.push(`${s.reports} report(s)${s.domains.length ? ` for ${s.domains.join(', ')}` : ''}${s.period ? `, ${day(s.period.begin)} to ${day(s.period.end)} UTC` : ''}`);
  out.push(`${s.total.messages} message(s): DMARC pass ${pct(s.total.dmarcPass, s.total.messages)}, SPF aligned ${pct(s.total.spfPass, s.total.messages)}, DKIM aligned ${pct(s.total.dkimPass, s.total.messages)}`);
  if (s.orgs.length) {
    out.push('', 'Per reporting organisation:');
    out.push(table(['organisation', 'reports', 'messages', 'SPF', 'DKIM', 'DMARC'], s.orgs.map((o) => [o.orgName, String(o.reports), String(o.messages), pct(o.spfPass, o.messages), pct(o.dkimPass, o.messages), pct(o.dmarcPass, o.messages)])));
  }
  if (s.sources.length) {
    out.push('', 'Per source IP:');
    out.push(table(['source IP', 'messages', 'SPF', 'DKIM', 'DMARC', 'From domains'], s.sources.map((x) => [x.sourceIp, String(x.messages), pct(x.spfPass, x.messages), pct(x.dkimPass, x.messages), pct(x.dmarcPass, x.messages), x.headerFrom.join(' ')])));
  }
  out.push('');
  if (s.failing.length) {
    out.push('Sources failing DMARC (check whether they are yours: add them to SPF or sign with DKIM; if not, they are spoofing):');
    for (const f of s.failing) {
      const disp = Object.entries(f.dispositions).map(([k, v]) => `${k} ${v}`).join(', ');
      out.push(`  ${f.sourceIp}: ${f.failed} of ${f.messages} failed (${disp}); From ${f.headerFrom.join(' ') || '?'}; reported by ${f.orgs.join(', ')}`);
    }
  } else if (s.sources.length) out.push('No source failed DMARC.');
  if (s.tls.length) {
    out.push('', 'TLS reports (RFC 8460):');
    out.push(
      table(
        ['organisation', 'policy domain', 'type', 'ok sessions', 'failed', 'failure types'],
        s.tls.map((t) => [t.orgName, t.policyDomain, t.policyType, String(t.successful), String(t.failed), Object.entries(t.failureTypes).map(([k, v]) => `${k} ${v}`).join(', ')]),
      ),
    );
  }
  if (skipped.length) {
    out.push('', `Skipped ${skipped.length} input(s):`);
    for (const k of skipped) out.push(`  ${k.source}: ${k.reason}`);
  }
  return `${out.join('\n')}\n`;
}
