/**
 * The page a postmaster opens to decide the next step: one self-contained HTML file (no
 * script, no external asset: it opens from disk and as a mail attachment alike). Per policy
 * domain: the proposal and its evidence, what to fix, mail per day, where mail comes from
 * grouped by sending organisation (expandable, sources in numeric address order), who
 * reported; then TLS-RPT failures per MX and type. Every list that is cut says so.
 */
import type { Disposition } from '../read/model.ts';
import { percentOf } from './explain.ts';
import type { Page } from './page.ts';
import type { Counts, DomainPage, OrgGroup, SourceRow, TlsDomainPage } from './page-model.ts';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (n: number): string => n.toLocaleString('en-US');
const day = (s: number): string => new Date(s * 1000).toISOString().slice(0, 10);
const COLORS = { aligned: '#2f9e5b', forwarded: '#4c7fd6', failing: '#d64545', ok: '#2f9e5b' } as const;

function bar(c: Counts, width = 160): string {
  if (!c.messages) return '';
  const seg = (n: number, color: string) => (n ? `<span style="width:${Math.max(1, Math.round((n / c.messages) * width))}px;background:${color}"></span>` : '');
  return `<span class="bar" title="${fmt(c.aligned)} aligned, ${fmt(c.forwarded)} forwarded, ${fmt(c.failing)} failing">${seg(c.aligned, COLORS.aligned)}${seg(c.forwarded, COLORS.forwarded)}${seg(c.failing, COLORS.failing)}</span>`;
}

function applied(a: Record<Disposition, number>): string {
  const parts = (['none', 'quarantine', 'reject'] as const).filter((k) => a[k]).map((k) => `${k} ${fmt(a[k])}`);
  return parts.join(', ') || '–';
}

/** Stacked bars per UTC day (aligned, forwarded, failing), with a date axis and the peak. */
function dailyChart(d: DomainPage): string {
  const days = d.days;
  if (days.length === 0) return '';
  const W = 900;
  const H = 170;
  const left = 56;
  const bottom = 28;
  const max = Math.max(1, ...days.map((x) => x.counts.messages));
  const slot = (W - left - 10) / days.length;
  const bw = Math.max(2, Math.min(28, slot * 0.8));
  const y = (n: number) => ((H - bottom - 14) * n) / max;
  const parts: string[] = [
    `<svg class="daily" data-days="${days.length}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="Messages per day for ${esc(d.domain)}">`,
    `<line x1="${left}" y1="${H - bottom}" x2="${W - 4}" y2="${H - bottom}" stroke="#999"/>`,
    `<text x="${left - 6}" y="18" font-size="11" text-anchor="end" fill="#555">${fmt(max)}</text>`,
    `<text x="${left - 6}" y="${H - bottom}" font-size="11" text-anchor="end" fill="#555">0</text>`,
  ];
  const labelEvery = Math.max(1, Math.ceil(days.length / 12));
  days.forEach((x, i) => {
    const cx = left + i * slot + (slot - bw) / 2;
    let top = H - bottom;
    parts.push(`<g class="day" data-day="${x.day}" data-messages="${x.counts.messages}"><title>${x.day}: ${fmt(x.counts.messages)} messages, ${fmt(x.counts.aligned)} aligned, ${fmt(x.counts.forwarded)} forwarded, ${fmt(x.counts.failing)} failing</title>`);
    for (const [k, color] of [['aligned', COLORS.aligned], ['forwarded', COLORS.forwarded], ['failing', COLORS.failing]] as const) {
      const h = y(x.counts[k]);
      if (h <= 0) continue;
      top -= h;
      parts.push(`<rect class="${k}" x="${cx.toFixed(1)}" y="${top.toFixed(1)}" width="${bw.toFixed(1)}" height="${Math.max(0.5, h).toFixed(1)}" fill="${color}"/>`);
    }
    parts.push('</g>');
    if (i % labelEvery === 0) parts.push(`<text x="${(cx + bw / 2).toFixed(1)}" y="${H - bottom + 16}" font-size="11" text-anchor="middle" fill="#555">${x.day.slice(5)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

function sourceRow(s: SourceRow): string {
  const c = s.counts;
  const cls = c.failing ? (c.unauthenticated >= c.unaligned ? 'spoof' : 'unaligned') : c.forwarded > c.aligned ? 'fwd' : 'ok';
  const ptr = s.ptr ? `${esc(s.ptr)}${s.identity === 'unconfirmed' ? ' <span class="warn">not forward-confirmed</span>' : ''}` : `<span class="muted">${esc(s.org)}</span>`;
  return `<tr class="source ${cls}" data-ip="${esc(s.ip)}"><td class="ip">${esc(s.ip)}</td><td>${ptr}</td><td class="n">${fmt(c.messages)}</td><td class="n">${fmt(c.aligned)}</td><td class="n">${fmt(c.forwarded)}</td><td class="n f">${fmt(c.failing)}</td><td>${applied(c.failingApplied)}</td><td>${esc(s.headerFrom.join(' '))}</td><td class="auth">${esc([...s.dkim.map((x) => `dkim ${x}`), ...s.spf.map((x) => `spf ${x}`)].join(' · '))}</td><td>${esc(s.reporters.join(', '))}</td></tr>`;
}

function orgRow(g: OrgGroup, open: boolean): string {
  const c = g.counts;
  const listed = g.listed.length;
  const more = g.sources - listed;
  return `<details class="org"${open ? ' open' : ''} data-org="${esc(g.org)}" data-sources="${g.sources}"><summary><span class="oname">${esc(g.org)}</span><span class="n">${fmt(g.sources)} source(s)</span><span class="n">${fmt(c.messages)} msg</span>${bar(c)}<span class="n ok">${percentOf(c.aligned + c.forwarded, c.messages)} pass</span>${c.failing ? `<span class="n f">${fmt(c.failing)} failing</span>` : ''}</summary>
<table><thead><tr><th>source</th><th>PTR name</th><th>messages</th><th>aligned</th><th>forwarded</th><th>failing</th><th>failing: applied</th><th>From</th><th>DKIM / SPF seen</th><th>reported by</th></tr></thead><tbody>${g.listed.map(sourceRow).join('')}</tbody></table>${more > 0 ? `<p class="muted">${fmt(more)} more source(s) of this organisation not listed (see --json).</p>` : ''}</details>`;
}

function domainSection(d: DomainPage, page: Page): string {
  const c = d.total;
  const proposal = page.proposals.find((p) => p.domain === d.domain);
  const explanations = page.explanations.filter((e) => e.domain === d.domain && e.kind.startsWith('dkim'));
  const out: string[] = [];
  out.push(`<section class="domain" data-domain="${esc(d.domain)}" data-messages="${c.messages}" data-sources-total="${d.sourceCount}" data-sources-listed="${d.listedCount}" data-reports="${d.reports}">`);
  out.push(`<h2>${esc(d.domain)} <span class="policy">${esc(proposal?.current ?? '')}</span></h2>`);
  out.push(`<div class="kpis"><div><b>${fmt(c.messages)}</b>messages in ${fmt(d.reports)} report(s), ${day(d.begin)} – ${day(d.end)}</div><div class="ok"><b>${percentOf(c.aligned + c.forwarded, c.messages)}</b>passed DMARC</div><div><b style="color:${COLORS.aligned}">${fmt(c.aligned)}</b>aligned</div><div><b style="color:${COLORS.forwarded}">${fmt(c.forwarded)}</b>via forwarders</div><div><b style="color:${COLORS.failing}">${fmt(c.failing)}</b>failing (${fmt(c.unaligned)} unaligned, ${fmt(c.unauthenticated)} unauthenticated)</div><div><b>${applied(c.failingApplied)}</b>applied to failing mail</div></div>`);
  if (proposal) {
    out.push(`<div class="proposal step-${proposal.step}"><h3>Next step</h3><p>${esc(proposal.text)}</p><ul>${proposal.evidence.map((e) => `<li>${esc(e)}</li>`).join('')}</ul></div>`);
  }
  if (explanations.length) {
    out.push(`<div class="explain"><h3>What our own history explains</h3><ul>${explanations.map((e) => `<li class="${e.severity}"><b>${e.severity === 'action' ? 'Fix' : 'Expected'}:</b> ${esc(e.text)}<ul>${e.evidence.map((x) => `<li>${esc(x)}</li>`).join('')}</ul></li>`).join('')}</ul></div>`);
  }
  out.push(`<h3>Mail per day (UTC)</h3>${dailyChart(d)}<p class="legend"><i style="background:${COLORS.aligned}"></i>aligned <i style="background:${COLORS.forwarded}"></i>forwarded (SPF failed, DKIM passed) <i style="background:${COLORS.failing}"></i>failing with ${esc(d.domain)} in From:</p>`);
  out.push(`<h3>Where mail comes from</h3><p class="count">${fmt(d.listedCount)} of ${fmt(d.sourceCount)} sources listed, grouped by the organisation of their forward-confirmed PTR name; sources that fail first.${page.reverseDns.enabled ? '' : ' Reverse DNS was not looked up (--no-dns).'}</p>`);
  const orgs = d.orgs;
  out.push(orgs.map((g, i) => orgRow(g, i < 3 && g.counts.failing > 0 && g.listed.length <= 30)).join('\n'));
  out.push(`<h3>Reporters</h3><table class="reporters"><thead><tr><th>reporter</th><th>reports</th><th>messages</th><th>names seen</th></tr></thead><tbody>${d.reporters.map((r) => `<tr><td>${esc(r.name)}</td><td class="n">${fmt(r.reports)}</td><td class="n">${fmt(r.messages)}</td><td>${esc(r.spellings.join(' / '))}</td></tr>`).join('')}</tbody></table>`);
  out.push('</section>');
  return out.join('\n');
}

function tlsSection(t: TlsDomainPage, page: Page): string {
  const total = t.successful + t.failed;
  const ex = page.explanations.filter((e) => e.domain === t.domain && e.kind.startsWith('tls'));
  return `<section class="tls" data-domain="${esc(t.domain)}" data-failed="${t.failed}" data-successful="${t.successful}"><h2>TLS to ${esc(t.domain)} <span class="policy">${esc(t.policyTypes.map((p) => p.type).join(', '))}</span></h2>
<div class="kpis"><div><b>${fmt(total)}</b>sessions in ${fmt(t.reports)} report(s)</div><div class="ok"><b>${percentOf(t.successful, total)}</b>successful</div><div><b style="color:${COLORS.failing}">${fmt(t.failed)}</b>failed</div><div><b>${esc(t.reporters.join(', '))}</b>reported by</div></div>
${ex.length ? `<div class="explain"><h3>What our own history explains</h3><ul>${ex.map((e) => `<li class="${e.severity}"><b>${e.severity === 'action' ? 'Fix' : 'Note'}:</b> ${esc(e.text)}<ul>${e.evidence.map((x) => `<li>${esc(x)}</li>`).join('')}</ul></li>`).join('')}</ul></div>` : ''}
${t.failures.length ? `<table class="tlsfail"><thead><tr><th>receiving MX</th><th>result type</th><th>failed sessions</th><th>policy</th><th>sending MTAs</th><th>period</th><th>reported by</th></tr></thead><tbody>${t.failures.map((f) => `<tr data-mx="${esc(f.mx)}" data-type="${esc(f.resultType)}"><td>${esc(f.mx)}</td><td>${esc(f.resultType)}</td><td class="n f">${fmt(f.sessions)}</td><td>${esc(f.policyTypes.join(', '))}</td><td class="ip">${esc(f.sendingIps.join(' '))}</td><td>${day(f.first)} – ${day(f.last)}</td><td>${esc(f.reporters.join(', '))}</td></tr>`).join('')}</tbody></table>` : '<p>No failed session.</p>'}</section>`;
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2430;background:#f4f6f9}
header{background:#1d2430;color:#fff;padding:18px 28px}header h1{margin:0 0 4px;font-size:22px}header p{margin:0;color:#c9d1dc}
main{padding:8px 28px 40px;max-width:1400px}
section{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.08);padding:16px 20px;margin:18px 0}
h2{margin:0 0 10px;font-size:19px}h3{font-size:15px;margin:18px 0 6px}.policy{font-weight:normal;color:#5a6472;font-size:14px;margin-left:8px;font-family:ui-monospace,monospace}
.kpis{display:flex;flex-wrap:wrap;gap:10px}.kpis div{background:#f4f6f9;border-radius:6px;padding:8px 12px;min-width:120px;color:#5a6472;font-size:12px}.kpis b{display:block;font-size:20px;color:#1d2430}.kpis .ok b{color:#2f9e5b}
.proposal{border-left:5px solid #4c7fd6;background:#eef3fc;padding:8px 14px;margin:14px 0;border-radius:4px}.proposal h3{margin:4px 0}.proposal p{font-size:15px;font-weight:600;margin:4px 0}
.proposal.step-raise-to-quarantine,.proposal.step-raise-to-reject,.proposal.step-raise-pct{border-color:#2f9e5b;background:#eaf6ef}.proposal.step-hold{border-color:#d6a345;background:#fbf5e9}
.explain li.action>b{color:#b42323}.explain li.info>b{color:#4c7fd6}.explain ul ul{color:#5a6472;font-size:13px}
details.org{border-top:1px solid #e4e8ee;padding:4px 0}details.org summary{cursor:pointer;display:flex;gap:14px;align-items:center;padding:3px 0}
.oname{min-width:260px;font-weight:600}.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}.f{color:#b42323}.ok{color:#2f9e5b}
.bar{display:inline-flex;width:160px;height:10px;background:#eef0f3;border-radius:2px;overflow:hidden}.bar span{display:block;height:10px}
table{border-collapse:collapse;margin:6px 0 10px;font-size:12.5px;width:100%}th,td{border-bottom:1px solid #e4e8ee;padding:3px 7px;text-align:left;vertical-align:top}th{background:#f4f6f9;font-weight:600}
td.ip{font-family:ui-monospace,monospace;white-space:nowrap}td.auth{font-size:11.5px;color:#5a6472;max-width:360px}tr.spoof td.ip{color:#b42323}tr.unaligned td.ip{color:#b46a00}
.muted{color:#8a93a0}.warn{color:#b46a00;font-size:11px}.count{color:#5a6472}.legend i{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px;border-radius:2px}
table.reporters{width:auto}footer{color:#8a93a0;font-size:12px;padding:0 28px 24px}
`;

export function renderHtml(page: Page): string {
  const dm = page.data.domains;
  const totalMsgs = dm.reduce((n, d) => n + d.total.messages, 0);
  const sub = `${fmt(page.read.dmarcReports)} DMARC and ${fmt(page.read.tlsReports)} TLS report(s)${page.window ? `, ${day(page.window.from)} – ${day(page.window.to)}` : ''}; ${fmt(totalMsgs)} messages; generated ${new Date(page.generatedAt).toISOString().replace(/\.\d{3}Z$/, 'Z')}`;
  const body: string[] = [];
  if (dm.length === 0 && page.data.tls.length === 0) body.push('<section><p>No report in this period.</p></section>');
  for (const d of dm) body.push(domainSection(d, page));
  for (const t of page.data.tls) body.push(tlsSection(t, page));
  if (page.skipped.length) {
    body.push(`<section class="skipped" data-skipped="${page.skipped.length}"><h2>Inputs not used (${fmt(page.skipped.length)})</h2><ul>${page.skipped.slice(0, 500).map((k) => `<li><code>${esc(k.source)}</code>: ${esc(k.reason)}</li>`).join('')}</ul>${page.skipped.length > 500 ? `<p class="muted">${fmt(page.skipped.length - 500)} more not listed.</p>` : ''}</section>`);
  }
  const dns = page.reverseDns;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(page.title)}</title><style>${STYLE}</style></head>
<body><header><h1>${esc(page.title)}</h1><p>${esc(sub)}</p></header>
<main>
${body.join('\n')}
</main>
<footer>mailanchor report page. Reverse DNS: ${dns.enabled ? `${fmt(dns.lookedUp)} of ${fmt(dns.sources)} source addresses looked up${dns.budgetSpent ? ' (stopped by the time budget)' : ''}` : 'off'}. Counts are what receivers reported; a message is "forwarded" when DKIM passed while SPF failed, or the receiver said so.</footer>
</body></html>
`;
}
