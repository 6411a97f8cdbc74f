/** The `inbound:` section; every key documented in mailanchor.example.yml. */
import { bool, cidr, domain, duration, int, list, object, oneOf, optional, str, withDefault, type Infer } from '../config/schema.ts';

const override = object({
  /** Header-From (author) domains this override covers, subdomains included. */
  domains: withDefault(list(domain()), () => []),
  /** Client networks this override covers (known forwarders, mailing list servers). */
  networks: withDefault(list(cidr()), () => []),
  /** What to do with a DMARC failure instead of the published policy. */
  action: withDefault(oneOf(['none', 'quarantine'] as const), () => 'none' as const),
  /** The reason reported in aggregate reports (RFC 9990 PolicyOverrideType). */
  reason: withDefault(oneOf(['trusted_forwarder', 'mailing_list', 'local_policy', 'forwarded', 'other'] as const), () => 'local_policy' as const),
  comment: optional(str()),
});

export const inboundSection = object({
  /** authserv-id in Authentication-Results; default: Postfix's `j` macro ($myhostname). */
  authserv_id: optional(str()),
  /** false = monitor only: label every message, never reject or quarantine. */
  enforce: withDefault(bool(), () => true),
  /** DMARC quarantine: `hold` (Postfix hold queue) or `header` (add quarantine_header). */
  quarantine: withDefault(oneOf(['hold', 'header'] as const), () => 'hold' as const),
  quarantine_header: withDefault(str(), () => 'X-Mailanchor-Quarantine'),
  /** DMARC temperror (DNS trouble): `tempfail` (451, the sender retries) or `accept`. */
  on_temperror: withDefault(oneOf(['tempfail', 'accept'] as const), () => 'tempfail' as const),
  /** Several From addresses/headers (RFC 9989 §5.3.1, RFC 7489 §6.6.1): `reject` or `accept`. */
  multiple_from: withDefault(oneOf(['reject', 'accept'] as const), () => 'reject' as const),
  /** DKIM-Signature headers verified per message; the rest are ignored (and said so). */
  max_signatures: withDefault(int({ min: 1, max: 50 }), () => 8),
  /** SPF limits (RFC 7208 §4.6.4). */
  spf_max_lookups: withDefault(int({ min: 1, max: 50 }), () => 10),
  spf_max_void_lookups: withDefault(int({ min: 0, max: 50 }), () => 2),
  /**
   * Per-message DNS budget (RFC 7208 §4.6.4: bound the work a check can cause, at least 20 s):
   * wall-clock time from the first lookup and lookups counted (cache hits included), for the
   * SPF check started at MAIL FROM and again for the checks at end of message. Past either
   * the check still running is a temperror, never a pass or a fail.
   */
  dns_budget_time: withDefault(duration({ min: 100, max: 10 * 60_000 }), () => 20_000),
  dns_budget_queries: withDefault(int({ min: 10, max: 10_000 }), () => 200),
  /** Smallest DKIM/ARC key accepted (RFC 8301: 1024). */
  min_key_bits: withDefault(int({ min: 512, max: 4096 }), () => 1024),
  iprev: withDefault(bool(), () => true),
  arc: withDefault(bool(), () => true),
  /** Record each DMARC evaluation in the store for aggregate reports. */
  record_evaluations: withDefault(bool(), () => true),
  overrides: withDefault(list(override), () => []),
});

export type InboundConfig = Infer<typeof inboundSection>;
export type InboundOverride = InboundConfig['overrides'][number];
