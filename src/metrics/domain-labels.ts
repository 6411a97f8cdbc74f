/**
 * Bounded label values for per-domain metrics. Mail from the internet names any domain at
 * all, and every distinct label value is a time series Prometheus keeps; so a domain gets
 * its own label only if it is configured (`fixed`) or among the `top` busiest seen by this
 * process, and everything else is `other`. At most |fixed| + top + 1 values ever exist at
 * once.
 *
 * Busiest is counted with the Space-Saving algorithm (Metwally et al. 2005): a table of at
 * most `capacity` candidates; a new domain that finds the table full replaces the least
 * counted one and inherits its count (+1) as its possible overestimate, so memory stays
 * bounded whatever the traffic. Counts are halved every `halveEvery` observations, so the
 * ranking follows recent traffic.
 *
 * A domain outside the top set replaces the least busy member only when its guaranteed count
 * (the count minus the inherited overestimate) is at least 2 and twice that member's: a
 * stream of one-off domains never displaces anyone, and two domains of similar volume do not trade places on
 * every message. A member that loses its place is handed to `onDemote`, so the caller can
 * drop its series (they would otherwise stay in every scrape with frozen values); its next
 * messages count under `other`. Pure apart from that callback: no clock, no I/O.
 */
import { normalizeDomain } from '../mail/domain.ts';

export const OTHER = 'other';

export interface DomainLabelOptions {
  /** Always their own label (e.g. our own domains, the domains we report on). */
  readonly fixed?: Iterable<string>;
  /** How many other domains may have their own label at once. */
  readonly top: number;
  /** Candidates tracked. Default max(8 × top, 64). */
  readonly capacity?: number;
  /** Counts are halved after this many observations. Default 32 × capacity. */
  readonly halveEvery?: number;
  /** A domain lost its own label (its series can be removed). */
  readonly onDemote?: (domain: string) => void;
}

export interface DomainLabels {
  /** Counts one message for `domain` and returns the label to use for it. */
  label(domain: string | undefined): string;
  /** The domains that have their own label now (fixed ones first). */
  labelled(): string[];
}

/** A name that is no valid domain never gets a label of its own (it could be anything). */
const normalize = (d: string): string | undefined => normalizeDomain(d);

export function createDomainLabels(o: DomainLabelOptions): DomainLabels {
  const top = Math.max(0, Math.floor(o.top));
  const capacity = Math.max(1, o.capacity ?? Math.max(8 * top, 64));
  const halveEvery = Math.max(1, o.halveEvery ?? 32 * capacity);
  const fixed = new Set([...(o.fixed ?? [])].flatMap((d) => normalize(d) ?? []));
  /** Space-Saving candidates with their overestimate (never contains a member of `admitted`). */
  const candidates = new Map<string, { count: number; error: number }>();
  /** Domains with their own label, with their (decayed) counts. */
  const admitted = new Map<string, number>();
  let seen = 0;

  const halve = (): void => {
    for (const [k, v] of candidates) candidates.set(k, { count: v.count / 2, error: v.error / 2 });
    for (const [k, v] of admitted) admitted.set(k, v / 2);
  };

  /** Counts `d` as a candidate; returns its guaranteed count (count − overestimate). */
  const countCandidate = (d: string): number => {
    const c = candidates.get(d);
    if (c !== undefined) {
      candidates.set(d, { count: c.count + 1, error: c.error });
      return c.count + 1 - c.error;
    }
    if (candidates.size >= capacity) {
      let minKey: string | undefined;
      let min = Infinity;
      for (const [k, v] of candidates) {
        if (v.count < min) {
          min = v.count;
          minKey = k;
        }
      }
      candidates.delete(minKey!);
      candidates.set(d, { count: min + 1, error: min });
      return 1;
    }
    candidates.set(d, { count: 1, error: 0 });
    return 1;
  };

  return {
    label(raw) {
      const d = raw === undefined ? undefined : normalize(raw);
      if (d === undefined) return OTHER;
      if (fixed.has(d)) return d;
      if (++seen % halveEvery === 0) halve();
      const a = admitted.get(d);
      if (a !== undefined) {
        admitted.set(d, a + 1);
        return d;
      }
      if (top === 0) return OTHER;
      const count = countCandidate(d);
      if (admitted.size < top) {
        candidates.delete(d);
        admitted.set(d, count);
        return d;
      }
      let weakest: string | undefined;
      let weakestCount = Infinity;
      for (const [k, v] of admitted) {
        if (v < weakestCount) {
          weakestCount = v;
          weakest = k;
        }
      }
      // Seen at least twice for sure, and twice as busy as the weakest member.
      if (weakest !== undefined && count >= 2 && count > 2 * weakestCount) {
        admitted.delete(weakest);
        candidates.set(weakest, { count: weakestCount, error: 0 });
        candidates.delete(d);
        admitted.set(d, count);
        o.onDemote?.(weakest);
        return d;
      }
      return OTHER;
    },
    labelled: () => [...fixed, ...admitted.keys()],
  };
}
