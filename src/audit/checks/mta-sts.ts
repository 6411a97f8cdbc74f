/**
 * `mta-sts` (RFC 8461): exactly one `v=STSv1` record at `_mta-sts.<domain>` with a valid
 * `id` (§3.1); with --connect the policy from `https://mta-sts.<domain>` (§3.3: a valid
 * certificate, 200 without redirects, text/plain, ≤ 64 KB), `max_age` in range (§3.2), every
 * MX host matched by an `mx:` pattern (§4.1: `*.` is one label), and a policy that changed
 * since the last run without a new `id` — senders that cached the old one never see it.
 * Pure. `tls-rpt` lives in checks/tls-rpt.ts.
 */
import type { PolicyFetch } from '../https-policy.ts';
import { mxMatches, parseStsPolicy, parseStsRecord } from '../mta-sts-policy.ts';
import type { PolicySighting } from '../policy-history.ts';
import { result, type CheckResult, type Observed } from '../types.ts';

export interface MtaStsObservation {
  readonly domain: string;
  /** TXT records at `_mta-sts.<domain>` (joined strings). */
  readonly txt: Observed<readonly string[]>;
  /** With --connect: the policy fetch (host resolved to `address`). */
  readonly policy?: Observed<{ readonly address: string; readonly fetch: PolicyFetch; readonly sha256?: string }>;
  /** MX hosts the policy must cover (from the mx check's observation). */
  readonly mxHosts: readonly string[];
  /** What the previous run saw, for the changed-without-new-id rule. */
  readonly previous?: PolicySighting;
}

const r = result('mta-sts');
/** RFC 8461 §3.2 suggests max_age of "weeks or greater". */
const MIN_SENSIBLE_MAX_AGE = 7 * 86_400;

export const policyFile = (domain: string, mx: readonly string[]): string =>
  `https://mta-sts.${domain}/.well-known/mta-sts.txt (text/plain): "version: STSv1\\nmode: testing\\n${(mx.length ? mx : ['<mx host>']).map((m) => `mx: ${m}\\n`).join('')}max_age: 604800\\n" (mode: enforce once TLS-RPT reports are clean)`;

export function judgeMtaSts(o: MtaStsObservation): CheckResult[] {
  const subject = `_mta-sts.${o.domain}`;
  if (!o.txt.ok) return [r.error(subject, `TXT lookup failed: ${o.txt.error}`)];
  // §3.1: records not starting with "v=STSv1;" are discarded; then exactly one must remain.
  const records = o.txt.value.filter((t) => /^v=STSv1(;|$)/.test(t));
  const stamp = new Date().toISOString().replace(/[-:T.Z]/g, '').slice(0, 14);
  const fixRecord = `${subject}. IN TXT "v=STSv1; id=${stamp}"`;
  if (records.length === 0) return [r.warn(subject, 'no MTA-STS record: senders without DANE cannot require TLS to your MX', `${fixRecord} and the policy ${policyFile(o.domain, o.mxHosts)}`)];
  if (records.length > 1) return [r.fail(subject, `${records.length} v=STSv1 records: senders assume there is no policy (RFC 8461 §3.1)`, `keep one: ${fixRecord}`)];
  const rec = parseStsRecord(records[0]!);
  if (!rec.ok) return [r.fail(subject, `invalid record "${records[0]}": ${rec.reason}; senders assume there is no policy`, fixRecord)];
  const out: CheckResult[] = [];
  if (!o.policy) {
    out.push(r.ok(subject, `v=STSv1, id=${rec.id} (the policy itself is fetched with --connect)`));
    return out;
  }
  const host = `mta-sts.${o.domain}`;
  if (!o.policy.ok) return [r.fail(host, `no address for ${host}: ${o.policy.error}; senders cannot fetch the policy`, `${host}. IN A/AAAA <web server>, serving ${policyFile(o.domain, o.mxHosts)}`)];
  const f = o.policy.value.fetch;
  const url = `https://${host}/.well-known/mta-sts.txt`;
  if (f.kind === 'unreachable') return [r.error(url, `fetch from ${o.policy.value.address} failed: ${f.reason}`)];
  if (f.certificateError) return [r.fail(url, `the certificate of ${host} is not valid (${f.certificateError}): senders must ignore the policy (RFC 8461 §3.3)`, `a certificate for ${host} from a public CA (e.g. certbot)`)];
  if (f.status >= 300 && f.status < 400) return [r.fail(url, `HTTP ${f.status} redirect${f.location ? ` to ${f.location}` : ''}: senders must not follow it (RFC 8461 §3.3)`, `serve the policy at ${url} itself`)];
  if (f.status !== 200) return [r.fail(url, `HTTP ${f.status}: senders need 200`, `serve ${policyFile(o.domain, o.mxHosts)}`)];
  if (f.tooLarge) return [r.fail(url, 'the policy is larger than 64 KB: senders may refuse it (RFC 8461 §3.3)', 'serve the short policy file')];
  const type = (f.contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'text/plain') return [r.fail(url, `Content-Type ${f.contentType ?? '(none)'}: must be text/plain (RFC 8461 §3.2)`, 'serve mta-sts.txt as text/plain')];
  const parsed = parseStsPolicy(f.body ?? '');
  if (!parsed.ok) return [r.fail(url, `invalid policy: ${parsed.reason}`, `serve ${policyFile(o.domain, o.mxHosts)}`)];
  const p = parsed.policy;
  for (const w of parsed.warnings) out.push(r.warn(url, w, 'remove it from the policy'));
  if (p.mode === 'testing') out.push(r.warn(url, 'mode: testing: senders report failures (TLS-RPT) but deliver anyway', 'mode: enforce once the TLS-RPT reports show no failures'));
  if (p.mode === 'none') out.push(r.warn(url, 'mode: none: the policy is withdrawn', 'mode: enforce, or remove the record and the policy'));
  if (p.maxAge < MIN_SENSIBLE_MAX_AGE) out.push(r.warn(url, `max_age: ${p.maxAge} s is short (RFC 8461 §3.2 suggests weeks): the policy protects little between fetches`, 'max_age: 604800 or more (up to 31557600)'));
  if (p.mode !== 'none') {
    for (const host of o.mxHosts) {
      if (p.mx.some((pat) => mxMatches(pat, host))) continue;
      const sev = p.mode === 'enforce' ? r.fail : r.warn;
      out.push(sev(url, `MX ${host} is matched by no mx: pattern (${p.mx.join(', ')}; "*." is one label, RFC 8461 §4.1): ${p.mode === 'enforce' ? 'senders refuse to deliver to it' : 'senders report failures for it'}`, `add "mx: ${host}" to the policy and change id= in ${subject}`));
    }
  }
  const sha = o.policy.value.sha256;
  if (o.previous && sha && o.previous.id === rec.id && o.previous.sha256 !== sha) {
    out.push(r.fail(url, `the policy changed since ${o.previous.seenAt} but id=${rec.id} did not: senders that cached the old policy keep it (RFC 8461 §3.1)`, `${subject}. IN TXT "v=STSv1; id=${stamp}"`));
  }
  if (!out.some((x) => x.status !== 'ok')) out.push(r.ok(url, `id=${rec.id}, mode: ${p.mode}, max_age: ${p.maxAge}, mx: ${p.mx.join(', ')}; covers ${o.mxHosts.length} MX host${o.mxHosts.length === 1 ? '' : 's'}`));
  return out;
}
