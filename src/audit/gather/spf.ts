/**
 * Observations for the spf check: the include/redirect tree read statically (every fixed
 * target followed, as a receiver may have to), counting DNS-querying terms and void lookups
 * the way RFC 7208 §4.6.4 does, and check_host() from the evaluator for each sending address.
 */
import type { DnsLookup } from '../../dns/types.ts';
import { checkSpf } from '../../auth/spf/check.ts';
import { isSpfRecord, parseSpfRecord, type DomainSpec } from '../../auth/spf/record.ts';
import type { SpfNode, SpfObservation } from '../checks/spf.ts';
import { observe } from '../types.ts';

/** Records read per tree: enough to see a limit of 10 broken, bounded against hostile chains. */
const MAX_NODES = 40;

export interface SpfGatherOptions {
  readonly sending: readonly string[];
  readonly limits: { readonly lookups: number; readonly voidLookups: number };
  readonly now: () => number;
}

export async function gatherSpf(domain: string, lookup: DnsLookup, o: SpfGatherOptions): Promise<SpfObservation> {
  let lookups = 0;
  let nodes = 0;
  let truncated = false;
  const voids: string[] = [];
  const macroTerms: string[] = [];
  const loops: string[] = [];
  const isVoid = async (name: string, types: readonly ('A' | 'AAAA' | 'MX' | 'TXT')[]): Promise<boolean> => {
    for (const t of types) {
      const a = await lookup.query(name, t).catch(() => undefined);
      if (!a) return false; // an error is not a void lookup
      if (a.records.length > 0) return false;
    }
    return true;
  };
  const target = (spec: DomainSpec | undefined, current: string, term: string): string | undefined => {
    if (!spec) return current;
    if (spec.literal === undefined) {
      macroTerms.push(term);
      return undefined;
    }
    return spec.literal.toLowerCase().replace(/\.$/, '');
  };

  const visit = async (name: string, via: string, path: readonly string[]): Promise<SpfNode> => {
    nodes++;
    const lk = await observe(async () => {
      const a = await lookup.query(name, 'TXT');
      return { rcode: a.rcode, texts: a.records.map((parts) => parts.join('')).filter(isSpfRecord) };
    });
    if (!lk.ok || lk.value.texts.length !== 1) return { domain: name, via, lookup: lk, children: [] };
    const parsed = parseSpfRecord(lk.value.texts[0]!);
    if (!parsed.ok) return { domain: name, via, lookup: lk, parsed, children: [] };
    const rec = parsed.record;
    // The parser counts redirect= as a lookup term; with an all mechanism it is never used (§6.1).
    lookups += rec.lookupTerms - (rec.redirect && rec.hasAll ? 1 : 0);
    // Children in record order, visited in parallel.
    const children: Promise<SpfNode>[] = [];
    const checks: Promise<void>[] = [];
    const follow = (t: string, term: string, countVoid: boolean): void => {
      if (path.includes(t)) {
        loops.push([...path, t].join(' → '));
        return;
      }
      if (nodes + children.length >= MAX_NODES) {
        truncated = true;
        return;
      }
      children.push(
        visit(t, term, [...path, t]).then((n) => {
          if (countVoid && n.lookup.ok && (n.lookup.value.rcode === 'NXDOMAIN' || n.lookup.value.texts.length === 0)) voids.push(`${term} (${t})`);
          return n;
        }),
      );
    };
    for (const d of rec.directives) {
      const m = d.mechanism;
      if (m.kind === 'include') {
        const t = target(m.domain, name, d.text);
        if (t !== undefined) follow(t, d.text, true);
      } else if (m.kind === 'a' || m.kind === 'mx' || m.kind === 'exists') {
        const t = target(m.domain, name, d.text);
        if (t === undefined) continue;
        const types = m.kind === 'mx' ? (['MX'] as const) : m.kind === 'exists' ? (['A'] as const) : (['A', 'AAAA'] as const);
        checks.push(isVoid(t, types).then((v) => void (v && voids.push(`${d.text} (${t})`))));
      } else if (m.kind === 'ptr' && m.domain && m.domain.literal === undefined) {
        macroTerms.push(d.text);
      }
    }
    if (rec.redirect && !rec.hasAll) {
      const term = rec.terms.find((t) => t.type === 'modifier' && t.name === 'redirect')?.text ?? 'redirect=';
      const t = target(rec.redirect, name, term);
      if (t !== undefined) follow(t, term, false);
    }
    await Promise.all(checks);
    const visited = await Promise.all(children);
    return { domain: name, via, lookup: lk, parsed, children: visited };
  };

  const root = await visit(domain, '', [domain]);
  const sending = await Promise.all(
    o.sending.map(async (address) => ({
      address,
      check: await checkSpf({ ip: address, mailFrom: `postmaster@${domain}`, helo: domain, receiver: 'mailanchor-audit' }, { dns: lookup, now: o.now, limits: o.limits }),
    })),
  );
  return { domain, root, lookups, voidLookups: voids.length, voids, macroTerms, loops, truncated, sending, limits: o.limits };
}
