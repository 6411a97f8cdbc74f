/**
 * `dmarc`: the record at `_dmarc.<domain>` under RFC 9989, read with the evaluator's own
 * parser and tree walk (src/auth/dmarc/), so the audit judges a record exactly as our
 * milter applies it: validity (an invalid p, sp or np, §4.10.1), policy strength (`p=none`
 * only monitors; `t=y` softens every policy by a step), the policies for subdomains (`sp`)
 * and for names that do not exist (`np`, falling back to sp, then p), and report
 * destinations. A domain without its own record inherits what the tree walk finds
 * (§4.10): a warning, with the record to publish. Pure.
 */
import { isDmarcRecord } from '../../auth/dmarc/record.ts';
import { discoverPolicy, type TreeWalk } from '../../auth/dmarc/tree-walk.ts';
import type { DmarcPolicy, DmarcRecord } from '../../auth/results.ts';
import { result, type CheckResult } from '../types.ts';

export interface DmarcObservation {
  readonly domain: string;
  /** The tree walk from the domain (its first step is `_dmarc.<domain>` itself). */
  readonly walk: TreeWalk;
  /** The TXT records at `_dmarc.<domain>` as published (joined strings), for what the parser ignores. */
  readonly ownTexts: readonly string[];
}

const r = result('dmarc');
const STRENGTH: Readonly<Record<DmarcPolicy, number>> = { none: 0, quarantine: 1, reject: 2 };
/** Tags RFC 9989 defines; `pct`, `rf`, `ri` were removed (Appendix C.5.2). */
const KNOWN_TAGS = new Set(['v', 'p', 'sp', 'np', 'adkim', 'aspf', 'rua', 'ruf', 'fo', 't', 'psd']);
const REMOVED_TAGS: Readonly<Record<string, string>> = { pct: 'pct= is removed in RFC 9989 (t=y replaces pct=0 for testing)', rf: 'rf= is removed in RFC 9989', ri: 'ri= is removed in RFC 9989' };

export function suggestedRecord(domain: string): string {
  return `_dmarc.${domain}. IN TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@${domain}"  (then p=quarantine and p=reject once the reports show only your own mail)`;
}

/** Tag names as written, for findings the parser rightly ignores (removed, unknown tags). */
function tagNames(text: string): string[] {
  return text
    .split(';')
    .map((p) => /^[ \t]*([A-Za-z]+)[ \t]*=/.exec(p)?.[1]?.toLowerCase())
    .filter((n): n is string => n !== undefined);
}

function judgeRecord(domain: string, record: DmarcRecord, text: string): CheckResult[] {
  const subject = `_dmarc.${domain}`;
  const fix = `correct the record at ${subject}: "${text}"`;
  const out: CheckResult[] = [];
  for (const tag of record.invalid) out.push(r.fail(subject, `${tag}= has an invalid value and is ignored (RFC 9989 §4.8)${tag === 'p' || tag === 'sp' || tag === 'np' ? `: receivers apply the record as p=none${record.rua.length ? '' : ', or not at all without a valid rua'} (§4.10.1)` : ''}`, fix));
  for (const name of new Set(tagNames(text))) {
    if (REMOVED_TAGS[name]) out.push(r.warn(subject, REMOVED_TAGS[name]!, `drop ${name}= from the record`));
    else if (!KNOWN_TAGS.has(name)) out.push(r.warn(subject, `unknown tag ${name}= (ignored by receivers; a typo?)`, fix));
  }
  if (record.p === undefined && !record.invalid.includes('p')) {
    out.push(record.rua.length > 0 ? r.warn(subject, 'no p= tag: receivers apply the record as p=none (RFC 9989 §4.10.1)', 'add p=quarantine or p=reject') : r.fail(subject, 'no p= and no valid rua=: receivers ignore the record (RFC 9989 §4.10.1)', suggestedRecord(domain)));
  }
  const p = record.p ?? 'none';
  if (record.p === 'none') out.push(r.warn(subject, 'p=none: monitoring only, receivers take no action on failing mail', 'once the aggregate reports show every legitimate source aligned: p=quarantine, then p=reject'));
  if (record.testing) out.push(r.warn(subject, 't=y: testing mode, receivers apply one step weaker (reject as quarantine, quarantine as none)', 'remove t=y when the policy is meant'));
  const sp = record.sp ?? p;
  const np = record.np ?? sp;
  if (STRENGTH[sp] < STRENGTH[p]) out.push(r.warn(subject, `sp=${sp} is weaker than p=${p}: subdomains can be spoofed more easily than the domain`, `sp=${p}, or drop sp=`));
  if (STRENGTH[np] < STRENGTH[p]) out.push(r.warn(subject, `np=${np} is weaker than p=${p}: mail from names that do not exist is not refused`, 'np=reject (names that do not exist send no mail)'));
  if (record.rua.length === 0 && !record.invalid.includes('rua')) out.push(r.warn(subject, 'no rua=: no aggregate reports, so you cannot see who sends mail as you', `add rua=mailto:dmarc-reports@${domain}`));
  if (out.length === 0) out.push(r.ok(subject, `p=${p}${record.sp ? `, sp=${record.sp}` : ''}${record.np ? `, np=${record.np}` : ''}, adkim=${record.adkim}, aspf=${record.aspf}, ${record.rua.length} rua${record.ruf.length ? `, ${record.ruf.length} ruf` : ''}`));
  return out;
}

export function judgeDmarc(o: DmarcObservation): CheckResult[] {
  const subject = `_dmarc.${o.domain}`;
  const first = o.walk.steps[0];
  if (!first) return [r.error(subject, 'no lookup was made')];
  if (first.lookup.kind === 'error') return [r.error(subject, `TXT lookup failed: ${first.lookup.message}`)];
  if (first.lookup.kind === 'record') return judgeRecord(o.domain, first.lookup.record, o.ownTexts.find(isDmarcRecord) ?? '');
  if (first.lookup.detail === 'several-records') return [r.fail(subject, `${o.ownTexts.filter(isDmarcRecord).length} DMARC records: receivers discard them all (RFC 9989 §4.10)`, `keep exactly one TXT "v=DMARC1; …" at ${subject}`)];
  if (first.lookup.detail === 'name-too-long') return [r.error(subject, `${subject} exceeds 253 octets`)];
  const found = discoverPolicy(o.walk, true);
  if (found.kind === 'unknown') return [r.error(subject, `no record of its own; ${found.reason}`)];
  if (found.kind === 'record') {
    const applied = found.record.sp ?? found.record.p ?? 'none';
    return [r.warn(subject, `no record of its own: receivers apply ${found.policyDomain}'s (sp=${found.record.sp ?? `(p=${found.record.p ?? 'none'})`}, so p=${applied}) by the RFC 9989 §4.10 tree walk`, `publish one, so the policy does not change with the parent's: ${suggestedRecord(o.domain)}`)];
  }
  return [r.fail(subject, `no DMARC record: receivers apply no policy to mail that claims to be from ${o.domain}`, suggestedRecord(o.domain))];
}
