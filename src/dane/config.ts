/** The `dane:` section of the config file. Owner: the dane feature; every key documented in mailanchor.example.yml. */
import { duration, hostPort, int, list, object, oneOf, optional, required, str, domain, withDefault, type Infer } from '../config/schema.ts';

/** One TLSA owner kept in step with certificate files by `tlsa sidecar` / `tlsa rollover`. */
export const daneSiteSection = object({
  /** The TLS server's host name (MX host): owner `_<port>._<proto>.<host>.`. */
  host: required(domain()),
  port: withDefault(int({ min: 1, max: 65535 }), 25),
  proto: withDefault(oneOf(['tcp', 'udp', 'sctp'] as const), 'tcp'),
  /** The DNS zone holding the owner; default: `host` without its first label. */
  zone: optional(domain()),
  /** PEM chains in service (leaf first, then issuers; key may be in the file) — one per algorithm (RSA, ECDSA). */
  cert_files: withDefault(list(str()), []),
  /** Staged next certificate chain(s) or bare key(s) (PEM); their records are pre-published. */
  next_files: withDefault(list(str()), []),
  /** Which records to derive: `smtp` = 3 1 1 leaf + 2 1 1 issuer; `dane-ee` = 3 1 1 only. */
  records: withDefault(oneOf(['smtp', 'dane-ee'] as const), 'smtp'),
  /** Authoritative servers to observe (`HOST[:PORT]`); default: the zone's NS RRset. */
  authoritative: withDefault(list(hostPort(53)), []),
  /** TTL of the published TLSA records (s); the deploy wait is 2 × max(this, TTL seen). */
  ttl: withDefault(duration({ min: 0, max: 7 * 86_400_000 }), 3_600_000),
});

export const daneSection = object({
  /** Directory for the rollover state (per owner: since when each record is on every authoritative server). */
  state_dir: withDefault(str(), '/var/lib/mailanchor/dane'),
  /** How often the sidecar observes the authoritative servers even without a file change. */
  interval: withDefault(duration({ min: 1000, max: 86_400_000 }), 300_000),
  /** Timeout per DNS query and per TLS probe. */
  timeout: withDefault(duration({ min: 100, max: 120_000 }), 5000),
  sites: withDefault(list(daneSiteSection), []),
});

export type DaneConfig = Infer<typeof daneSection>;
export type DaneSiteConfig = Infer<typeof daneSiteSection>;

/** `mx.example.org` → `example.org` when no zone is configured. */
export const siteZone = (site: Pick<DaneSiteConfig, 'host' | 'zone'>): string => site.zone ?? site.host.replace(/\.$/, '').split('.').slice(1).join('.');
