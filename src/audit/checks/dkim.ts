/**
 * `dkim`: each selector of our keystore for the domain (and each `--selector`) is published
 * on every authoritative server with the right value, its key is strong enough (RSA: fail
 * below 1024 bits, RFC 8301 §3.2; warn below 2048, RFC 8301 / M3AAWG), it is not older than
 * the rotation policy allows, and for hosted domains the customer's CNAME leads to it.
 * Keys are read with the verifier's own parser (src/auth/dkim/key-record.ts). Pure.
 */
import { parseKeyRecord } from '../../auth/dkim/key-record.ts';
import type { KeyState } from '../../keys/lifecycle.ts';
import { result, type CheckResult, type Observed } from '../types.ts';

export interface DkimServerObservation {
  readonly server: string;
  readonly status: 'match' | 'mismatch' | 'missing' | 'error';
  readonly detail?: string;
}

export interface DkimKeyObservation {
  readonly selector: string;
  /** `keystore`: a key we hold; `option`: a `--selector` to check without knowing its value. */
  readonly source: 'keystore' | 'option';
  readonly algorithm?: 'rsa-sha256' | 'ed25519-sha256';
  readonly state?: KeyState;
  readonly stateSince?: number;
  /** `<selector>._domainkey.<domain>`: what verifiers look up. */
  readonly name: string;
  /** For keystore keys: the TXT value DNS must serve, and where (hosted: in the target zone). */
  readonly expected?: { readonly value: string; readonly name: string; readonly record: string };
  /** What a verifier gets: the TXT records at `name` (CNAMEs followed), joined. */
  readonly published: Observed<{ readonly texts: readonly string[]; readonly cnameChain: readonly string[] }>;
  /** Each authoritative server of the zone holding the record (and of the customer zone, for hosted CNAMEs). */
  readonly servers: readonly DkimServerObservation[];
}

export interface DkimPolicy {
  readonly lifetimeMs: number;
  readonly ttlMs: number;
  readonly ttlMarginMs: number;
}

export interface DkimObservation {
  readonly domain: string;
  readonly keys: readonly DkimKeyObservation[];
  readonly policy: DkimPolicy;
  /** Why the keystore could not be read (the keystore's selectors are then unknown). */
  readonly keystoreError?: string;
  /** For a domain in keys.domains: the algorithms it is configured to sign with (RFC 8463 dual signing). */
  readonly algorithms?: readonly ('rsa-sha256' | 'ed25519-sha256')[];
}

const r = result('dkim');
const DAY = 86_400_000;
const days = (ms: number): string => `${Math.floor(ms / DAY)} days`;

function judgeKey(k: DkimKeyObservation, policy: DkimPolicy, now: number): CheckResult[] {
  const subject = k.name;
  const out: CheckResult[] = [];
  const fixRecord = k.expected ? `${k.expected.record}` : undefined;
  const live = k.state === 'active' || k.state === 'retired';
  if (!k.published.ok) return [r.error(subject, `TXT lookup failed: ${k.published.error}`)];
  const dkim = k.published.value.texts.filter((t) => /^\s*v\s*=\s*DKIM1\s*(;|$)/.test(t) || /(^|;)\s*p\s*=/.test(t));
  const state = k.state ? `${k.state} ${k.algorithm ?? ''} key`.replace(/ +/g, ' ') : 'selector';
  if (dkim.length === 0) {
    if (k.source === 'option') return [r.fail(subject, `no DKIM key record at ${k.name}`, `publish the selector's key: ${k.name}. IN TXT "v=DKIM1; k=rsa; p=…"`)];
    if (k.state === 'published') return [r.ok(subject, `${state} waiting to be served: ${describeServers(k.servers)}`)];
    return [r.fail(subject, `${state} is not published: verifiers get no key and DKIM fails${k.published.value.cnameChain.length ? ` (CNAME ${k.published.value.cnameChain.join(' → ')} leads nowhere)` : ''}`, fixRecord)];
  }
  if (dkim.length > 1) out.push(r.warn(subject, `${dkim.length} key records at ${k.name}: verifiers may use either (RFC 6376 §3.6.2.2)`, `keep one: ${fixRecord ?? 'remove the others'}`));
  const text = dkim[0]!;
  const parsed = parseKeyRecord(text);
  if (parsed.kind === 'invalid') return [...out, r.fail(subject, `invalid key record: ${parsed.reason}`, fixRecord ?? `correct the record at ${k.name}`)];
  if (parsed.kind === 'revoked') {
    if (live) return [...out, r.fail(subject, `${state}, but DNS serves it revoked (empty p=)`, fixRecord)];
    return [...out, r.warn(subject, 'the key is revoked (empty p=): signatures with this selector fail', 'stop signing with this selector')];
  }
  if (k.expected && !dkim.includes(k.expected.value)) {
    out.push(r.fail(subject, `${state}: DNS serves a different key than the keystore holds`, fixRecord));
  }
  const bits = parsed.key.bits;
  if (parsed.key.type === 'rsa') {
    const rotate = k.source === 'keystore' ? ' (keys.domains.<domain>.rsa_bits: 2048, then `mailanchor keys generate --domain <domain>`)' : '';
    if (bits < 1024) out.push(r.fail(subject, `RSA key of ${bits} bits: verifiers must refuse keys under 1024 bits (RFC 8301 §3.2)`, `a new 2048-bit key${rotate}`));
    else if (bits < 2048) out.push(r.warn(subject, `RSA key of ${bits} bits: 2048 is the recommended size (RFC 8301 §3.2; M3AAWG)`, `rotate to a 2048-bit key${rotate}`));
  }
  if (parsed.key.testing) out.push(r.warn(subject, 't=y: the key is in testing mode; some verifiers treat its signatures as absent', 'remove t=y'));
  // Publication on every authoritative server (the keystore's rule before a key may be used).
  const notEverywhere = k.servers.filter((s) => s.status === 'missing' || s.status === 'mismatch');
  const errors = k.servers.filter((s) => s.status === 'error');
  if (notEverywhere.length > 0) {
    const list = notEverywhere.map((s) => `${s.server}: ${s.detail ?? s.status}`).join('; ');
    if (k.state === 'published') out.push(r.ok(subject, `${state} not yet on every server (${list}); it becomes active only once it is`));
    else out.push(r.fail(subject, `${state} not served by every authoritative server (${list}): verifiers asking those fail DKIM`, fixRecord ? `publish on every server (or fix the transfer): ${fixRecord}` : 'fix the zone transfer'));
  }
  if (errors.length > 0) out.push(r.error(subject, `could not ask ${errors.map((s) => `${s.server} (${s.detail ?? 'error'})`).join(', ')}`));
  // Age against the rotation policy: a key older than its lifetime means rotation is not running.
  if (k.state === 'active' && k.stateSince !== undefined && now - k.stateSince > policy.lifetimeMs) {
    out.push(r.warn(subject, `active for ${days(now - k.stateSince)}, beyond the rotation lifetime of ${days(policy.lifetimeMs)}`, 'check that `mailanchor keys rotate` runs (systemctl status mailanchor-keys-rotate.timer) and see `mailanchor keys status`'));
  }
  if (k.state === 'published' && k.stateSince !== undefined && now - k.stateSince > policy.ttlMs + policy.ttlMarginMs + DAY) {
    out.push(r.warn(subject, `published ${days(now - k.stateSince)} ago and still not active`, 'see `mailanchor keys status`: which server does not serve it?'));
  }
  if (out.length === 0 || out.every((x) => x.status === 'ok')) {
    const servers = k.servers.length ? `, on all ${k.servers.length} authoritative servers` : '';
    if (!out.some((x) => x.status === 'ok')) out.push(r.ok(subject, `${state}: ${parsed.key.type === 'rsa' ? `RSA ${bits}` : 'Ed25519'}${servers}${k.stateSince !== undefined && k.state === 'active' ? `, active for ${days(now - k.stateSince)}` : ''}`));
  }
  return out;
}

function describeServers(servers: readonly DkimServerObservation[]): string {
  const ok = servers.filter((s) => s.status === 'match').length;
  return `seen on ${ok} of ${servers.length} servers`;
}

export function judgeDkim(o: DkimObservation, now: number): CheckResult[] {
  const out: CheckResult[] = [];
  if (o.keystoreError) out.push(r.error(o.domain, `keystore not readable: ${o.keystoreError}`));
  if (o.keys.length === 0) {
    if (!o.keystoreError) out.push(r.warn(o.domain, `no DKIM selector known: the keystore holds no key for ${o.domain} and no --selector was given`, `mailanchor keys generate --domain ${o.domain}  (or audit a selector published elsewhere with --selector S)`));
    return out;
  }
  for (const k of o.keys) out.push(...judgeKey(k, o.policy, now));
  for (const alg of o.algorithms ?? []) {
    if (!o.keys.some((k) => k.source === 'keystore' && k.algorithm === alg && k.state === 'active')) {
      out.push(r.warn(o.domain, `keys.domains.${o.domain} signs with ${alg}, but the keystore has no active ${alg} key: that signature is missing from our mail`, `mailanchor keys rotate  (or keys generate --domain ${o.domain}); see mailanchor keys status`));
    }
  }
  return out;
}
