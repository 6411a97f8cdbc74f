/** The `outbound:` section; every key documented in mailanchor.example.yml. */
import { cidr, list, object, oneOf, record, str, withDefault, domain, bool, type Infer } from '../config/schema.ts';

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
  /** Header fields to sign (From is always signed and oversigned). */
  headers: withDefault(list(str()), () => [
    'from', 'reply-to', 'subject', 'date', 'to', 'cc', 'message-id', 'in-reply-to', 'references',
    'mime-version', 'content-type', 'content-transfer-encoding', 'content-language', 'list-id',
    'list-unsubscribe', 'list-unsubscribe-post', 'list-post', 'list-help', 'list-owner', 'feedback-id', 'sender',
  ]),
  canonicalization: withDefault(oneOf(['relaxed/relaxed', 'relaxed/simple', 'simple/simple', 'simple/relaxed'] as const), () => 'relaxed/relaxed' as const),
  /** Mail of ours when the keystore cannot be read: `tempfail` (retry later) or `accept` (send unsigned). */
  on_keystore_error: withDefault(oneOf(['tempfail', 'accept'] as const), () => 'tempfail' as const),
});

export type OutboundConfig = Infer<typeof outboundSection>;
