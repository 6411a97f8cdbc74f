/**
 * The parts of mailauth 7's `authenticate()` result we use, typed, and the corrections we
 * apply to it (mailauth-7 notes): an ARC key lookup that failed for DNS reasons is a
 * temperror, not a fail; a DKIM signature whose `l=` leaves body bytes unsigned does not
 * authenticate the message for DMARC; a DMARC fail while a check that could have produced
 * an aligned pass ended in temperror is a temperror (mailauth hands DMARC only the passing
 * identities, so it says fail).
 */
export interface MailauthDkimRow {
  readonly signingDomain?: string;
  readonly selector?: string;
  readonly info: string;
  readonly status: { result: string; comment?: string; aligned?: string | false; underSized?: number };
}
export interface MailauthResult {
  readonly dkim: { readonly results?: readonly MailauthDkimRow[]; readonly headerFrom?: readonly string[] };
  readonly spf: false | { readonly domain?: string; readonly info: string; readonly status: { result: string } };
  readonly dmarc: false | {
    readonly status: { result: string; header?: { from?: string } };
    readonly info: string;
    readonly policy?: string;
    readonly policyDomain?: string;
    readonly domain?: string;
    readonly alignment?: { spf?: { result?: string | false }; dkim?: { result?: string | false; underSized?: number } };
    /** Hidden (non-enumerable) in mailauth: the DMARC record's tags. */
    readonly record?: Readonly<Record<string, unknown>>;
  };
  readonly arc: false | { readonly status: { result: string }; readonly info?: string };
  readonly dmarcSkipReason?: string;
}

/** `d`/`s` of ARC-Seal and ARC-Message-Signature headers: the key names an ARC check looks up. */
export function arcKeyNames(arcHeaders: readonly string[]): string[] {
  const names = new Set<string>();
  for (const v of arcHeaders) {
    const tags = new Map(v.split(';').map((t) => t.split('=').map((x) => x.replace(/\s+/g, '')) as [string, string]));
    const d = tags.get('d');
    const s = tags.get('s');
    if (d && s) names.add(`${s}._domainkey.${d}`.toLowerCase());
  }
  return [...names];
}

export interface ArcOutcome {
  readonly result: string;
  readonly info?: string;
}

export function correctArc(arc: MailauthResult['arc'], keyNames: readonly string[], dnsTempFailures: ReadonlySet<string>): ArcOutcome | undefined {
  if (!arc) return undefined;
  if (arc.status.result === 'fail' && keyNames.some((n) => dnsTempFailures.has(n))) {
    return { result: 'temperror', info: 'arc=temperror (DNS failure on an ARC key)' };
  }
  return { result: arc.status.result, ...(arc.info ? { info: arc.info } : {}) };
}

export interface DmarcCorrected {
  readonly result: 'pass' | 'fail' | 'none' | 'temperror' | 'permerror';
  readonly info: string;
  readonly lengthLimited: boolean;
}

const DMARC_RESULTS = new Set(['pass', 'fail', 'none', 'temperror', 'permerror']);

/** `Example.COM.` → `example.com`. */
const bare = (d: string | undefined): string => (d ?? '').trim().toLowerCase().replace(/\.+$/, '');

/**
 * Could `identity` (the SPF domain or a DKIM d=) have aligned with the author domain? Strict
 * mode: only the author domain itself (RFC 9989 §3.2.10). Relaxed: the author domain or
 * anything at or below its Organizational Domain as mailauth's tree walk found it (`domain`
 * of the result). A superset of what really aligns, erring towards temperror — and still
 * exact against spoofing: only the author's own organisation has names below its
 * Organizational Domain, so a stranger's DNS failure never turns a fail into a temperror.
 */
function couldAlign(identity: string | undefined, author: string, orgDomain: string, strict: boolean): boolean {
  const id = bare(identity);
  if (!id || !author) return false;
  if (id === author) return true;
  if (strict) return false;
  return Boolean(orgDomain) && (id === orgDomain || id.endsWith(`.${orgDomain}`));
}

/** The checks behind a DMARC result that ended in temperror but could have aligned. */
export function incompleteDmarcChecks(dmarc: Exclude<MailauthResult['dmarc'], false>, checks: DmarcChecks): string[] {
  const author = bare(dmarc.status.header?.from);
  const org = bare(dmarc.domain) || author;
  const record = dmarc.record ?? {};
  const out: string[] = [];
  if (checks.spf && checks.spf.status.result === 'temperror' && couldAlign(checks.spf.domain, author, org, record['aspf'] === 's')) out.push(`spf (${bare(checks.spf.domain)})`);
  for (const row of checks.dkim) {
    if (row.status.result === 'temperror' && couldAlign(row.signingDomain, author, org, record['adkim'] === 's')) out.push(`dkim (d=${bare(row.signingDomain)})`);
  }
  return out;
}

export interface DmarcChecks {
  readonly spf: MailauthResult['spf'];
  readonly dkim: readonly MailauthDkimRow[];
}

export function correctDmarc(dmarc: MailauthResult['dmarc'], checks: DmarcChecks = { spf: false, dkim: [] }): DmarcCorrected | undefined {
  if (!dmarc) return undefined;
  const raw = DMARC_RESULTS.has(dmarc.status.result) ? (dmarc.status.result as DmarcCorrected['result']) : 'permerror';
  const underSized = dmarc.alignment?.dkim?.underSized ?? 0;
  if (raw === 'pass' && !dmarc.alignment?.spf?.result && underSized > 0) {
    // Our decision (documented): a pass that rests only on an l= signature leaving bytes
    // unsigned is a fail — anyone could have appended those bytes.
    return { result: 'fail', info: dmarc.info.replace(/^dmarc=pass/, 'dmarc=fail (aligned DKIM signature leaves body unsigned, l=)'), lengthLimited: true };
  }
  if (raw === 'fail') {
    // RFC 9989 §9.1 temperror: "a temporary error occurred during DMARC evaluation; a later
    // attempt might produce a final result". A transient DNS failure is never a fail.
    const pending = incompleteDmarcChecks(dmarc, checks);
    if (pending.length) {
      const from = bare(dmarc.status.header?.from);
      return { result: 'temperror', info: `dmarc=temperror (${pending.join(', ')}: temporary DNS failure, a later attempt may pass)${from ? ` header.from=${from}` : ''}`, lengthLimited: false };
    }
  }
  return { result: raw, info: dmarc.info, lengthLimited: false };
}
