/**
 * How the sidecar puts a TLSA RRset into DNS. A port with two adapters for now:
 * `manual` (log the wanted RRset, a human or a hook publishes it) and RFC 2136 + TSIG
 * through the DNS layer's `sendUpdate` (`src/dns/update.ts`, shared, not copied).
 * The keystore's publishers (`src/publish/`, zone fragment + reload, hook) fit the same
 * port once they exist; see docs/dane.md.
 */
import type { Logger } from 'winston';
import { sendUpdate } from '../dns/update.ts';
import type { TsigKey } from '../dns/tsig.ts';
import type { DnsServer } from '../dns/types.ts';
import { tlsaText, type Tlsa } from './tlsa-params.ts';

export interface TlsaPublisher {
  readonly name: string;
  /** Replaces the whole RRset at `owner` with `records`. */
  replace(zone: string, owner: string, records: readonly Tlsa[], ttlSec: number): Promise<void>;
}

export function manualPublisher(logger: Logger): TlsaPublisher {
  return {
    name: 'manual',
    async replace(zone, owner, records, ttlSec) {
      logger.warn('publish this TLSA RRset by hand', { zone, owner, ttl: ttlSec, records: records.map(tlsaText) });
    },
  };
}

/**
 * One UPDATE: delete the RRset, add every record (RFC 2136 §3.4.2: applied in order,
 * atomically), so no server ever serves a half-changed set.
 */
export function rfc2136Publisher(server: DnsServer, key: TsigKey | undefined, options: { timeoutMs?: number; now?: () => number } = {}): TlsaPublisher {
  return {
    name: 'rfc2136',
    async replace(zone, owner, records, ttlSec) {
      await sendUpdate(
        server,
        {
          zone,
          updates: [
            { op: 'delete-rrset', name: owner, type: 'TLSA' },
            ...records.map((r) => ({ op: 'add' as const, name: owner, type: 'TLSA' as const, ttl: ttlSec, data: { usage: r.usage, selector: r.selector, matchingType: r.matchingType, data: r.data } })),
          ],
        },
        { key, timeoutMs: options.timeoutMs ?? 5000, ...(options.now ? { now: options.now } : {}) },
      );
    },
  };
}
