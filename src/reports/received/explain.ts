/**
 * Pure: what received reports mean, joined with what we know ourselves — the keystore's
 * selectors and their states (src/keys), the TLSA records the DANE rollover saw published
 * and the certificates in service (src/dane) — and the next DMARC policy step with its
 * evidence. No clock, no I/O: the facts and `now` are given.
 *
 * What the history can and cannot tell (docs/reports.md): the keystore keeps each key's
 * *current* state and since when, not every transition; a selector now `removed` was
 * retired at some earlier, unrecorded time. The rollover state keeps since when each
 * *currently* published TLSA record has been served everywhere, not records already
 * withdrawn; the certificate's own notBefore stands in for "deployed at".
 */
import type { PublishedPolicy } from '../read/model.ts';
import type { DomainPage, PageData, TlsDomainPage } from './page-model.ts';

export interface KeyFact {
  readonly domain: string;
  readonly selector: string;
  /** generated, published, active, retired, revoked, removed (src/keys/lifecycle.ts). */
  readonly state: string;
  /** ms */
  readonly stateSince: number;
  readonly createdAt: number;
}

export interface TlsaFact {
  /** `_25._tcp.mx.example.org` */
  readonly owner: string;
  /** `3 1 1 abcd…` */
  readonly record: string;
  /** ms: first seen served by every authoritative server. */
  readonly servedEverywhereSince: number;
}

export interface CertFact {
  readonly host: string;
  readonly file: string;
  /** ms */
  readonly notBefore: number;
  readonly notAfter: number;
}

export interface History {
  /** undefined: no keystore to ask (then no selector is called "unknown"). */
  readonly keys?: readonly KeyFact[];
  readonly tlsa: readonly TlsaFact[];
  readonly certs: readonly CertFact[];
}

export type ExplanationKind =
  | 'dkim-retired-selector'
  | 'dkim-revoked-selector'
  | 'dkim-unknown-selector'
  | 'dkim-active-selector-failing'
  | 'tls-tlsa-changed'
  | 'tls-certificate-changed'
  | 'tls-failures';

export interface Explanation {
  readonly kind: ExplanationKind;
  readonly domain: string;
  /** `action`: something to fix; `info`: expected, nothing to do. */
  readonly severity: 'action' | 'info';
  readonly text: string;
  readonly evidence: readonly string[];
}

export type PolicyStep = 'not-enough-data' | 'raise-to-quarantine' | 'raise-pct' | 'raise-to-reject' | 'hold' | 'at-reject';

export interface Proposal {
  readonly domain: string;
  readonly current: string;
  readonly step: PolicyStep;
  readonly text: string;
  readonly evidence: readonly string[];
}

export interface Thresholds {
  readonly quarantineAt: number; // %
  readonly rejectAt: number; // %
  readonly minMessages: number;
  readonly minDays: number;
  /** The period looked at, for the wording ("over 30 days"). */
  readonly windowDays: number;
}

const fmt = (n: number): string => n.toLocaleString('en-US');
export const percentOf = (part: number, whole: number): string => (whole === 0 ? '–' : `${((100 * part) / whole).toFixed(1)} %`);
const at = (ms: number): string => new Date(ms).toISOString().replace(/:\d\d\.\d{3}Z$/, 'Z').replace('T', ' ');
const day = (s: number): string => new Date(s * 1000).toISOString().slice(0, 10);

const TLS_DANE_TYPES = new Set(['tlsa-invalid', 'dnssec-invalid', 'dane-required']);
const TLS_CERT_TYPES = new Set(['certificate-host-mismatch', 'certificate-expired', 'certificate-not-trusted', 'validation-failure']);
/** A TLS failure this long after a change is still "at the time of" it: caches and report periods are a day long. */
const NEAR_MS = 2 * 86_400_000;

function explainSelectors(d: DomainPage, keys: readonly KeyFact[] | undefined): Explanation[] {
  const out: Explanation[] = [];
  for (const u of d.selectors) {
    if (u.fail === 0 || u.firstFail === undefined || u.lastFail === undefined) continue;
    const seen = `${fmt(u.fail)} message(s) failed DKIM with selector ${u.selector} of ${u.domain} between ${day(u.firstFail)} and ${day(u.lastFail)} (sources ${u.failIps.join(', ')}${u.failIps.length >= 10 ? ', …' : ''})`;
    if (!keys) continue;
    const key = keys.find((k) => k.domain === u.domain && k.selector === u.selector);
    if (!key) {
      out.push({
        kind: 'dkim-unknown-selector',
        domain: d.domain,
        severity: 'action',
        text: `Selector ${u.selector} of ${u.domain} is not in our keystore: another system signs as ${u.domain} (an ESP, an old server) and its signatures fail. If that mail is yours, publish or fix that sender's key; if not, it is forged.`,
        evidence: [seen],
      });
      continue;
    }
    const since = key.stateSince;
    const sinceDay = new Date(since).toISOString().slice(0, 10);
    const after = u.failDays.filter((x) => x.day >= sinceDay);
    const failedAfter = after.reduce((n, x) => n + x.failed, 0);
    const afterText = `${fmt(failedAfter)} of them on or after ${sinceDay} (${after.map((x) => `${x.day.slice(5)}: ${fmt(x.failed)}`).join(', ')})`;
    if ((key.state === 'retired' || key.state === 'removed') && failedAfter) {
      out.push({
        kind: 'dkim-retired-selector',
        domain: d.domain,
        severity: 'info',
        text: `Rotation: selector ${u.selector} has been ${key.state} since ${at(since)}; its DNS record is gone or going, so mail signed with it before the switch and delivered or forwarded late fails DKIM. Expected for a few days after a rotation; if it goes on, a sender still signs with the old key.`,
        evidence: [seen, afterText, `keystore: ${u.domain} ${u.selector} ${key.state} since ${at(since)}, created ${at(key.createdAt)}`],
      });
    } else if (key.state === 'revoked' && failedAfter) {
      out.push({
        kind: 'dkim-revoked-selector',
        domain: d.domain,
        severity: 'action',
        text: `Selector ${u.selector} was revoked at ${at(since)} (empty p=): every signature with it fails by design. Mail still signed with it after the revocation comes from a system that kept the revoked key — find it among the sources.`,
        evidence: [seen, afterText, `keystore: ${u.domain} ${u.selector} revoked since ${at(since)}`],
      });
    } else if (key.state === 'active' && u.fail > 0.02 * (u.pass + u.fail)) {
      out.push({
        kind: 'dkim-active-selector-failing',
        domain: d.domain,
        severity: 'info',
        text: `Selector ${u.selector} is our active key and ${percentOf(u.fail, u.pass + u.fail)} of the messages signed with it failed DKIM: the message was changed on the way (forwarders, mailing lists adding footers), or the published record does not match the key (check \`mailanchor keys status\`).`,
        evidence: [seen, `${fmt(u.pass)} message(s) passed with it`],
      });
    }
  }
  return out;
}

function explainTls(t: TlsDomainPage, history: History): Explanation[] {
  const out: Explanation[] = [];
  for (const f of t.failures) {
    const start = f.first * 1000;
    const end = f.last * 1000;
    const near = (ms: number): boolean => ms >= start - NEAR_MS && ms <= end;
    const what = `${fmt(f.sessions)} session(s) to ${f.mx} failed with ${f.resultType} between ${day(f.first)} and ${day(f.last)} (reported by ${f.reporters.join(', ')})`;
    const mx = f.mx.replace(/\.$/, '');
    if (TLS_DANE_TYPES.has(f.resultType) || TLS_CERT_TYPES.has(f.resultType)) {
      const tlsa = history.tlsa.filter((r) => r.owner.replace(/\.$/, '').endsWith(`._tcp.${mx}`) && near(r.servedEverywhereSince));
      const certs = history.certs.filter((c) => c.host.replace(/\.$/, '') === mx && near(c.notBefore));
      if (tlsa.length) {
        out.push({
          kind: 'tls-tlsa-changed',
          domain: t.domain,
          severity: 'action',
          text: `At the time of these failures the TLSA records of ${mx} changed: senders that validate DANE saw records that did not match the certificate in service. Deploy a new certificate only after its record has been served everywhere for 2 × TTL (\`mailanchor tlsa --deploy-check\`).`,
          evidence: [what, ...tlsa.map((r) => `TLSA ${r.owner} ${r.record} served everywhere since ${at(r.servedEverywhereSince)}`)],
        });
        continue;
      }
      if (certs.length) {
        out.push({
          kind: 'tls-certificate-changed',
          domain: t.domain,
          severity: 'action',
          text: `At the time of these failures the certificate of ${mx} was renewed (${certs.map((c) => `${c.file}, valid from ${at(c.notBefore)}`).join('; ')}): ${TLS_DANE_TYPES.has(f.resultType) ? 'the TLSA records did not yet match it' : 'senders did not accept the new certificate or chain'}.`,
          evidence: [what, ...certs.map((c) => `certificate ${c.file}: notBefore ${at(c.notBefore)}, notAfter ${at(c.notAfter)}`)],
        });
        continue;
      }
    }
    if (f.sessions > 0) {
      out.push({
        kind: 'tls-failures',
        domain: t.domain,
        severity: f.resultType === 'starttls-not-supported' || TLS_CERT_TYPES.has(f.resultType) || TLS_DANE_TYPES.has(f.resultType) ? 'action' : 'info',
        text: `${f.resultType} at ${mx}${history.tlsa.length || history.certs.length ? ': no TLSA or certificate change of ours at that time explains it' : ''}.`,
        evidence: [what, ...(f.sendingIps.length ? [`sending MTAs: ${f.sendingIps.join(', ')}`] : [])],
      });
    }
  }
  return out;
}

export function explain(page: PageData, history: History): Explanation[] {
  return [...page.domains.flatMap((d) => explainSelectors(d, history.keys)), ...page.tls.flatMap((t) => explainTls(t, history))];
}

function policyText(p: PublishedPolicy | undefined): string {
  if (!p) return 'unknown';
  return [`p=${p.p}`, ...(p.sp ? [`sp=${p.sp}`] : []), ...(p.pct !== undefined && p.pct !== 100 ? [`pct=${p.pct}`] : []), ...(p.testing ? ['t=y'] : [])].join('; ');
}

/** The failing sources worth naming, worst first. */
function failingEvidence(d: DomainPage, limit = 5): string[] {
  const rows = d.orgs.flatMap((g) => g.listed).filter((s) => s.counts.failing > 0);
  rows.sort((a, b) => b.counts.failing - a.counts.failing);
  return rows.slice(0, limit).map((s) => {
    const who = s.ptr ? `${s.ip} (${s.ptr}${s.identity === 'unconfirmed' ? ', not forward-confirmed' : ''})` : `${s.ip} (${s.org})`;
    const kind = s.counts.unaligned >= s.counts.unauthenticated ? `authenticates as ${[...s.dkim, ...s.spf].filter((x) => x.endsWith(':pass')).map((x) => x.replace(/:pass$/, '')).slice(0, 3).join(', ') || 'another domain'} but not aligned — a forgotten sender?` : 'nothing passes — spoofing?';
    return `${who}: ${fmt(s.counts.failing)} failing, ${kind}`;
  });
}

export function propose(page: PageData, thresholds: Thresholds): Proposal[] {
  return page.domains.map((d) => {
    const c = d.total;
    const passed = c.aligned + c.forwarded;
    const share = c.messages ? (100 * passed) / c.messages : 0;
    const days = d.days.length;
    const p = d.policy;
    const current = policyText(p);
    const over = `over ${days} day(s) with reports (${day(d.begin)} – ${day(d.end)})`;
    const headline = `${percentOf(passed, c.messages)} of ${fmt(c.messages)} messages passed DMARC ${over}${c.forwarded ? `, ${fmt(c.forwarded)} of them through forwarders` : ''}`;
    const failing = failingEvidence(d);
    const evidence = [headline, ...(failing.length ? [`the failing sources are: ${failing.join('; ')}`] : ['no source failed'])];
    const base = { domain: d.domain, current };
    if (c.messages < thresholds.minMessages || days < thresholds.minDays) {
      return { ...base, step: 'not-enough-data' as const, text: `Not enough evidence for a policy step yet: ${fmt(c.messages)} messages over ${days} day(s); wait for ${fmt(thresholds.minMessages)} messages over ${thresholds.minDays} days.`, evidence };
    }
    if (!p || p.p === 'none' || p.p === 'unknown') {
      if (share >= thresholds.quarantineAt) {
        return { ...base, step: 'raise-to-quarantine' as const, text: `p=none → quarantine: ${headline}. Failures would now be quarantined instead of delivered.`, evidence };
      }
      return { ...base, step: 'hold' as const, text: `Stay at p=none: only ${percentOf(passed, c.messages)} passed (quarantine needs ${thresholds.quarantineAt} %). Fix the failing sources that are yours first.`, evidence };
    }
    if (p.p === 'quarantine') {
      if (p.pct !== undefined && p.pct < 100) {
        return { ...base, step: 'raise-pct' as const, text: `pct=${p.pct} → pct=100 under quarantine: ${headline}. Only ${p.pct} % of failing mail is quarantined today.`, evidence };
      }
      if (share >= thresholds.rejectAt) {
        return { ...base, step: 'raise-to-reject' as const, text: `p=quarantine → reject: ${headline}.`, evidence };
      }
      return { ...base, step: 'hold' as const, text: `Stay at p=quarantine: ${percentOf(passed, c.messages)} passed (reject needs ${thresholds.rejectAt} %).`, evidence };
    }
    return { ...base, step: 'at-reject' as const, text: `At p=reject already: ${headline}.${p.sp && p.sp !== 'reject' ? ` Subdomains are still at sp=${p.sp}.` : ''}`, evidence };
  });
}
