/**
 * `spf` (RFC 7208, strict): one record, valid syntax (the evaluator's own parser,
 * src/auth/spf/record.ts), DNS-querying terms ≤ 10 and void lookups ≤ 2 counted through
 * every include and redirect (§4.6.4: beyond, receivers return permerror), a terminating
 * `-all` or `~all`, and each configured sending address permitted (check_host() run by the
 * evaluator, src/auth/spf/check.ts, with that address). The tree was walked by the
 * gatherer; this judges it. Pure.
 */
import type { SpfCheck } from '../../auth/results.ts';
import type { SpfRecord, SpfSyntaxError } from '../../auth/spf/record.ts';
import { result, type CheckResult, type Observed } from '../types.ts';

/** One record in the include/redirect tree. */
export interface SpfNode {
  readonly domain: string;
  /** The term that led here (`include:_spf.example.net`, `redirect=…`); '' for the domain's own. */
  readonly via: string;
  /** The SPF TXT records found (joined strings), or the lookup failure. */
  readonly lookup: Observed<{ readonly rcode: 'NOERROR' | 'NXDOMAIN'; readonly texts: readonly string[] }>;
  readonly parsed?: { readonly ok: true; readonly record: SpfRecord } | { readonly ok: false; readonly error: SpfSyntaxError };
  readonly children: readonly SpfNode[];
}

export interface SpfObservation {
  readonly domain: string;
  readonly root: SpfNode;
  /** DNS-querying terms over the whole tree (include, a, mx, ptr, exists, redirect). */
  readonly lookups: number;
  /** Lookups of fixed names that returned NXDOMAIN or no records. */
  readonly voidLookups: number;
  /** `term (name)` of each void lookup. */
  readonly voids: readonly string[];
  /** Terms with macros: their targets depend on the message and were not followed. */
  readonly macroTerms: readonly string[];
  /** Includes that lead back to a record already on the path. */
  readonly loops: readonly string[];
  /** The walk stopped at its node limit (the count is then a lower bound). */
  readonly truncated: boolean;
  /** check_host() for each configured sending address, MAIL FROM postmaster@domain. */
  readonly sending: readonly { readonly address: string; readonly check: SpfCheck }[];
  readonly limits: { readonly lookups: number; readonly voidLookups: number };
}

const r = result('spf');

function suggested(domain: string, sending: readonly string[]): string {
  const ips = sending.map((a) => (a.includes(':') ? `ip6:${a}` : `ip4:${a}`));
  return `${domain}. IN TXT "v=spf1 ${ips.length ? ips.join(' ') : 'mx'} -all"`;
}

/** The `all` that ends evaluation of the domain's record, following redirect= when there is no all (§6.1). */
function terminal(node: SpfNode): { qualifier: string; from: string } | undefined {
  const rec = node.parsed?.ok ? node.parsed.record : undefined;
  if (!rec) return undefined;
  const all = rec.directives.find((d) => d.mechanism.kind === 'all');
  if (all) return { qualifier: all.qualifier, from: node.domain };
  if (rec.redirect) {
    const next = node.children.find((c) => c.via.toLowerCase().startsWith('redirect='));
    return next ? terminal(next) : undefined;
  }
  return undefined;
}

function walk(node: SpfNode, visit: (n: SpfNode) => void): void {
  visit(node);
  for (const c of node.children) walk(c, visit);
}

export function judgeSpf(o: SpfObservation): CheckResult[] {
  const subject = o.domain;
  const sendingAddrs = o.sending.map((s) => s.address);
  const root = o.root;
  if (!root.lookup.ok) return [r.error(subject, `TXT lookup failed: ${root.lookup.error}`)];
  if (root.lookup.value.rcode === 'NXDOMAIN') return [r.fail(subject, `${o.domain} does not exist (NXDOMAIN)`)];
  const texts = root.lookup.value.texts;
  if (texts.length === 0) return [r.fail(subject, 'no SPF record: receivers cannot tell which hosts may send for the domain', suggested(o.domain, sendingAddrs))];
  if (texts.length > 1) return [r.fail(subject, `${texts.length} SPF records: receivers return permerror (RFC 7208 §4.5)`, `merge them into one: ${texts.map((t) => `"${t}"`).join(' + ')}`)];
  if (root.parsed && !root.parsed.ok) return [r.fail(subject, `syntax error: ${root.parsed.error.message}; receivers return permerror (RFC 7208 §4.6)`, `correct the record: "${texts[0]}"`)];
  const out: CheckResult[] = [];
  // Problems further down the tree: each include must resolve to exactly one valid record.
  walk(root, (n) => {
    if (n === root) return;
    const where = `${n.via} (${n.domain})`;
    if (!n.lookup.ok) out.push(r.error(where, `lookup failed: ${n.lookup.error}`));
    else if (n.lookup.value.texts.length === 0) out.push(r.fail(where, `${n.domain} has no SPF record: "${n.via}" is a permerror for every receiver (RFC 7208 §5.2)`, `remove "${n.via}" or ask the owner of ${n.domain} for the right name`));
    else if (n.lookup.value.texts.length > 1) out.push(r.fail(where, `${n.domain} has ${n.lookup.value.texts.length} SPF records: permerror (RFC 7208 §4.5)`, `the owner of ${n.domain} must keep one`));
    else if (n.parsed && !n.parsed.ok) out.push(r.fail(where, `syntax error in ${n.domain}'s record: ${n.parsed.error.message}`, `remove "${n.via}" until its owner corrects it`));
  });
  for (const l of o.loops) out.push(r.fail(subject, `include loop: ${l} (permerror)`, 'remove the include that leads back'));
  const count = `${o.lookups}${o.truncated ? '+' : ''}`;
  if (o.lookups > o.limits.lookups) {
    out.push(r.fail(subject, `${count} DNS-querying terms through includes and redirects; the limit is ${o.limits.lookups} (RFC 7208 §4.6.4): receivers return permerror`, 'replace includes by the ip4:/ip6: networks they stand for, or drop mechanisms (a, mx, ptr) that are not needed'));
  }
  if (o.voidLookups > o.limits.voidLookups) {
    out.push(r.fail(subject, `${o.voidLookups} void lookups (${o.voids.join(', ')}); the limit is ${o.limits.voidLookups} (RFC 7208 §4.6.4): permerror`, 'remove the terms whose names do not exist'));
  } else if (o.voidLookups > 0) {
    out.push(r.warn(subject, `void lookup${o.voidLookups > 1 ? 's' : ''}: ${o.voids.join(', ')} (limit ${o.limits.voidLookups})`, 'remove the terms whose names do not exist'));
  }
  const rec = root.parsed?.ok ? root.parsed.record : undefined;
  if (rec?.directives.some((d) => d.mechanism.kind === 'ptr')) out.push(r.warn(subject, 'the ptr mechanism is slow and unreliable; RFC 7208 §5.5 says it SHOULD NOT be used', 'replace ptr by ip4:/ip6: or a'));
  const end = terminal(root);
  if (!end) out.push(r.warn(subject, 'no all mechanism: mail from any other host gets neutral', `end the record with -all: "${texts[0]} -all"`));
  else if (end.qualifier === '+') out.push(r.fail(subject, `+all${end.from !== o.domain ? ` (from ${end.from})` : ''}: every host on the Internet may send as ${o.domain}`, 'end the record with -all'));
  else if (end.qualifier === '?') out.push(r.warn(subject, `?all${end.from !== o.domain ? ` (from ${end.from})` : ''}: other hosts get neutral, the same as no SPF`, 'end the record with -all (or ~all while testing)'));
  for (const s of o.sending) {
    const c = s.check;
    const what = `${s.address} (sending address)`;
    if (c.result === 'pass') out.push(r.ok(what, `permitted: ${c.reason}`));
    else if (c.result === 'temperror') out.push(r.error(what, `check_host() temperror: ${c.reason}`));
    else if (c.result === 'permerror') out.push(r.fail(what, `check_host() permerror: ${c.reason}`, 'fix the record (above)'));
    else out.push(r.fail(what, `our sending address gets ${c.result} (${c.reason}): receivers treat our own mail as unauthorised`, `add ${s.address.includes(':') ? 'ip6' : 'ip4'}:${s.address} to the record: "${texts[0]!.replace(/ ([-~?+]?all)$/, ` ${s.address.includes(':') ? 'ip6' : 'ip4'}:${s.address} $1`)}"`));
  }
  if (!out.some((x) => x.status !== 'ok')) {
    const macros = o.macroTerms.length ? `; ${o.macroTerms.length} term(s) with macros not followed (${o.macroTerms.join(', ')})` : '';
    out.unshift(r.ok(subject, `"${texts[0]}": ${count} DNS lookups (limit ${o.limits.lookups}), ${o.voidLookups} void, ends ${end?.qualifier ?? ''}all${macros}`));
  }
  return out;
}
