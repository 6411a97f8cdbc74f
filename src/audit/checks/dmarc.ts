/**
 * `dmarc`: a valid record at `_dmarc.<domain>` (RFC 9989 §4.7), its policy strength —
 * `p=none` only monitors, `t=y` softens every policy by one step — and the policies for
 * subdomains (`sp`) and for names that do not exist (`np`, RFC 9989 §4.7: falls back to
 * `sp`, then `p`). A domain without its own record inherits the policy found by the tree
 * walk (RFC 9989 §4.10), which is reported as a warning with the record to publish. Pure.
 */
import { isDmarcRecord, parseDmarcRecord, type DmarcPolicy } from '../dmarc-record.ts';
import { result, type CheckResult, type Observed } from '../types.ts';

export interface DmarcTxt {
  /** `_dmarc.<name>`. */
  readonly name: string;
  /** Every TXT string joined per record (RFC 7208 §3.3 style), DMARC or not. */
  readonly txts: readonly string[];
}

export interface DmarcObservation {
  readonly domain: string;
  readonly own: Observed<DmarcTxt>;
  /** Only when the domain has no record: the nearest ancestor's, if any (undefined: none found). */
  readonly inherited?: Observed<DmarcTxt | undefined>;
}

const r = result('dmarc');
const STRENGTH: Readonly<Record<DmarcPolicy, number>> = { none: 0, quarantine: 1, reject: 2 };

export function suggestedRecord(domain: string): string {
  return `_dmarc.${domain}. IN TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@${domain}"  (then p=quarantine, p=reject once the reports show only your own mail)`;
}

export function judgeDmarc(o: DmarcObservation): CheckResult[] {
  const subject = `_dmarc.${o.domain}`;
  if (!o.own.ok) return [r.error(subject, `TXT lookup failed: ${o.own.error}`)];
  const records = o.own.value.txts.filter(isDmarcRecord);
  if (records.length === 0) {
    if (o.inherited && !o.inherited.ok) return [r.error(subject, `no record at ${subject}; the lookup of a parent's record failed: ${o.inherited.error}`)];
    const parent = o.inherited?.ok ? o.inherited.value : undefined;
    const parsed = parent ? parent.txts.filter(isDmarcRecord).map(parseDmarcRecord) : [];
    const first = parsed[0];
    if (parent && parsed.length === 1 && first?.ok) {
      const applied = first.record.sp ?? first.record.p ?? 'none';
      return [r.warn(subject, `no record of its own; receivers apply ${parent.name}'s (sp=${first.record.sp ?? '(p)'}, so p=${applied}) (RFC 9989 §4.10 tree walk)`, `publish one, so the policy does not change with the parent's: ${suggestedRecord(o.domain)}`)];
    }
    return [r.fail(subject, `no DMARC record: receivers apply no policy to mail claiming to be from ${o.domain}`, suggestedRecord(o.domain))];
  }
  if (records.length > 1) return [r.fail(subject, `${records.length} DMARC records: receivers ignore them all (RFC 9989 §4.10)`, `keep exactly one TXT "v=DMARC1; …" at ${subject}`)];
  const parsed = parseDmarcRecord(records[0]!);
  if (!parsed.ok) return [r.fail(subject, `invalid record (${parsed.reason}): "${records[0]}"`, suggestedRecord(o.domain))];
  const out: CheckResult[] = [];
  const rec = parsed.record;
  for (const f of parsed.findings) out.push(f.severity === 'fail' ? r.fail(subject, f.message, `correct the record: "${records[0]}"`) : r.warn(subject, f.message, `correct the record: "${records[0]}"`));
  const p = rec.p ?? 'none';
  if (rec.p === undefined) out.push(r.warn(subject, 'no p= tag: receivers treat it as p=none (RFC 9989)', 'add p=quarantine or p=reject'));
  else if (p === 'none') out.push(r.warn(subject, 'p=none: monitoring only, receivers take no action on failing mail', `once the aggregate reports show every legitimate source aligned: p=quarantine, then p=reject`));
  if (rec.testing) out.push(r.warn(subject, 't=y: testing mode, receivers apply one step weaker (reject as quarantine, quarantine as none)', 'remove t=y when the policy is meant'));
  const sp = rec.sp ?? p;
  const np = rec.np ?? sp;
  if (STRENGTH[sp] < STRENGTH[p]) out.push(r.warn(subject, `sp=${sp} is weaker than p=${p}: subdomains can be spoofed more easily than the domain`, `sp=${p}, or remove sp`));
  if (STRENGTH[np] < STRENGTH[p] && p !== 'none') out.push(r.warn(subject, `np=${np} is weaker than p=${p}: mail from names that do not exist is not refused`, `np=reject (names that do not exist never send mail)`));
  if (rec.rua.length === 0) out.push(r.warn(subject, 'no rua=: you receive no aggregate reports, so you cannot see who sends mail as you', `add rua=mailto:dmarc-reports@${o.domain}`));
  if (!out.some((x) => x.status !== 'ok')) out.push(r.ok(subject, `p=${p}${rec.sp ? `, sp=${rec.sp}` : ''}${rec.np ? `, np=${rec.np}` : ''}, adkim=${rec.adkim}, aspf=${rec.aspf}, ${rec.rua.length} rua`));
  return out;
}
