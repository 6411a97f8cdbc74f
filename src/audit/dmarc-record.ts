/**
 * A narrow reader of DMARC policy records (RFC 9989 §4.7), for judging what a domain
 * publishes — not the evaluator's parser (that belongs in src/auth/dmarc/, being written on
 * its own branch; when it lands the audit should use it). It reports every deviation as a
 * finding instead of stopping at the first, because a postmaster wants all of them.
 *
 * RFC 9989 as read here: `v=DMARC1` first; tags p, sp, np (none|quarantine|reject), adkim,
 * aspf (r|s), rua, ruf (comma-separated URIs), fo, t (y|n), psd (y|n|u); `pct`, `rf` and `ri`
 * are removed (still seen in the wild: a warning); unknown tags are ignored by receivers
 * (a warning here: usually a typo). Tag names and keyword values are ABNF literals, so
 * case-insensitive. A record without `p` is treated as `p=none` by RFC 9989 receivers.
 */
export type DmarcPolicy = 'none' | 'quarantine' | 'reject';

export interface DmarcRecord {
  readonly p?: DmarcPolicy;
  readonly sp?: DmarcPolicy;
  readonly np?: DmarcPolicy;
  readonly adkim: 'r' | 's';
  readonly aspf: 'r' | 's';
  readonly rua: readonly string[];
  readonly ruf: readonly string[];
  readonly fo?: string;
  readonly testing: boolean;
  readonly psd?: 'y' | 'n' | 'u';
}

export interface DmarcFinding {
  readonly severity: 'warn' | 'fail';
  readonly message: string;
}

export type DmarcParse = { readonly ok: true; readonly record: DmarcRecord; readonly findings: readonly DmarcFinding[] } | { readonly ok: false; readonly reason: string };

const POLICIES: readonly string[] = ['none', 'quarantine', 'reject'];
const KNOWN = new Set(['v', 'p', 'sp', 'np', 'adkim', 'aspf', 'rua', 'ruf', 'fo', 't', 'psd']);
const REMOVED: Readonly<Record<string, string>> = { pct: 'pct (use t=y for testing)', rf: 'rf', ri: 'ri' };
/** Bound the work on hostile input: DNS can hand us a TXT of 64 KB. */
const MAX_RECORD = 4096;

/** Is this TXT a DMARC record at all (RFC 9989 §4.7: starts with `v=DMARC1`)? */
export const isDmarcRecord = (txt: string): boolean => /^v\s*=\s*DMARC1\s*(;|$)/i.test(txt.trimStart());

export function parseDmarcRecord(text: string): DmarcParse {
  if (text.length > MAX_RECORD) return { ok: false, reason: `record of ${text.length} characters (more than ${MAX_RECORD})` };
  if (!isDmarcRecord(text)) return { ok: false, reason: 'does not start with v=DMARC1' };
  const findings: DmarcFinding[] = [];
  const tags = new Map<string, string>();
  for (const [i, raw] of text.split(';').entries()) {
    const part = raw.trim();
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) {
      findings.push({ severity: 'fail', message: `"${part}" is not tag=value` });
      continue;
    }
    const name = part.slice(0, eq).trim().toLowerCase();
    const value = part.slice(eq + 1).trim();
    if (!/^[a-z][a-z0-9_]*$/.test(name)) {
      findings.push({ severity: 'fail', message: `"${name}" is not a tag name` });
      continue;
    }
    if (tags.has(name)) findings.push({ severity: 'fail', message: `tag ${name} appears twice` });
    else tags.set(name, value);
    if (i > 0 && name === 'v') findings.push({ severity: 'fail', message: 'v= must be the first tag' });
  }
  if (tags.get('v') !== 'DMARC1') return { ok: false, reason: `v=${tags.get('v') ?? ''}: must be exactly DMARC1` };
  for (const name of tags.keys()) {
    if (REMOVED[name]) findings.push({ severity: 'warn', message: `${REMOVED[name]} is removed in RFC 9989; drop it` });
    else if (!KNOWN.has(name)) findings.push({ severity: 'warn', message: `unknown tag ${name}= (ignored by receivers; a typo?)` });
  }
  const policy = (tag: 'p' | 'sp' | 'np'): DmarcPolicy | undefined => {
    const v = tags.get(tag);
    if (v === undefined) return undefined;
    const l = v.toLowerCase();
    if (POLICIES.includes(l)) return l as DmarcPolicy;
    findings.push({ severity: 'fail', message: `${tag}=${v} is not none, quarantine or reject` });
    return undefined;
  };
  const mode = (tag: 'adkim' | 'aspf'): 'r' | 's' => {
    const v = (tags.get(tag) ?? 'r').toLowerCase();
    if (v === 'r' || v === 's') return v;
    findings.push({ severity: 'fail', message: `${tag}=${tags.get(tag)} is not r or s` });
    return 'r';
  };
  const uris = (tag: 'rua' | 'ruf'): string[] => {
    const v = tags.get(tag);
    if (v === undefined) return [];
    const list = v.split(',').map((s) => s.trim()).filter(Boolean);
    if (list.length === 0) findings.push({ severity: 'fail', message: `${tag}= is empty` });
    return list;
  };
  const t = (tags.get('t') ?? 'n').toLowerCase();
  if (t !== 'y' && t !== 'n') findings.push({ severity: 'fail', message: `t=${tags.get('t')} is not y or n` });
  const psdRaw = tags.get('psd')?.toLowerCase();
  if (psdRaw !== undefined && psdRaw !== 'y' && psdRaw !== 'n' && psdRaw !== 'u') findings.push({ severity: 'fail', message: `psd=${tags.get('psd')} is not y, n or u` });
  const p = policy('p');
  const sp = policy('sp');
  const np = policy('np');
  const fo = tags.get('fo');
  if (fo !== undefined && !/^[01ds](\s*:\s*[01ds])*$/i.test(fo)) findings.push({ severity: 'fail', message: `fo=${fo} is not a list of 0, 1, d, s` });
  const record: DmarcRecord = {
    ...(p ? { p } : {}),
    ...(sp ? { sp } : {}),
    ...(np ? { np } : {}),
    adkim: mode('adkim'),
    aspf: mode('aspf'),
    rua: uris('rua'),
    ruf: uris('ruf'),
    ...(fo !== undefined ? { fo } : {}),
    testing: t === 'y',
    ...(psdRaw === 'y' || psdRaw === 'n' || psdRaw === 'u' ? { psd: psdRaw } : {}),
  };
  return { ok: true, record, findings };
}
