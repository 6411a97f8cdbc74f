/** The `keys:` section: which domains have DKIM keys, how they rotate and how they are published. */
import { duration, hostPort, int, list, object, oneOf, optional, record, required, str, withDefault, domain, type Infer } from '../config/schema.ts';

const publisher = object({
  /** zone-file: fragment for $INCLUDE + reload; rfc2136: UPDATE with TSIG; hook: JSON on stdin; manual: print and wait. */
  type: withDefault(oneOf(['manual', 'zone-file', 'rfc2136', 'hook'] as const), () => 'manual' as const),
  /** zone-file: the fragment file your zone `$INCLUDE`s. */
  file: optional(str()),
  /** zone-file: command run after writing (argv, no shell), e.g. [knotc, zone-reload, example.org]. */
  reload: withDefault(list(str()), () => []),
  /** rfc2136: the primary, HOST[:PORT]. */
  server: optional(hostPort(53)),
  /** rfc2136: TSIG key file (BIND/Knot `key` syntax) or `name:algorithm:base64secret`. */
  tsig: optional(str()),
  /** hook: the command (argv) that gets {zone, owner, names, records} as JSON on stdin. */
  command: withDefault(list(str()), () => []),
});

const domainKeys = object({
  /** The zone the selector records live in; default: the domain itself. */
  zone: optional(domain()),
  /** Key types kept active side by side (RFC 8463 dual signing). */
  algorithms: withDefault(list(oneOf(['rsa-sha256', 'ed25519-sha256'] as const)), () => ['rsa-sha256', 'ed25519-sha256'] as Array<'rsa-sha256' | 'ed25519-sha256'>),
  /** RSA size: under 1024 refused; above 2048 allowed with a warning (RFC 6376 §3.3.3). */
  rsa_bits: withDefault(int({ min: 1024, max: 8192 }), () => 2048),
  /** Rotate when the active key is this old (M3AAWG: at least every 6 months). */
  lifetime: withDefault(duration(), () => 182 * 86_400_000),
  /** The old key stays published (retired) this long, for queued and forwarded mail. */
  retire_period: withDefault(duration(), () => 7 * 86_400_000),
  /** TTL of the records we publish. */
  ttl: withDefault(duration({ min: 1000 }), () => 3_600_000),
  /** Extra wait after TTL before a key advances. */
  ttl_margin: withDefault(duration(), () => 600_000),
  /** Authoritative servers to check, HOST[:PORT] (hidden primaries); default: the zone's NS records. */
  nameservers: withDefault(list(hostPort(53)), () => []),
  publisher: withDefault(publisher, () => publisher({}, 'publisher', [])),
  /**
   * A hosted domain (its zone is not ours): the customer CNAMEs two fixed selectors per
   * algorithm into `target`, a zone we publish to (docs/keys.md). `nameservers` and
   * `publisher` then concern the target zone.
   */
  hosted: optional(
    object({
      target: required(domain()),
      selector_prefix: withDefault(str({ pattern: /^[a-z0-9]([a-z0-9-]{0,50}[a-z0-9])?$/i, hint: 'a DNS label (letters, digits, hyphens)' }), () => 'ma'),
      /** The customer zone's authoritative servers, to check its CNAMEs; default: its NS records. */
      customer_nameservers: withDefault(list(hostPort(53)), () => []),
    }),
  ),
});

export const keysSection = object({
  /** Per signing domain. */
  domains: withDefault(record(domainKeys, domain()), () => ({}) as Record<string, Infer<typeof domainKeys>>),
});

export type KeysConfig = Infer<typeof keysSection>;
export type DomainKeysConfig = Infer<typeof domainKeys>;
export type PublisherConfig = DomainKeysConfig['publisher'];

/** A domain not in the config (e.g. `keys generate --domain new.example`) gets every default. */
export function domainDefaults(): DomainKeysConfig {
  return domainKeys({}, 'keys.domains', []);
}
