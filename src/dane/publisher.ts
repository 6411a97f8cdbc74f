/**
 * How the sidecar puts a TLSA RRset into DNS: the shared publishers of `src/publish/`
 * (zone fragment + reload, RFC 2136 + TSIG, hook, manual) behind the sidecar's
 * replace-the-RRset view. Nothing here talks to DNS itself.
 */
import type { Logger } from 'winston';
import type { TsigKey } from '../dns/tsig.ts';
import type { DnsServer } from '../dns/types.ts';
import * as shared from '../publish/publisher.ts';
import { tlsaText, type Tlsa } from './tlsa-params.ts';

export interface TlsaPublisher {
  readonly name: string;
  /** Replaces the whole RRset at `owner` with `records`. */
  replace(zone: string, owner: string, records: readonly Tlsa[], ttlSec: number): Promise<void>;
}

const bare = (name: string): string => name.replace(/\.$/, '').toLowerCase();

/** Adapts any shared publisher: one record set per TLSA owner name. */
export function tlsaPublisher(p: shared.Publisher): TlsaPublisher {
  return {
    name: p.name,
    replace: (zone, owner, records, ttlSec) =>
      p.publish({
        zone: bare(zone),
        owner: `tlsa:${bare(owner)}`,
        names: [bare(owner)],
        records: records.map((r) => ({ name: bare(owner), type: 'TLSA' as const, ttl: ttlSec, data: [tlsaText(r)] })),
      }),
  };
}

export function manualPublisher(logger: Logger): TlsaPublisher {
  return tlsaPublisher(shared.manualPublisher((text) => logger.warn('publish this TLSA RRset by hand', { text })));
}

export function rfc2136Publisher(server: DnsServer, key: TsigKey | undefined, options: { timeoutMs?: number; now?: () => number } = {}): TlsaPublisher {
  return tlsaPublisher(shared.rfc2136Publisher(server, key, options));
}

export function zoneFilePublisher(file: string, reload: readonly string[]): TlsaPublisher {
  return tlsaPublisher(shared.zoneFilePublisher({ file, reload }));
}

export function hookPublisher(argv: readonly string[]): TlsaPublisher {
  return tlsaPublisher(shared.hookPublisher(argv));
}
