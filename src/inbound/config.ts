/** The `inbound:` section; every key documented in mailanchor.example.yml. */
import { arcSealSection } from '../auth/arc/config.ts';
import { bool, cidr, domain, duration, int, list, object, oneOf, optional, required, str, withDefault, type Infer } from '../config/schema.ts';

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
  /**
   * Several From fields or author domains (RFC 9989 §5.3.1, §11.5): `reject` (dmarc=permerror,
   * rejected), or `strictest` (DMARC evaluated for each author domain, at most 5, the strictest
   * outcome applied).
   */
  multiple_from: withDefault(oneOf(['reject', 'strictest'] as const), () => 'reject' as const),
  /**
   * No usable author domain (no From field, unparseable, no domain, an address literal …):
   * dmarc=permerror and this policy. A message that names no domain cannot be held to any
   * domain's policy, so by default it is refused rather than let through (it would fail open).
   */
  no_author_policy: withDefault(oneOf(['reject', 'quarantine', 'none'] as const), () => 'reject' as const),
  /**
   * A DKIM pass whose `l=` leaves body bytes unsigned (RFC 6376 §8.2: anyone may append to
   * them): `ignore` (default; it does not make DMARC pass) or `count`.
   */
  partial_body_signatures: withDefault(oneOf(['ignore', 'count'] as const), () => 'ignore' as const),
  /** DKIM-Signature headers verified per message; the rest are ignored (and said so). */
  max_signatures: withDefault(int({ min: 1, max: 50 }), () => 8),
  /** SPF limits (RFC 7208 §4.6.4). */
  spf_max_lookups: withDefault(int({ min: 1, max: 50 }), () => 10),
  spf_max_void_lookups: withDefault(int({ min: 0, max: 50 }), () => 2),
  /**
   * Per-message DNS budget (RFC 7208 §4.6.4: bound the work a check can cause, at least 20 s):
   * wall-clock time from the first lookup, and lookups (SPF, DKIM keys, DMARC, ARC) per message.
   * Past either, the checks still waiting end in temperror (never pass, fail or a 5xx).
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
  /**
   * ARC sealers whose passing chain lowers a DMARC failure (RFC 8617 §7.2): the forwarders and
   * mailing lists you trust to have checked the mail before they changed it. The newest seal
   * counts; `action` is the most the failure then gets (none = deliver, quarantine).
   */
  trusted_arc_sealers: withDefault(list(object({ domain: required(domain()), action: withDefault(oneOf(['none', 'quarantine'] as const), () => 'none' as const) })), () => []),
  /** ARC sealing of mail we forward (src/auth/arc/config.ts). Off by default. */
  arc_seal: withDefault(arcSealSection, () => arcSealSection({}, 'inbound.arc_seal', [])),
});

export type InboundConfig = Infer<typeof inboundSection>;
export type InboundOverride = InboundConfig['overrides'][number];
