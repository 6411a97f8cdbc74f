/**
 * Which mail we seal: a pure function of the `arc_seal` config and the envelope. A seal is
 * a statement to later receivers ("this is what we saw"); it is worth making for mail we
 * pass on — forwarding aliases, mailing lists, relays — and nowhere else, so the default is
 * off and each rule names mail explicitly. The milter sees one message for all its
 * recipients, so one matching recipient seals the message.
 */
import { isSubdomainOf, normalizeDomain } from '../../mail/domain.ts';
import type { ArcSealConfig } from './config.ts';

export interface SealEnvelope {
  /** Envelope recipients as the milter saw them (RCPT TO, without angle brackets). */
  readonly recipients: readonly string[];
  /** Postfix's `{daemon_name}` macro, when sent. */
  readonly daemonName?: string;
}

export type SealDecision = { readonly seal: true; readonly because: string } | { readonly seal: false; readonly because: string };

function split(address: string): { local: string; domain?: string } {
  const a = address.trim().replace(/^<(.*)>$/, '$1');
  const at = a.lastIndexOf('@');
  if (at < 0) return { local: a };
  const domain = normalizeDomain(a.slice(at + 1));
  return domain ? { local: a.slice(0, at).toLowerCase(), domain } : { local: a.slice(0, at).toLowerCase() };
}

export function sealDecision(config: ArcSealConfig, envelope: SealEnvelope): SealDecision {
  if (!config.enabled) return { seal: false, because: 'ARC sealing is off' };
  if (envelope.daemonName !== undefined && config.daemons.includes(envelope.daemonName)) return { seal: true, because: `received by ${envelope.daemonName}` };
  for (const rcpt of envelope.recipients) {
    const r = split(rcpt);
    if (!r.domain) continue;
    for (const dest of config.forward_to) {
      const hit = dest.includes('@') ? dest === `${r.local}@${r.domain}` : isSubdomainOf(r.domain, dest);
      if (hit) return { seal: true, because: `recipient ${rcpt} is a forwarding destination (${dest})` };
    }
    const dom = config.recipient_domains.find((d) => isSubdomainOf(r.domain!, d));
    if (dom) return { seal: true, because: `recipient ${rcpt} is in ${dom}` };
  }
  return { seal: false, because: 'no recipient, destination or daemon rule matches' };
}
