/**
 * The ARC sealing section, `inbound.arc_seal` (the inbound config wires it in; every key is
 * documented in mailanchor.example.yml). Which mail is sealed is decided by
 * `sealDecision` (seal-decision.ts); the sealing key is the active rsa-sha256 DKIM key of
 * `domain` in the keystore, so a rotation reaches the seals as it reaches DKIM signing.
 */
import { bool, described, list, object, optional, str, withDefault, type ConfigIssue, type Decoder, type Infer } from '../../config/schema.ts';
import { normalizeDomain } from '../../mail/domain.ts';
import { UNSIGNABLE_HEADERS } from './seal.ts';

/** RFC 5322 §3.6.8 field-name, lower-cased; never one an AMS must not cover (RFC 8617 §4.1.2). */
const headerName = (): Decoder<string> =>
  described('header field name', (v, path, issues) => {
    if (typeof v !== 'string' || !/^[\x21-\x39\x3b-\x7e]+$/.test(v)) {
      issues.push({ path, message: `expected a header field name, got ${JSON.stringify(v)}` });
      return '';
    }
    const n = v.toLowerCase();
    if (UNSIGNABLE_HEADERS.includes(n)) issues.push({ path, message: `${v} must not be covered by an ARC-Message-Signature (RFC 8617 §4.1.2)` });
    return n;
  });

/** A domain name, U-labels accepted, kept as A-labels (how recipients are compared, src/mail/domain.ts). */
const domainName = (): Decoder<string> =>
  described('domain name', (v, path, issues) => {
    const d = typeof v === 'string' ? normalizeDomain(v) : undefined;
    if (d === undefined) issues.push({ path, message: `expected a domain name, got ${JSON.stringify(v)}` });
    return d ?? '';
  });

/** A forwarding destination: an address (`user@example.net`) or a domain (`example.net`, subdomains included). */
const destination = (): Decoder<string> =>
  described('address or domain', (v, path, issues) => {
    const text = typeof v === 'string' ? v.trim() : '';
    const at = text.lastIndexOf('@');
    const local = at < 0 ? '' : text.slice(0, at);
    const dom = normalizeDomain(at < 0 ? text : text.slice(at + 1));
    if (!dom || (at >= 0 && (local === '' || /\s/.test(local)))) {
      issues.push({ path, message: `expected an address or a domain, got ${JSON.stringify(v)}` });
      return '';
    }
    return at < 0 ? dom : `${local.toLowerCase()}@${dom}`;
  });

const fields = object({
  /** Seal at all. Default false: a seal vouches for our results to every later receiver. */
  enabled: withDefault(bool(), () => false),
  /** d= of our seals; its active rsa-sha256 key in the keystore signs them. Required when enabled. */
  domain: optional(domainName()),
  /** Seal mail with a recipient in these domains (subdomains included): our forwarding and list domains. */
  recipient_domains: withDefault(list(domainName()), () => []),
  /** Seal mail received by these Postfix services (`{daemon_name}`, master.cf `-o milter_macro_daemon_name=…`). */
  daemons: withDefault(list(str()), () => []),
  /** Seal mail to these forwarding destinations (envelope recipients): addresses, or domains with their subdomains. */
  forward_to: withDefault(list(destination()), () => []),
  /** Fields the ARC-Message-Signature covers when present (From always). */
  headers: withDefault(list(headerName()), () => [
    'from', 'to', 'cc', 'subject', 'date', 'message-id', 'reply-to', 'sender', 'in-reply-to', 'references',
    'mime-version', 'content-type', 'content-transfer-encoding', 'content-language', 'list-id', 'list-post',
    'list-help', 'list-subscribe', 'list-unsubscribe', 'list-unsubscribe-post', 'list-owner', 'list-archive',
    'feedback-id', 'dkim-signature',
  ]),
  /** Fields signed once more than they occur, so adding one later breaks the AMS (From is the one that matters most). */
  oversign: withDefault(list(headerName()), () => [
    'from', 'to', 'cc', 'subject', 'date', 'message-id', 'reply-to', 'sender', 'in-reply-to', 'references', 'mime-version', 'content-type',
  ]),
});

export type ArcSealConfig = Infer<typeof fields>;

// Carries the fields' metadata, so check-config --print, the man page and the docs test see its keys.
export const arcSealSection: Decoder<ArcSealConfig> = described(undefined, (v, path, issues: ConfigIssue[]) => {
  const c = fields(v, path, issues);
  if (!c) return c;
  const at = (key: string) => (path ? `${path}.${key}` : key);
  if (c.enabled && c.domain === undefined) issues.push({ path: at('domain'), message: 'is required when enabled (the d= whose rsa-sha256 key seals)' });
  if (c.enabled && c.recipient_domains.length + c.daemons.length + c.forward_to.length === 0) {
    issues.push({ path, message: 'enabled, but no recipient_domains, daemons or forward_to: nothing would be sealed' });
  }
  if (!c.headers.includes('from')) issues.push({ path: at('headers'), message: 'must include from (RFC 6376 §5.4; verifiers ignore an AMS without it)' });
  return c;
}, fields);
