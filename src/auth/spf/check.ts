/**
 * check_host() (RFC 7208 §4–§6) for one message: `checkSpf(input, deps) → SpfCheck`.
 *
 * Strict: the record is parsed whole before evaluation (§4.6), every mechanism and modifier,
 * the §4.6.4 limits (DNS-querying terms through includes and redirects, more than 10 MX
 * names, 10 PTR names, void lookups), `exp=` fetched only for a final `fail`. DNS through the
 * caller's (budgeted) `DnsLookup`; a `DnsError` is temperror — a `BUDGET` one says which
 * budget ran out — except where §5.5 says a DNS error only makes `ptr` not match.
 *
 * Within one check every (name, type) is asked once, however often includes reach it
 * (lookups still count per term, as §4.6.4 asks), and a record is parsed once for as long
 * as the resolver caches it, not once per message. Nothing
 * throws out of `checkSpf`: a failure of ours is a temperror, never pass or fail.
 */
import { DnsError, type DnsAnswer, type DnsLookup, type QueryOptions, type RRType } from '../../dns/types.ts';
import { describeError } from '../../errors.ts';
import { isSubdomainOf, normalizeDomain } from '../../mail/domain.ts';
import type { SpfCheck, SpfResult } from '../results.ts';
import { dotFormat, formatIp, inPrefix, parseClientIp, parseRecordAddress, reverseName, type IpAddress } from './ip-address.ts';
import { expandMacroString, expandTail, parseMacroString, type MacroString, type MacroValues } from './macro.ts';
import { isSpfRecord, parseSpfRecord, type DomainSpec, type SpfDirective, type SpfQualifier, type SpfRecord, type SpfRecordParse } from './record.ts';
import { MAX_NAME, targetName } from './target-name.ts';

export interface SpfInput {
  /** The SMTP client's address, IPv4 or IPv6 (an IPv4-mapped IPv6 address is IPv4, §5). */
  readonly ip: string;
  /** The MAIL FROM reverse-path, without angle brackets; '' for the null sender (§2.4: then postmaster@HELO is checked). */
  readonly mailFrom: string;
  /** The HELO/EHLO name as the client gave it (%{h}). */
  readonly helo: string;
  /** Our host name, for %{r} in explanations ("unknown" when empty, §7.3). */
  readonly receiver: string;
}

/** RFC 7208 §4.6.4; from `inbound.spf_max_lookups` and `inbound.spf_max_void_lookups`. */
export interface SpfLimits {
  readonly lookups: number;
  readonly voidLookups: number;
}

export interface SpfDeps {
  /** Already wrapped in the message's DNS budget by the caller. */
  readonly dns: DnsLookup;
  readonly signal?: AbortSignal;
  /** ms since the epoch, for %{t}. */
  readonly now: () => number;
  readonly limits: SpfLimits;
}

/** §4.6.4: "the evaluation of each 'MX' record MUST NOT result in querying more than 10 address records" (more → permerror); PTR names beyond 10 are ignored. */
const MAX_MX = 10;
const MAX_PTR = 10;
/** Explanations are the sending domain's text: kept to a size a log line and an SMTP reply can carry. */
const MAX_EXPLANATION = 1024;

const RESULT: Readonly<Record<SpfQualifier, SpfResult>> = { '+': 'pass', '-': 'fail', '~': 'softfail', '?': 'neutral' };

interface Outcome {
  readonly result: SpfResult;
  readonly reason: string;
  /** A `fail` decided by a record with `exp=`: where to find the explanation (§6.2). */
  readonly exp?: { readonly spec: DomainSpec; readonly domain: string };
}

/** A mechanism's verdict: matched (with a detail for the reason), not matched, or an error that ends the check. */
type Step = boolean | { readonly matched: string } | Outcome;

type Target = { readonly name: string } | 'invalid' | 'local-part';

const permerror = (reason: string): Outcome => ({ result: 'permerror', reason });

/** Reasons name the chain of includes and redirects; a loop makes that long, so keep both ends. */
const MAX_REASON = 400;
function brief(reason: string): string {
  return reason.length <= MAX_REASON ? reason : `${reason.slice(0, 150)} … ${reason.slice(reason.length - (MAX_REASON - 153))}`;
}

/**
 * Parsed records by the TXT record they came from (its array of strings), `false` for a TXT
 * record that is not SPF. The caching resolver hands out the same arrays for as long as it
 * keeps an answer, so a record is parsed once per TTL rather than once per message; being
 * weak, the map keeps nothing alive that the resolver has dropped. Parsed records are
 * immutable, so sharing them between checks is safe.
 */
const PARSED = new WeakMap<readonly string[], SpfRecordParse | false>();

function spfRecordOf(strings: readonly string[]): SpfRecordParse | false {
  let parsed = PARSED.get(strings);
  if (parsed === undefined) {
    // §3.3: the strings of one TXT record are concatenated without separator.
    const text = strings.length === 1 ? strings[0]! : strings.join('');
    parsed = isSpfRecord(text) ? parseSpfRecord(text) : false;
    PARSED.set(strings, parsed);
  }
  return parsed;
}

/** Errors that end the whole check even where §5.5 lets a DNS error pass: the message's budget, or the caller gave up. */
const fatal = (err: DnsError): boolean => err.code === 'BUDGET' || err.code === 'ABORTED';

export async function checkSpf(input: SpfInput, deps: SpfDeps): Promise<SpfCheck> {
  const mailFrom = input.mailFrom.trim().replace(/^<(.*)>$/s, '$1');
  const scope = mailFrom === '' ? 'helo' : 'mfrom';
  // §4.3: a sender without local-part is postmaster; §2.4: the null sender is postmaster@HELO.
  let local = 'postmaster';
  let rawDomain = input.helo.trim();
  if (scope === 'mfrom') {
    const at = mailFrom.lastIndexOf('@');
    if (at === -1) rawDomain = mailFrom;
    else {
      local = mailFrom.slice(0, at) || 'postmaster';
      rawDomain = mailFrom.slice(at + 1);
    }
  }
  const domain = normalizeDomain(rawDomain);
  const identity = `${local}@${domain ?? rawDomain}`;
  const base = { scope, domain: domain ?? rawDomain.toLowerCase(), identity } as const;
  const done = (result: SpfResult, reason: string, counts = { lookups: 0, voidLookups: 0 }, explanation?: string): SpfCheck => ({
    result,
    ...base,
    reason: brief(reason),
    ...(explanation === undefined ? {} : { explanation }),
    ...counts,
  });

  // §4.3: a malformed or single-label <domain> (or a domain literal) → none, without a lookup.
  if (!domain || !domain.includes('.')) return done('none', `${JSON.stringify(rawDomain)} is not a multi-label domain name (RFC 7208 §4.3)`);
  const ip = parseClientIp(input.ip);
  // No address, no check_host() (<ip> is one of its inputs, §4.1): nothing was checked.
  if (!ip) return done('none', `${JSON.stringify(input.ip)} is not an IP address; no check made`);

  // %{s} and %{o} are <sender> as the client wrote it (§7.3); only U-labels become A-labels (RFC 8616 §4).
  const givenDomain = /^[\x21-\x7e]+$/.test(rawDomain) ? rawDomain.replace(/\.$/, '') : domain;
  const ev = new Evaluation(ip, local, givenDomain, input, deps);
  try {
    const outcome = await ev.checkHost(domain);
    const counts = { lookups: ev.lookups, voidLookups: ev.voids };
    const explanation = outcome.result === 'fail' && outcome.exp ? await ev.explain(outcome.exp.spec, outcome.exp.domain) : undefined;
    return done(outcome.result, outcome.reason, counts, explanation);
  } catch (err) {
    // A bug of ours (or a resolver that throws something odd) is never a verdict about the sender.
    return done('temperror', `internal error during SPF evaluation: ${describeError(err).message}`, { lookups: ev.lookups, voidLookups: ev.voids });
  }
}

class Evaluation {
  lookups = 0;
  voids = 0;
  readonly #ip: IpAddress;
  readonly #addressType: 'A' | 'AAAA';
  readonly #dns: DnsLookup;
  readonly #queryOptions: QueryOptions;
  readonly #limits: SpfLimits;
  readonly #nonAsciiLocal: boolean;
  readonly #values: Omit<MacroValues, 'domain' | 'ptr'>;
  readonly #answers = new Map<string, Promise<DnsAnswer | DnsError>>();
  #validatedNames: Promise<readonly string[]> | undefined;

  constructor(ip: IpAddress, local: string, senderDomain: string, input: SpfInput, deps: SpfDeps) {
    this.#ip = ip;
    this.#addressType = ip.family === 4 ? 'A' : 'AAAA';
    this.#dns = deps.dns;
    this.#queryOptions = deps.signal ? { signal: deps.signal } : {};
    this.#limits = deps.limits;
    // RFC 8616 §4: a non-ASCII local-part cannot be put in a DNS label.
    this.#nonAsciiLocal = /[^\x00-\x7f]/.test(local);
    this.#values = {
      sender: `${local}@${senderDomain}`,
      local,
      senderDomain,
      ipDots: dotFormat(ip),
      ipText: formatIp(ip),
      ipVersion: ip.family === 4 ? 'in-addr' : 'ip6',
      helo: input.helo,
      receiver: input.receiver || 'unknown',
      timestamp: String(Math.floor(deps.now() / 1000)),
    };
  }

  /** check_host(<ip>, <domain>, <sender>) — §4. */
  async checkHost(domain: string): Promise<Outcome> {
    const record = await this.#record(domain);
    if (!('directives' in record)) return record;
    for (const directive of record.directives) {
      const step = await this.#mechanism(directive, domain);
      if (step === false) continue;
      if (step !== true && 'result' in step) return step;
      const result = RESULT[directive.qualifier];
      const reason = `${domain}: ${step === true ? directive.text : step.matched} matched`;
      // §6.2: the explanation of the record whose mechanism gave the fail (not of an include).
      return result === 'fail' && record.explanation ? { result, reason, exp: { spec: record.explanation, domain } } : { result, reason };
    }
    // §5.1: with "all" present a redirect is ignored (and "all" always matched above).
    if (record.redirect && !record.hasAll) {
      const text = `redirect=${record.redirect.macro.text}`;
      const over = this.#countLookup(text, domain);
      if (over) return over;
      const target = await this.#target(record.redirect, domain);
      if (target === 'invalid' || target === 'local-part') return permerror(`${domain}: ${text} does not give a valid domain name (RFC 7208 §6.1)`);
      const sub = await this.checkHost(target.name);
      // §6.1: "If no SPF record is found, or if the <target-name> is malformed, the result is a 'permerror' rather than 'none'."
      if (sub.result === 'none') return permerror(`${domain}: redirect=${target.name}: ${sub.reason} (RFC 7208 §6.1)`);
      return { ...sub, reason: `${domain}: redirect=${target.name} → ${sub.reason}` };
    }
    return { result: 'neutral', reason: `${domain}: no mechanism matched (default neutral, RFC 7208 §4.7)` };
  }

  /** The one SPF record of `domain` (§4.4, §4.5), parsed, or the outcome that ends here. */
  async #record(domain: string): Promise<SpfRecord | Outcome> {
    const answer = await this.#lookup(domain, 'TXT');
    if (answer instanceof DnsError) return this.#dnsFailure(answer, 'TXT', domain);
    let found: SpfRecordParse | undefined;
    let count = 0;
    for (const strings of answer.records) {
      const parsed = spfRecordOf(strings);
      if (parsed !== false) {
        count++;
        found = parsed;
      }
    }
    if (found === undefined) return { result: 'none', reason: answer.rcode === 'NXDOMAIN' ? `${domain} does not exist` : `no SPF record at ${domain}` };
    if (count > 1) return permerror(`${count} SPF records at ${domain} (RFC 7208 §4.5)`);
    return found.ok ? found.record : permerror(`syntax error in the SPF record of ${domain}: ${found.error.message}`);
  }

  async #mechanism(directive: SpfDirective, domain: string): Promise<Step> {
    const m = directive.mechanism;
    switch (m.kind) {
      case 'all':
        return true;
      case 'ip4':
        return this.#ip.family === 4 && inPrefix(this.#ip.bytes, m.network, m.prefix);
      case 'ip6':
        return this.#ip.family === 6 && inPrefix(this.#ip.bytes, m.network, m.prefix);
      case 'include':
        return this.#include(directive.text, m.domain, domain);
      case 'a':
      case 'mx':
      case 'exists': {
        const over = this.#countLookup(directive.text, domain);
        if (over) return over;
        // a and mx without a domain-spec mean the current domain (§5.3, §5.4); exists always has one.
        const target = m.domain ? await this.#target(m.domain, domain) : { name: domain };
        if (target === 'local-part') return false;
        if (target === 'invalid') return this.#voidLookup(`${directive.text} (not a valid domain name)`) ?? false;
        if (m.kind === 'exists') return this.#exists(target.name);
        const prefix = this.#ip.family === 4 ? m.cidr4 : m.cidr6;
        return m.kind === 'a' ? this.#a(target.name, prefix) : this.#mx(target.name, prefix);
      }
      case 'ptr': {
        const over = this.#countLookup(directive.text, domain);
        if (over) return over;
        const target = m.domain ? await this.#target(m.domain, domain) : { name: domain };
        if (target === 'local-part' || target === 'invalid') return false;
        return this.#ptr(target.name);
      }
    }
  }

  /** §5.2: pass matches; fail, softfail, neutral do not; temperror and permerror end the check; none is a permerror. */
  async #include(text: string, spec: DomainSpec, domain: string): Promise<Step> {
    const over = this.#countLookup(text, domain);
    if (over) return over;
    const target = await this.#target(spec, domain);
    if (target === 'local-part') return false;
    if (target === 'invalid') return permerror(`${domain}: ${text} does not give a valid domain name, so the included check would be "none" (RFC 7208 §4.3, §5.2)`);
    const sub = await this.checkHost(target.name);
    switch (sub.result) {
      case 'pass':
        return { matched: `include:${target.name} (${sub.reason})` };
      case 'fail':
      case 'softfail':
      case 'neutral':
        return false;
      case 'none':
        return permerror(`${domain}: include:${target.name}: ${sub.reason} (RFC 7208 §5.2)`);
      default:
        return { result: sub.result, reason: `${domain}: include:${target.name} → ${sub.reason}` };
    }
  }

  /** §5.3: the client's address family's records of the target, compared under the CIDR prefix. */
  async #a(name: string, prefix: number): Promise<Step> {
    const answer = await this.#lookup(name, this.#addressType);
    if (answer instanceof DnsError) return this.#dnsFailure(answer, this.#addressType, name);
    if (answer.records.length === 0) return this.#voidLookup(`${this.#addressType} ${name}`) ?? false;
    return this.#anyAddress(answer, prefix);
  }

  /**
   * §5.4: the MX names of the target, each one's addresses. No implicit MX (§5.4: no A
   * lookup when there is no MX); a null MX (RFC 7505, exchange ".") names no host. The
   * address lookups run in parallel but are read in priority order, so the verdict is
   * what asking one after the other would give.
   */
  async #mx(name: string, prefix: number): Promise<Step> {
    const answer = await this.#lookup(name, 'MX');
    if (answer instanceof DnsError) return this.#dnsFailure(answer, 'MX', name);
    const records = answer.records;
    if (records.length === 0) return this.#voidLookup(`MX ${name}`) ?? false;
    if (records.length > MAX_MX) return permerror(`mx:${name} has ${records.length} MX records, more than ${MAX_MX} (RFC 7208 §4.6.4)`);
    const hosts = [...records].sort((x, y) => x.priority - y.priority).map((r) => targetName(r.exchange));
    const answers = await Promise.all(hosts.map((host) => (host === undefined ? undefined : this.#lookup(host, this.#addressType))));
    for (let i = 0; i < answers.length; i++) {
      const a = answers[i];
      if (a === undefined) continue;
      if (a instanceof DnsError) return this.#dnsFailure(a, this.#addressType, hosts[i]!);
      if (this.#anyAddress(a, prefix)) return true;
    }
    return false;
  }

  /** §5.7: an A lookup whatever the client's family; any record matches. */
  async #exists(name: string): Promise<Step> {
    const answer = await this.#lookup(name, 'A');
    if (answer instanceof DnsError) return this.#dnsFailure(answer, 'A', name);
    if (answer.records.length === 0) return this.#voidLookup(`A ${name}`) ?? false;
    return true;
  }

  /**
   * §5.5: the client's PTR names (the first 10, §4.6.4) that are the target or below it,
   * validated by a forward lookup that gives the client's address back. A DNS error on the
   * PTR lookup means no match; on a name's address lookup, that name is skipped.
   */
  async #ptr(target: string): Promise<Step> {
    const reverse = reverseName(this.#ip);
    const answer = await this.#lookup(reverse, 'PTR');
    if (answer instanceof DnsError) return fatal(answer) ? this.#dnsFailure(answer, 'PTR', reverse) : false;
    if (answer.records.length === 0) return this.#voidLookup(`PTR ${reverse}`) ?? false;
    const names = this.#ptrNames(answer).filter((n) => isSubdomainOf(n, target));
    const checks = await Promise.all(names.map((n) => this.#validates(n)));
    for (const c of checks) if (c !== false) return c;
    return false;
  }

  #ptrNames(answer: DnsAnswer<'PTR'>): string[] {
    const names: string[] = [];
    for (const r of answer.records.slice(0, MAX_PTR)) {
      const n = targetName(r);
      if (n !== undefined) names.push(n);
    }
    return names;
  }

  /** True when `name`'s addresses include the client's; a fatal DNS error ends the check. */
  async #validates(name: string): Promise<true | false | Outcome> {
    const answer = await this.#lookup(name, this.#addressType);
    if (answer instanceof DnsError) return fatal(answer) ? this.#dnsFailure(answer, this.#addressType, name) : false;
    return this.#anyAddress(answer, this.#ip.family === 4 ? 32 : 128);
  }

  #anyAddress(answer: DnsAnswer<'A' | 'AAAA'>, prefix: number): boolean {
    for (const text of answer.records) {
      const bytes = parseRecordAddress(text, this.#ip.family);
      if (bytes && inPrefix(this.#ip.bytes, bytes, prefix)) return true;
    }
    return false;
  }

  /**
   * %{p} (§7.3): a validated name of the client — <domain> itself, else one below it, else
   * any — or "unknown". Errors only make it "unknown"; the names are found once per check.
   */
  async #ptrValue(domain: string): Promise<string> {
    this.#validatedNames ??= this.#findValidatedNames();
    const names = await this.#validatedNames;
    return names.find((n) => n === domain) ?? names.find((n) => isSubdomainOf(n, domain)) ?? names[0] ?? 'unknown';
  }

  async #findValidatedNames(): Promise<readonly string[]> {
    const answer = await this.#lookup(reverseName(this.#ip), 'PTR');
    if (answer instanceof DnsError) return [];
    const names = this.#ptrNames(answer);
    const checks = await Promise.all(names.map((n) => this.#validates(n)));
    return names.filter((_, i) => checks[i] === true);
  }

  /** A domain-spec expanded for `domain` (§7), as a query name. */
  async #target(spec: DomainSpec, domain: string): Promise<Target> {
    if (spec.literal !== undefined) {
      const name = targetName(spec.literal);
      return name === undefined ? 'invalid' : { name };
    }
    const macro = spec.macro;
    // RFC 8616 §4: with a non-ASCII local-part, terms whose target uses %{s} or %{l} do not match.
    if (this.#nonAsciiLocal && (macro.letters.has('s') || macro.letters.has('l'))) return 'local-part';
    const values = await this.#macroValues(macro, domain);
    // Only the right-hand 253 characters (+ a dot and a trailing dot) survive §7.3 truncation.
    const name = targetName(expandTail(macro, values, MAX_NAME + 3));
    return name === undefined ? 'invalid' : { name };
  }

  async #macroValues(macro: MacroString, domain: string): Promise<MacroValues> {
    return { ...this.#values, domain, ptr: macro.letters.has('p') ? await this.#ptrValue(domain) : 'unknown' };
  }

  /**
   * §6.2, for a final `fail`: the TXT record at the expanded `exp=` target, itself expanded.
   * Not counted against the §4.6.4 limits. Any problem — the target invalid, a DNS error,
   * no record or more than one, an explanation-string syntax error, non-ASCII text — means
   * no explanation ("proceed as if no exp modifier was given").
   */
  async explain(spec: DomainSpec, domain: string): Promise<string | undefined> {
    const target = await this.#target(spec, domain);
    if (target === 'invalid' || target === 'local-part') return undefined;
    const answer = await this.#lookup(target.name, 'TXT');
    if (answer instanceof DnsError || answer.records.length !== 1) return undefined;
    const text = answer.records[0]!.join('');
    const parsed = parseMacroString(text, 'explain');
    if (text === '' || !parsed.ok) return undefined;
    if (this.#nonAsciiLocal && (parsed.macro.letters.has('s') || parsed.macro.letters.has('l'))) return undefined;
    return expandMacroString(parsed.macro, await this.#macroValues(parsed.macro, domain), MAX_EXPLANATION);
  }

  #countLookup(term: string, domain: string): Outcome | undefined {
    if (++this.lookups <= this.#limits.lookups) return undefined;
    return permerror(`more than ${this.#limits.lookups} DNS-querying terms, at ${term} in ${domain} (RFC 7208 §4.6.4)`);
  }

  /** §4.6.4 void lookups: a term's query answered NXDOMAIN or with no records. */
  #voidLookup(what: string): Outcome | undefined {
    if (++this.voids <= this.#limits.voidLookups) return undefined;
    return permerror(`more than ${this.#limits.voidLookups} void lookups, at ${what} (RFC 7208 §4.6.4)`);
  }

  #dnsFailure(err: DnsError, type: RRType, name: string): Outcome {
    if (err.code === 'BUDGET') return { result: 'temperror', reason: `${err.message} (at ${type} ${name})` };
    if (err.code === 'ABORTED') return { result: 'temperror', reason: `SPF check aborted (at ${type} ${name})` };
    return { result: 'temperror', reason: `DNS ${err.code} for ${type} ${name}` };
  }

  /** One query per (name, type) per check; never rejects. */
  #lookup<T extends RRType>(name: string, type: T): Promise<DnsAnswer<T> | DnsError> {
    const key = `${type} ${name}`;
    let answer = this.#answers.get(key);
    if (!answer) {
      answer = this.#ask(name, type);
      this.#answers.set(key, answer);
    }
    return answer as Promise<DnsAnswer<T> | DnsError>;
  }

  async #ask(name: string, type: RRType): Promise<DnsAnswer | DnsError> {
    try {
      return await this.#dns.query(name, type, this.#queryOptions);
    } catch (err) {
      return err instanceof DnsError ? err : new DnsError('OTHER', `lookup failed: ${describeError(err).message}`, { name, type }, { cause: err });
    }
  }
}
