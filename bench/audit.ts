/**
 * `node bench/audit.ts [--domains N] [--concurrency C] [--connect] [--runs R]`: the domain
 * audit against the real thing — the audit lab (test/audit/lab.ts: a Knot parent, two Knot
 * authoritative servers with ldns-signed zones, a validating Unbound, STARTTLS and HTTPS on
 * loopback) with N extra healthy customer zones — and measures DNS queries per domain (what
 * the audit put on the wire: resolver and authoritative queries alike, counted by its
 * transport) and wall time per 100 domains. Each run starts with empty caches (a fresh
 * AuditDns), as a timer-started audit does. Needs root (ports 53/25/443 on 127.53.x.y).
 * Prints a Markdown table and writes it with the raw figures to bench/results/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { auditDomains } from '../src/audit/runner.ts';
import { domainStatus } from '../src/audit/render.ts';
import { bulkDomains, labMissing, startLab } from '../test/audit/lab.ts';

const { values } = parseArgs({ options: { domains: { type: 'string' }, concurrency: { type: 'string' }, connect: { type: 'boolean' }, runs: { type: 'string' } } });
const n = Number(values.domains ?? 200);
const concurrency = Number(values.concurrency ?? 8);
const runs = Number(values.runs ?? 3);
const missing = labMissing();
if (missing) {
  console.error(`bench/audit.ts: ${missing}`);
  process.exit(2);
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};

const t0 = Date.now();
const lab = await startLab({ bulk: n });
const setupMs = Date.now() - t0;
const rows: Record<string, number | string>[] = [];
try {
  const domains = bulkDomains(n);
  for (let r = 1; r <= runs; r++) {
    const dns = lab.dns();
    const settings = await lab.settings({ connect: values.connect ?? false });
    const started = performance.now();
    const audits = await auditDomains(domains, dns, settings, { concurrency });
    const wall = performance.now() - started;
    const bad = audits.filter((a) => domainStatus(a) !== 'ok');
    if (bad.length) console.error(`run ${r}: ${bad.length} domains not ok, e.g. ${bad[0]!.domain}: ${bad[0]!.checks.filter((c) => c.status !== 'ok').map((c) => `${c.check} ${c.status}: ${c.detail}`).join('; ')}`);
    const per = audits.map((a) => a.queries);
    rows.push({
      run: r,
      domains: n,
      concurrency,
      connect: values.connect ? 'yes' : 'no',
      wallSeconds: +(wall / 1000).toFixed(2),
      secondsPer100: +((wall / 1000 / n) * 100).toFixed(2),
      queriesTotal: dns.queries(),
      queriesPerDomainMean: +(dns.queries() / n).toFixed(1),
      queriesPerDomainP50: pct(per, 50),
      queriesPerDomainP95: pct(per, 95),
      domainMsP50: pct(audits.map((a) => a.elapsedMs), 50),
      domainMsP95: pct(audits.map((a) => a.elapsedMs), 95),
      notOk: bad.length,
    });
  }
} finally {
  await lab.stop();
}
const head = ['run', 'domains', 'concurrency', 'connect', 'wallSeconds', 'secondsPer100', 'queriesTotal', 'queriesPerDomainMean', 'queriesPerDomainP50', 'queriesPerDomainP95', 'domainMsP50', 'domainMsP95', 'notOk'];
const table = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((row) => `| ${head.map((h) => String(row[h])).join(' | ')} |`)].join('\n');
const note = `${cpus().length} cores (${cpus()[0]?.model ?? '?'}), Node ${process.version}; lab set up in ${(setupMs / 1000).toFixed(1)} s`;
console.log(`${table}\n\n${note}`);
const dir = join(import.meta.dirname, 'results');
mkdirSync(dir, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
writeFileSync(join(dir, `audit-${stamp}.json`), `${JSON.stringify({ rows, note }, null, 2)}\n`);
writeFileSync(join(dir, `audit-${stamp}.md`), `${table}\n\n${note}\n`);
