/**
 * A per-message DNS budget in front of the shared resolver. RFC 7208 §4.6.4 asks SPF
 * implementations to bound the DNS work a message can cause (at least 20 s for the whole
 * check is its suggestion); DKIM key, DMARC and ARC lookups of the same message share it,
 * so no sender can hold a session for the end-of-message timeout or make us send hundreds
 * of queries to its DNS. Past the deadline or the query cap every lookup rejects at once
 * with a `BUDGET` DnsError, which each check turns into temperror saying which limit hit.
 */
import { DnsError, type DnsAnswer, type DnsLookup, type QueryOptions, type RRType } from '../dns/types.ts';

export interface DnsBudget {
  /** Wall-clock ms from the first lookup of the message. */
  readonly timeMs: number;
  /** Lookups (cache hits included) per message. */
  readonly maxQueries: number;
}

export interface BudgetedLookup extends DnsLookup {
  /** Lookups made so far, and which limit was hit, if any. */
  readonly spent: { readonly queries: number; readonly exhausted?: 'time' | 'queries' };
  /** Clears the deadline timer; later lookups reject. Call when the message is done. */
  dispose(): void;
}

export function budgetedLookup(dns: DnsLookup, budget: DnsBudget, options: { readonly signal?: AbortSignal } = {}): BudgetedLookup {
  let queries = 0;
  let exhausted: 'time' | 'queries' | undefined;
  let disposed = false;
  /** The deadline joined with the message's signal: made once, at the first lookup. */
  let combined: AbortSignal | undefined;
  let timer: NodeJS.Timeout | undefined;

  const spentError = (): DnsError =>
    new DnsError(
      'BUDGET',
      exhausted === 'time' ? `per-message DNS time budget of ${budget.timeMs} ms spent` : `per-message DNS query budget of ${budget.maxQueries} lookups spent`,
      { limit: exhausted, queries },
    );

  // AbortSignal.any is not free (a dependent signal tracked by weak references in each
  // source): one per message, not one per lookup.
  const start = (): AbortSignal => {
    if (!combined) {
      const c = new AbortController();
      timer = setTimeout(() => {
        exhausted ??= 'time';
        c.abort(spentError());
      }, budget.timeMs);
      timer.unref();
      combined = options.signal ? AbortSignal.any([options.signal, c.signal]) : c.signal;
    }
    return combined;
  };

  return {
    get spent() {
      return exhausted ? { queries, exhausted } : { queries };
    },
    dispose() {
      disposed = true;
      if (timer) clearTimeout(timer);
    },
    async query<T extends RRType>(name: string, type: T, qo: QueryOptions = {}): Promise<DnsAnswer<T>> {
      if (disposed) throw new DnsError('ABORTED', 'lookup after the message ended', { name, type });
      if (options.signal?.aborted) throw new DnsError('ABORTED', 'lookup aborted', { name, type }, { cause: options.signal.reason });
      if (exhausted) throw spentError();
      if (queries >= budget.maxQueries) {
        exhausted = 'queries';
        throw spentError();
      }
      queries++;
      const signal = start();
      try {
        // The checks pass the message's own signal again: it is already part of `signal`.
        const own = qo.signal === undefined || qo.signal === options.signal;
        return await dns.query(name, type, { ...qo, signal: own ? signal : AbortSignal.any([qo.signal!, signal]) });
      } catch (err) {
        // The deadline fired while this lookup waited: say so, not just "aborted".
        if (exhausted === 'time' && err instanceof DnsError && err.code === 'ABORTED') throw spentError();
        throw err;
      }
    },
  };
}
