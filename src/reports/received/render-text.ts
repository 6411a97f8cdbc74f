/** The terminal form of the page: the same facts as the HTML, the worst first, cut lists counted. */
import type { Disposition } from '../read/model.ts';
import { percentOf } from './explain.ts';
import type { Page } from './page.ts';

const fmt = (n: number): string => n.toLocaleString('en-US');
const day = (s: number): string => new Date(s * 1000).toISOString().slice(0, 10);

function table(head: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

const applied = (a: Record<Disposition, number>): string => (['none', 'quarantine', 'reject'] as const).filter((k) => a[k]).map((k) => `${k} ${fmt(a[k])}`).join(', ') || '-';

/** Sources printed per domain in the terminal; the HTML and JSON have more. */
const TEXT_SOURCES = 25;

export function renderText(page: Page): string {
  const out: string[] = [];
  const w = page.window ? `, ${day(page.window.from)} to ${day(page.window.to)}` : '';
  out.push(`${fmt(page.read.dmarcReports)} DMARC and ${fmt(page.read.tlsReports)} TLS report(s)${w}${page.read.duplicates ? ` (${fmt(page.read.duplicates)} duplicate(s) not counted again)` : ''}`);
  for (const d of page.data.domains) {
    const c = d.total;
    out.push('', `== ${d.domain}: ${fmt(c.messages)} message(s) in ${fmt(d.reports)} report(s), ${day(d.begin)} to ${day(d.end)}`);
    out.push(`   passed DMARC ${percentOf(c.aligned + c.forwarded, c.messages)}: aligned ${fmt(c.aligned)}, via forwarders ${fmt(c.forwarded)}; failing ${fmt(c.failing)} (unaligned ${fmt(c.unaligned)}, unauthenticated ${fmt(c.unauthenticated)}); applied to failing: ${applied(c.failingApplied)}`);
    const p = page.proposals.find((x) => x.domain === d.domain);
    if (p) {
      out.push(`   policy ${p.current}. Next step: ${p.text}`);
      for (const e of p.evidence.slice(1)) out.push(`     ${e}`);
    }
    for (const e of page.explanations.filter((x) => x.domain === d.domain && x.kind.startsWith('dkim'))) {
      out.push(`   ${e.severity === 'action' ? 'FIX' : 'expected'}: ${e.text}`);
      for (const x of e.evidence) out.push(`     ${x}`);
    }
    out.push('', '   per day (UTC):');
    out.push(...table(['day', 'messages', 'aligned', 'forwarded', 'failing'], d.days.map((x) => [x.day, fmt(x.counts.messages), fmt(x.counts.aligned), fmt(x.counts.forwarded), fmt(x.counts.failing)])).map((l) => `   ${l}`));
    const sources = d.orgs.flatMap((g) => g.listed).sort((a, b) => b.counts.failing - a.counts.failing || b.counts.messages - a.counts.messages).slice(0, TEXT_SOURCES);
    out.push('', `   sources (${fmt(sources.length)} of ${fmt(d.sourceCount)} shown, failing first):`);
    out.push(
      ...table(
        ['source', 'organisation / PTR', 'messages', 'aligned', 'fwd', 'failing', 'applied to failing', 'From'],
        sources.map((s) => [s.ip, s.ptr ? `${s.ptr}${s.identity === 'unconfirmed' ? ' (unconfirmed)' : ''}` : s.org, fmt(s.counts.messages), fmt(s.counts.aligned), fmt(s.counts.forwarded), fmt(s.counts.failing), applied(s.counts.failingApplied), s.headerFrom.join(' ')]),
      ).map((l) => `   ${l}`),
    );
    out.push('', `   by organisation (${fmt(d.orgs.length)}):`);
    out.push(...table(['organisation', 'sources', 'messages', 'passed', 'failing'], d.orgs.slice(0, TEXT_SOURCES).map((g) => [g.org, fmt(g.sources), fmt(g.counts.messages), percentOf(g.counts.aligned + g.counts.forwarded, g.counts.messages), fmt(g.counts.failing)])).map((l) => `   ${l}`));
    out.push('', `   reporters: ${d.reporters.map((r) => `${r.name} (${fmt(r.reports)})`).join(', ')}`);
  }
  for (const t of page.data.tls) {
    out.push('', `== TLS to ${t.domain}: ${fmt(t.successful + t.failed)} session(s), ${fmt(t.failed)} failed (${percentOf(t.successful, t.successful + t.failed)} successful), reported by ${t.reporters.join(', ')}`);
    if (t.failures.length) out.push(...table(['receiving MX', 'result type', 'sessions', 'period', 'sending MTAs'], t.failures.map((f) => [f.mx, f.resultType, fmt(f.sessions), `${day(f.first)}..${day(f.last)}`, f.sendingIps.join(' ')])).map((l) => `   ${l}`));
    for (const e of page.explanations.filter((x) => x.domain === t.domain && x.kind.startsWith('tls'))) {
      out.push(`   ${e.severity === 'action' ? 'FIX' : 'note'}: ${e.text}`);
      for (const x of e.evidence) out.push(`     ${x}`);
    }
  }
  if (page.skipped.length) {
    out.push('', `Skipped ${fmt(page.skipped.length)} input(s):`);
    for (const k of page.skipped) out.push(`  ${k.source}: ${k.reason}`);
  }
  return `${out.join('\n')}\n`;
}
