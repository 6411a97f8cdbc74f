/** The `outbound:` section; every key documented in mailanchor.example.yml. */
import { cidr, list, object, oneOf, optional, record, str, withDefault, domain, bool, duration, type Infer } from '../config/schema.ts';

/** RFC 5322 field-name (ftext), optionally ending in `*` for a prefix such as `list-*`. */
const FIELD_NAME = { pattern: /^[\x21-\x39\x3b-\x7e]+$/, hint: 'a header field name' };

export const outboundSection = object({
  /**
   * Clients whose mail is ours: signed, never verified/rejected. Loopback covers
   * sendmail(1)/pickup (Postfix presents local submissions as localhost/127.0.0.1).
   */
  trusted_networks: withDefault(list(cidr()), () => ['127.0.0.0/8', '::1/128']),
  /** Postfix `{daemon_name}` values whose mail is ours (master.cf `-o milter_macro_daemon_name=ORIGINATING`). */
  trusted_daemons: withDefault(list(str()), () => ['ORIGINATING']),
  /** Sign mail whose From domain is a subdomain of a keystore domain with that domain's keys (d= parent). */
  sign_subdomains: withDefault(bool(), () => true),
  /** Explicit From domain → signing domain (d=), for domains signed with another domain's keys. */
  signing_domains: withDefault(record(domain(), domain()), () => ({})),
  /** Header fields to sign when present (From is always signed and oversigned). */
  headers: withDefault(list(str(FIELD_NAME)), () => [
    'from', 'reply-to', 'subject', 'date', 'to', 'cc', 'message-id', 'in-reply-to', 'references',
    'mime-version', 'content-type', 'content-transfer-encoding', 'content-language', 'list-id',
    'list-unsubscribe', 'list-unsubscribe-post', 'list-post', 'list-help', 'list-owner', 'feedback-id', 'sender',
  ]),
  /**
   * Header fields oversigned (RFC 6376 §8.15): h= names each once more than it occurs, so a
   * field of that name added later — a replayed message with a prepended Subject or To —
   * breaks the signature. Implies signing them. `list-*` covers the List-* fields present;
   * absent ones are only covered by name.
   */
  oversign: withDefault(list(str(FIELD_NAME)), () => [
    'from', 'to', 'cc', 'subject', 'date', 'message-id', 'reply-to', 'sender', 'in-reply-to', 'references',
    'list-id', 'list-unsubscribe', 'list-unsubscribe-post', 'list-post', 'list-help', 'list-owner', 'list-subscribe', 'list-archive', 'list-*',
    'mime-version', 'content-type',
  ]),
  /** x= = t= + this (RFC 6376 §3.5), e.g. `7d`; absent (default): signatures carry no x=. */
  signature_ttl: optional(duration({ min: 60_000 })),
  canonicalization: withDefault(oneOf(['relaxed/relaxed', 'relaxed/simple', 'simple/simple', 'simple/relaxed'] as const), () => 'relaxed/relaxed' as const),
  /** Mail of ours when the keystore cannot be read: `tempfail` (retry later) or `accept` (send unsigned). */
  on_keystore_error: withDefault(oneOf(['tempfail', 'accept'] as const), () => 'tempfail' as const),
});

export type OutboundConfig = Infer<typeof outboundSection>;
