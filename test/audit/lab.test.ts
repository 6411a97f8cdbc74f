/**
 * `mailanchor audit` against the real thing (test/audit/lab.ts): Knot parent and two
 * authoritative servers, zones signed by ldns, Unbound validating, an SMTP server with
 * STARTTLS and an HTTPS MTA-STS server on loopback. A healthy domain audits all `ok`; each
 * defect planted alone is named by its check, with a fix, and no other check changes status.
 */
import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { run } from '../../src/cli/audit.ts';
import { checkStatuses } from '../../src/audit/render.ts';
import { auditDomain } from '../../src/audit/runner.ts';
import type { CheckName, CheckStatus, DomainAudit } from '../../src/audit/types.ts';
import { captureIo } from '../support/cli-io.ts';
import { DEFECTS, HEALTHY, labMissing, startLab, type Lab } from './lab.ts';

const missing = labMissing();
const it = missing ? test.serial.skip : test.serial;
if (missing) test.skip(`audit lab: ${missing}`, () => {});

let lab: Lab | undefined;
test.before(async () => {
  if (!missing) lab = await startLab();
});
test.after.always(async () => {
  await lab?.stop();
});

const statuses = (a: DomainAudit): Record<string, CheckStatus> => Object.fromEntries(checkStatuses(a));

function describe(a: DomainAudit): string {
  return a.checks
    .filter((c) => c.status !== 'ok')
    .map((c) => `${c.status} ${c.check} ${c.subject}: ${c.detail}`)
    .join('\n');
}

async function audit(domain: string, connect = false): Promise<DomainAudit> {
  return auditDomain(domain, lab!.dns(), await lab!.settings({ connect }));
}

it('healthy domains audit all ok — without and with --connect (STARTTLS to every MX address, the MTA-STS policy over HTTPS)', async (t) => {
  for (const domain of HEALTHY) {
    for (const connect of [false, true]) {
      const a = await audit(domain, connect);
      t.deepEqual(a.checks.filter((c) => c.status !== 'ok'), [], `${domain} connect=${connect}:\n${describe(a)}`);
      // Every check ran (the domain check only exists for bad input).
      t.deepEqual(new Set(a.checks.map((c) => c.check)), new Set<CheckName>(['ns', 'dnssec', 'mx', 'ptr', 'spf', 'dkim', 'dmarc', 'dmarc-rua', 'dane', 'mta-sts', 'tls-rpt']));
      if (connect) {
        t.true(a.checks.some((c) => c.check === 'dane' && /present over STARTTLS/.test(c.detail)), 'the presented chains were compared');
        t.true(a.checks.some((c) => c.check === 'mta-sts' && c.subject.startsWith('https://') && /mode: enforce/.test(c.detail)), 'the policy was fetched');
      }
      t.true(a.queries > 10, `${a.queries} queries counted`);
    }
  }
  const hosted = await audit('hosted.example');
  t.regex(hosted.checks.find((c) => c.check === 'dkim')!.detail, /on all 8 authoritative servers/, 'the target zone and the customer CNAME were both checked on every server');
});

const PLANTED: Record<(typeof DEFECTS)[number], { check: CheckName; status: CheckStatus; detail: RegExp; subject?: RegExp }> = {
  'noptr6.example': { check: 'ptr', status: 'fail', detail: /no PTR record for 2001:db8::25 .*IPv6/, subject: /2001:db8::25/ },
  'spf11.example': { check: 'spf', status: 'fail', detail: /^11 DNS-querying terms .*limit is 10/ },
  'dkim1024.example': { check: 'dkim', status: 'warn', detail: /RSA key of 1024 bits/ },
  'rua.example': { check: 'dmarc-rua', status: 'fail', detail: /rua\.example\._report\._dmarc\.elsewhere\.example does not exist/ },
  'dsbad.example': { check: 'dnssec', status: 'fail', detail: /no DS at the parent matches a DNSKEY/ },
  'expired.example': { check: 'dnssec', status: 'fail', detail: /expired/, subject: /^ns2\.hoster\.example \[127\./ },
  'lagging.example': { check: 'ns', status: 'warn', detail: /lagging: SOA serial 2026120101, other servers serve 2026120102/, subject: /^ns2\.hoster\.example \[127\./ },
};

it('each defect planted alone is named by its check with a fix, and no other check changes status', async (t) => {
  const baseline = statuses(await audit('good.example'));
  for (const [domain, want] of Object.entries(PLANTED)) {
    const a = await audit(domain);
    const got = statuses(a);
    t.is(got[want.check], want.status, `${domain}: ${want.check}\n${describe(a)}`);
    const named = a.checks.filter((c) => c.check === want.check && c.status === want.status && want.detail.test(c.detail) && (!want.subject || want.subject.test(c.subject)));
    t.true(named.length > 0, `${domain}: no ${want.status} ${want.check} result matching ${want.detail}\n${describe(a)}`);
    t.true(named.every((c) => typeof c.fix === 'string' && c.fix.length > 10), `${domain}: the finding carries a fix`);
    for (const [check, status] of Object.entries(baseline)) {
      if (check !== want.check) t.is(got[check], status, `${domain}: ${check} changed\n${describe(a)}`);
    }
  }
});

it('a TLSA record that does not match the certificate STARTTLS presents: dane fails for each address, with the records to publish', async (t) => {
  const baseline = statuses(await audit('good.example', true));
  const a = await audit('tlsabad.example', true);
  const dane = a.checks.filter((c) => c.check === 'dane' && c.status === 'fail');
  t.deepEqual(dane.map((c) => c.subject.replace(/ at .*/, '')), ['_25._tcp.mx-wrong.hoster.example', '_25._tcp.mx-wrong.hoster.example'], describe(a));
  t.true(dane.some((c) => c.subject.endsWith(`at ${lab!.mxAddress}`)) && dane.some((c) => c.subject.endsWith('at ::1')), 'both the IPv4 and the IPv6 address were probed');
  t.true(dane.every((c) => /matches no TLSA record/.test(c.detail) && /IN TLSA 3 1 1 [0-9a-f]{64}/.test(c.fix ?? '')));
  const got = statuses(a);
  for (const [check, status] of Object.entries(baseline)) if (check !== 'dane') t.is(got[check], status, `${check}\n${describe(a)}`);
  // Without --connect and without a configured certificate for mx-wrong there is nothing to compare: not a verdict.
  t.is(statuses(await audit('tlsabad.example'))['dane'], 'ok');
});

it('servers that time out, answer garbage or refuse: ns says error (and names them), the other checks are unaffected', async (t) => {
  const baseline = statuses(await audit('good.example'));
  const started = Date.now();
  const a = await audit('faults.example');
  t.true(Date.now() - started < 20_000, `took ${Date.now() - started} ms`);
  const ns = a.checks.filter((c) => c.check === 'ns');
  t.true(ns.some((c) => c.status === 'error' && /\.71\]$/.test(c.subject) && /no reply/.test(c.detail)), `silent server\n${describe(a)}`);
  t.true(ns.some((c) => c.status === 'error' && /\.66\]$/.test(c.subject) && /malformed/.test(c.detail)), 'garbage server');
  t.true(ns.some((c) => c.status === 'error' && /\.67\]$/.test(c.subject) && /REFUSED/.test(c.detail)), 'refusing server');
  const got = statuses(a);
  for (const [check, status] of Object.entries(baseline)) if (check !== 'ns') t.is(got[check], status, `${check}\n${describe(a)}`);
});

it('a nameserver that stops answering mid-run (Knot frozen): its addresses are errors, every other check still ok', async (t) => {
  lab!.b.freeze();
  try {
    const started = Date.now();
    const a = await audit('good.example');
    t.true(Date.now() - started < 15_000, `took ${Date.now() - started} ms`);
    const frozen = a.checks.filter((c) => c.status !== 'ok');
    t.true(frozen.length > 0);
    t.true(
      frozen.every((c) => c.check === 'ns' && c.status === 'error' && /^ns2\.hoster\.example \[127\./.test(c.subject)),
      describe(a),
    );
  } finally {
    lab!.b.thaw();
  }
});

it('hundreds of MX and TLSA records: bounded (10 MX hosts audited, 300 TLSA read over TCP), no crash', async (t) => {
  const started = Date.now();
  const a = await audit('many.example');
  t.true(Date.now() - started < 20_000);
  t.true(a.checks.some((c) => c.check === 'mx' && c.status === 'warn' && /301 MX records; only the 10/.test(c.detail)), describe(a));
  t.is(a.checks.filter((c) => c.check === 'mx' && c.subject !== 'many.example').length, 10);
  const many = a.checks.find((c) => c.check === 'dane' && c.subject === '_25._tcp.mx-many.hoster.example');
  t.regex(many?.detail ?? '', /300 TLSA records/);
});

it('signatures that expire soon are warned, per server (clock injected 29 days ahead; the lab signs for 30)', async (t) => {
  const later = Date.now() + 29 * 86_400_000;
  const a = await auditDomain('good.example', lab!.dns(), await lab!.settings({ now: () => later }));
  const dnssec = a.checks.filter((c) => c.check === 'dnssec' && c.status === 'warn');
  t.is(dnssec.length, 4, describe(a));
  t.true(dnssec.every((c) => /signatures expire .* \(in 0\.\d|1\.\d days\)/.test(c.detail) || /in [01]\.\d days/.test(c.detail)), describe(a));
  t.true(a.checks.filter((c) => c.check !== 'dnssec').every((c) => c.status === 'ok'), describe(a));
});

it('the per-domain time budget: checks still running say error with the reason, and the audit returns', async (t) => {
  // faults.example names a server that never answers: finding its servers alone takes longer than 0.5 s.
  const started = Date.now();
  const a = await auditDomain('faults.example', lab!.dns(), await lab!.settings({ domainTimeoutMs: 500 }));
  t.true(Date.now() - started < 3000, `${Date.now() - started} ms`);
  const timedOut = a.checks.filter((c) => c.status === 'error' && /time budget of 0\.5 s for faults\.example ran out/.test(c.detail));
  t.true(timedOut.some((c) => c.check === 'ns') && timedOut.some((c) => c.check === 'dnssec'), describe(a));
});

async function cli(args: string[], config: string) {
  const io = captureIo();
  const code = await run([...args, '--config', config], io);
  return { code, out: io.out(), err: io.err() };
}

it('the CLI: JSON contract, exit codes, --html page worst first, Prometheus textfile, --all', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mailanchor-audit-cli-'));
  try {
    const config = join(dir, 'mailanchor.yml');
    writeFileSync(config, lab!.configText());
    const good = await cli(['good.example', '--json'], config);
    t.is(good.code, 0, good.err);
    const doc = JSON.parse(good.out) as { version: number; domains: { domain: string; status: string; checks: { check: string; status: string; subject: string; detail: string; fix?: string }[] }[] };
    t.is(doc.version, 1);
    t.deepEqual(doc.domains.map((d) => [d.domain, d.status]), [['good.example', 'ok']]);
    t.true(doc.domains[0]!.checks.every((c) => typeof c.check === 'string' && typeof c.subject === 'string' && typeof c.detail === 'string' && c.status === 'ok' && c.fix === undefined));

    const html = join(dir, 'audit.html');
    const metrics = join(dir, 'mailanchor_audit.prom');
    const mixed = await cli(['good.example', 'spf11.example', 'bad..domain', '--html', html, '--metrics-file', metrics], config);
    t.is(mixed.code, 1, mixed.err);
    t.regex(mixed.out, /^spf11\.example: FAIL/m);
    t.regex(mixed.out, /FAIL  spf +spf11\.example: 11 DNS-querying terms/);
    t.regex(mixed.out, /^ +fix: /m);
    t.regex(mixed.out, /^bad\.\.domain: ERROR/m);
    const page = await readFile(html, 'utf8');
    // Worst first: the invalid name (error), then spf11 (fail), then good.
    const order = [...page.matchAll(/<th scope="row"><a href="#d-([^"]+)">/g)].map((m) => m[1]);
    t.deepEqual(order, ['bad..domain', 'spf11.example', 'good.example']);
    t.notRegex(page, /<script|<link |src="http/);
    // The page is well-formed HTML for libxml2 (Debian libxml2-utils).
    t.notThrows(() => execFileSync('xmllint', ['--html', '--noout', html], { stdio: 'pipe' }));
    const prom = await readFile(metrics, 'utf8');
    t.regex(prom, /^mailanchor_audit_check_status\{domain="spf11\.example",check="spf"\} 2$/m);
    t.regex(prom, /^mailanchor_audit_check_status\{domain="good\.example",check="dnssec"\} 0$/m);
    t.regex(prom, /^mailanchor_audit_domain_status\{domain="bad\.\.domain"\} 3$/m);
    t.regex(prom, /^mailanchor_audit_last_run_timestamp_seconds \d+$/m);

    const idn = await cli(['BÜCHER.example', '--json'], config);
    const idnDoc = JSON.parse(idn.out) as { domains: { domain: string; input?: string; checks: { check: string; status: string; detail: string }[] }[] };
    t.is(idnDoc.domains[0]!.domain, 'xn--bcher-kva.example');
    t.is(idnDoc.domains[0]!.input, 'BÜCHER.example');
    t.true(idnDoc.domains[0]!.checks.some((c) => c.check === 'ns' && /NXDOMAIN|not delegated/.test(c.detail)), idn.out);
    t.is(idn.code, 1);

    const usage = await cli([], config);
    t.is(usage.code, 2);
    t.regex(usage.err, /give DOMAIN arguments or --all/);
    t.is((await cli(['good.example', '--json', '--html', html], config)).code, 2);
    t.is((await cli(['good.example', '--selector', 'bad selector'], config)).code, 2);

    const all = await cli(['--all', '--json', '--concurrency', '4'], config);
    const audited = (JSON.parse(all.out) as { domains: { domain: string }[] }).domains.map((d) => d.domain);
    t.true(audited.includes('good.example') && audited.includes('hoster.example') && audited.includes('expired.example'), audited.join(' '));
    t.is(all.code, 1, 'the planted defects fail');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it('MTA-STS: a policy changed without a new id is flagged on the next --connect run', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mailanchor-audit-sts-'));
  const original = lab!.policy;
  try {
    const config = join(dir, 'mailanchor.yml');
    writeFileSync(config, lab!.configText().replace(/state_dir: .*/, `state_dir: ${join(dir, 'state')}`));
    const first = await cli(['good.example', '--connect', '--json'], config);
    t.is(first.code, 0, first.out);
    lab!.setPolicy(original.replace('max_age: 604800', 'max_age: 1209600'));
    const second = await cli(['good.example', '--connect', '--json'], config);
    t.is(second.code, 1);
    const sts = (JSON.parse(second.out) as { domains: { checks: { check: string; status: string; detail: string; fix?: string }[] }[] }).domains[0]!.checks.filter((c) => c.check === 'mta-sts' && c.status === 'fail');
    t.is(sts.length, 1);
    t.regex(sts[0]!.detail, /the policy changed since .* but id=20261201T000000 did not/);
    t.regex(sts[0]!.fix ?? '', /_mta-sts\.good\.example\. IN TXT "v=STSv1; id=\d{14}"/);
  } finally {
    lab!.setPolicy(original);
    await rm(dir, { recursive: true, force: true });
  }
});
