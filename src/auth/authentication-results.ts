/**
 * The engine's typed verdicts (`MessageAuthentication`) as our Authentication-Results header
 * (RFC 8601), pure: the renderer and the policy step read the same values, nothing is
 * re-parsed from strings. Order: dkim, spf, arc, dmarc, iprev.
 *
 * - dkim (RFC 8601 §2.7.1): one result per signature with `header.d`, `header.i`, `header.s`,
 *   `header.a` and `header.b` — the first 8 characters of b=, more where two signatures of the
 *   message would otherwise look the same (RFC 6008 §2); `dkim=none` when unsigned; the
 *   signatures over the cap as one `dkim=policy`.
 * - spf (§2.7.2): `smtp.mailfrom`, or `smtp.helo` for the null sender's HELO check.
 * - arc (RFC 8617; its IANA registration adds `header.oldest-pass` to the arc method).
 * - dmarc (RFC 9989 §9.1): `header.from` and, when a policy is to be applied, `policy.dmarc`;
 *   with `multiple_from: strictest`, one dmarc result per author domain.
 * - iprev (§2.7.3): `policy.iprev` = the client address.
 *
 * Non-pass results carry the check's reason as `reason=`; a pass carries a short comment.
 */
import type { AuthenticationResults, AuthResProperty, AuthResResult } from '../mail/auth-results.ts';
import type { ArcCheck, DkimSignatureCheck, DmarcCheck, IprevCheck, MessageAuthentication, SpfCheck } from './results.ts';

const prop = (ptype: string, property: string, value: string | undefined): AuthResProperty[] => (value ? [{ ptype, property, value }] : []);

/** header.b prefixes: 8 characters, longer until the message's signatures differ (RFC 6008 §2). */
function signaturePrefixes(checks: readonly DkimSignatureCheck[]): (string | undefined)[] {
  const sigs = checks.map((c) => c.signature);
  return sigs.map((s) => {
    if (!s) return undefined;
    let n = Math.min(8, s.length);
    while (n < s.length && sigs.some((o) => o !== undefined && o !== s && o.startsWith(s.slice(0, n)))) n++;
    return s.slice(0, n);
  });
}

export function dkimResults(checks: readonly DkimSignatureCheck[], skipped: number): AuthResResult[] {
  const prefixes = signaturePrefixes(checks);
  const out: AuthResResult[] = checks.map((c, i) => {
    const notes = [c.keyBits ? `${c.keyBits}-bit key` : undefined, c.testing ? 'key in testing mode (t=y)' : undefined, c.partialBody ? 'l= leaves body bytes unsigned' : undefined].filter(Boolean);
    return {
      method: 'dkim',
      result: c.result,
      ...(c.result === 'pass' ? (notes.length ? { comment: notes.join('; ') } : {}) : { reason: c.reason, ...(notes.length ? { comment: notes.join('; ') } : {}) }),
      properties: [...prop('header', 'd', c.domain), ...prop('header', 'i', c.identity), ...prop('header', 's', c.selector), ...prop('header', 'a', c.algorithm), ...prop('header', 'b', prefixes[i])],
    };
  });
  if (skipped > 0) out.push({ method: 'dkim', result: 'policy', reason: `${skipped} DKIM signature${skipped > 1 ? 's' : ''} over the limit not verified`, properties: [] });
  if (out.length === 0) out.push({ method: 'dkim', result: 'none', properties: [] });
  return out;
}

export function spfResult(spf: SpfCheck): AuthResResult {
  return {
    method: 'spf',
    result: spf.result,
    ...(spf.result === 'pass' ? { comment: spf.reason } : { reason: spf.reason }),
    properties: spf.scope === 'helo' ? prop('smtp', 'helo', spf.domain) : prop('smtp', 'mailfrom', spf.identity),
  };
}

export function arcResult(arc: ArcCheck): AuthResResult {
  return {
    method: 'arc',
    result: arc.result,
    ...(arc.result === 'pass' ? (arc.instances ? { comment: `${arc.instances} instance${arc.instances > 1 ? 's' : ''}` } : {}) : { reason: arc.reason }),
    properties: arc.result === 'pass' && arc.oldestPass !== undefined ? prop('header', 'oldest-pass', String(arc.oldestPass)) : [],
  };
}

function dmarcComment(c: DmarcCheck): string | undefined {
  const r = c.record;
  if (!r) return undefined;
  const tags = [r.p ? `p=${r.p}` : undefined, r.sp ? `sp=${r.sp}` : undefined, r.np ? `np=${r.np}` : undefined, r.testing ? 't=y' : undefined].filter(Boolean).join(' ');
  const where = c.policyDomain && c.policyDomain !== c.fromDomain ? ` of ${c.policyDomain}` : '';
  return tags ? `${tags}${where}` : undefined;
}

export function dmarcResults(c: DmarcCheck): AuthResResult[] {
  const one = (d: DmarcCheck): AuthResResult => {
    const comment = dmarcComment(d);
    // policy.dmarc: the policy applied — on fail, and when there was no usable author.
    const applied = d.result === 'fail' || d.authorProblem !== undefined ? d.policy : undefined;
    return {
      method: 'dmarc',
      result: d.result,
      ...(comment ? { comment } : {}),
      ...(d.result === 'pass' ? {} : { reason: d.reason }),
      properties: [...prop('header', 'from', d.fromDomain), ...prop('policy', 'dmarc', applied)],
    };
  };
  return c.authors ? c.authors.map(one) : [one(c)];
}

export function iprevResult(r: IprevCheck): AuthResResult {
  return {
    method: 'iprev',
    result: r.result,
    ...(r.result === 'pass' ? (r.names[0] ? { comment: r.names[0] } : {}) : { reason: r.reason }),
    properties: prop('policy', 'iprev', r.ip),
  };
}

/** Our Authentication-Results for a message. */
export function authenticationResults(authservId: string, auth: MessageAuthentication): AuthenticationResults {
  return {
    authservId,
    results: [
      ...dkimResults(auth.dkim, auth.dkimSkipped),
      ...(auth.spf ? [spfResult(auth.spf)] : []),
      ...(auth.arc ? [arcResult(auth.arc)] : []),
      ...dmarcResults(auth.dmarc),
      ...(auth.iprev ? [iprevResult(auth.iprev)] : []),
    ],
  };
}
