/**
 * The I/O half of DMARC: the `_dmarc` TXT lookups of the tree walks (RFC 9989 §4.10) and the
 * existence check of an Author Domain (§3.2.13), made through the message's budgeted
 * `DnsLookup` and remembered for the message, so each name is asked once however many walks
 * pass through it. The decisions are in `tree-walk.ts` / `evaluate.ts`.
 *
 * Work starts as early as the inputs are known: `prefetch` at end of headers (the From
 * domains and every DKIM d= are known then; the MAIL FROM domain since MAIL FROM) walks from
 * the author domains at once, and from an identifier as soon as the author's walk shows it
 * could align (it lies below the author's Organizational Domain). `facts` at end of message
 * fetches whatever the evaluation of the actual results still needs (`dmarcNeeds`) and
 * returns the facts for the pure `evaluateDmarc`.
 */
import { isSubdomainOf, normalizeDomain } from '../../mail/domain.ts';
import { DnsError, type DnsLookup } from '../../dns/types.ts';
import type { DmarcCheck } from '../results.ts';
import { planDmarc, type DmarcFacts, type DmarcInput, type DmarcOptions } from './evaluate.ts';
import { isDmarcRecord, joinTxt, parseDmarcRecord } from './record.ts';
import { needsExistence, organizationalDomain, stopsWalk, walkTargets, type DmarcLookup, type TreeWalk, type WalkStep } from './tree-walk.ts';

/** Enough for the deepest chain: author walk → existence and identifier walks → done. */
const MAX_ROUNDS = 4;

function errorLookup(err: unknown): DmarcLookup {
  if (err instanceof DnsError) return { kind: 'error', code: err.code, message: err.message };
  return { kind: 'error', code: 'OTHER', message: err instanceof Error ? err.message : String(err) };
}

export class DmarcDiscovery {
  readonly #dns: DnsLookup;
  readonly #signal: AbortSignal | undefined;
  readonly #lookups = new Map<string, Promise<DmarcLookup>>();
  readonly #walks = new Map<string, Promise<TreeWalk>>();
  readonly #existence = new Map<string, Promise<boolean | 'unknown'>>();

  constructor(dns: DnsLookup, options: { readonly signal?: AbortSignal } = {}) {
    this.#dns = dns;
    this.#signal = options.signal;
  }

  /** `_dmarc.<domain>` TXT, once per message. Never rejects: a failure is a `DmarcLookup` of kind error. */
  lookup(domain: string): Promise<DmarcLookup> {
    let p = this.#lookups.get(domain);
    if (!p) {
      p = this.#query(domain);
      this.#lookups.set(domain, p);
    }
    return p;
  }

  async #query(domain: string): Promise<DmarcLookup> {
    const name = `_dmarc.${domain}`;
    // A name over 253 octets cannot exist in the DNS, so it holds no record (§4.10 asks for it).
    if (name.length > 253) return { kind: 'none', detail: 'name-too-long' };
    try {
      const answer = await this.#dns.query(name, 'TXT', this.#signal ? { signal: this.#signal } : {});
      if (answer.rcode === 'NXDOMAIN') return { kind: 'none', detail: 'nxdomain' };
      const texts = answer.records.map(joinTxt).filter(isDmarcRecord);
      if (texts.length === 0) return { kind: 'none', detail: answer.records.length ? 'no-dmarc-txt' : 'nodata' };
      // §4.10 step 2: several DMARC records at one name are all discarded.
      if (texts.length > 1) return { kind: 'none', detail: 'several-records' };
      const record = parseDmarcRecord(texts[0]!);
      return record ? { kind: 'record', record } : { kind: 'none', detail: 'no-dmarc-txt' };
    } catch (err) {
      return errorLookup(err);
    }
  }

  /**
   * The tree walk from `start`: every target is asked at once (at most 8, and the walk
   * usually needs them all), the outcome cut at the record that stops it (§4.10 steps 2, 6).
   */
  walk(start: string): Promise<TreeWalk> {
    let p = this.#walks.get(start);
    if (!p) {
      p = (async () => {
        const targets = walkTargets(start);
        const pending = targets.map((d) => this.lookup(d));
        const steps: WalkStep[] = [];
        for (const [i, d] of targets.entries()) {
          const lookup = await pending[i]!;
          steps.push({ domain: d, lookup });
          if (stopsWalk(lookup)) break;
        }
        return { start, steps };
      })();
      this.#walks.set(start, p);
    }
    return p;
  }

  /** Whether `domain` exists (§3.2.13, RFC 8020): NXDOMAIN for the name itself means no. */
  exists(domain: string): Promise<boolean | 'unknown'> {
    let p = this.#existence.get(domain);
    if (!p) {
      p = this.#dns.query(domain, 'A', this.#signal ? { signal: this.#signal } : {}).then(
        (a) => a.rcode !== 'NXDOMAIN' || a.cnameChain.length > 0,
        () => 'unknown' as const,
      );
      this.#existence.set(domain, p);
    }
    return p;
  }

  /**
   * End of headers: walk from each author domain now; once a walk is in, check the author's
   * existence if its record has np=, and walk from each identifier that lies strictly below
   * the author's Organizational Domain (an identifier equal to the author or to that domain
   * aligns without a walk; one outside it cannot align). Errors surface in `facts`.
   */
  prefetch(authors: readonly string[], rawIdentifiers: readonly string[]): void {
    // d= straight from a DKIM-Signature header may be in any case or carry a trailing dot.
    const identifiers = rawIdentifiers.map((d) => normalizeDomain(d)).filter((d): d is string => d !== undefined);
    for (const author of authors) {
      this.walk(author)
        .then((w) => {
          if (needsExistence(w)) void this.exists(author);
          const org = organizationalDomain(w);
          if (!org.known) return;
          for (const id of identifiers) {
            if (id !== author && id !== org.domain && isSubdomainOf(id, org.domain)) void this.walk(id);
          }
        })
        // Only a head start: `facts` asks again for whatever is still missing.
        .catch(() => undefined);
    }
  }

  /** End of message: every fact the evaluation of `input` needs, looked up. */
  async facts(input: DmarcInput, options: DmarcOptions): Promise<DmarcFacts> {
    return (await this.#settle(input, options)).facts;
  }

  /** `facts`, then the pure evaluation (the last round's, which had nothing left to ask). */
  async check(input: DmarcInput, options: DmarcOptions): Promise<DmarcCheck> {
    return (await this.#settle(input, options)).check;
  }

  async #settle(input: DmarcInput, options: DmarcOptions): Promise<{ facts: DmarcFacts; check: DmarcCheck }> {
    const facts = { walks: new Map<string, TreeWalk>(), existence: new Map<string, boolean | 'unknown'>() };
    for (let round = 0; ; round++) {
      const { check, needs } = planDmarc(input, facts, options);
      if ((needs.walks.length === 0 && needs.existence.length === 0) || round >= MAX_ROUNDS) return { facts, check };
      await Promise.all([
        ...needs.walks.map(async (d) => void facts.walks.set(d, await this.walk(d))),
        ...needs.existence.map(async (d) => void facts.existence.set(d, await this.exists(d))),
      ]);
    }
  }
}
