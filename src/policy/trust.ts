/**
 * Whose mail is this — decided once per message, at MAIL FROM, and used for everything that
 * follows: "ours" is DKIM-signed (and never rejected by our own DMARC check), everything else
 * came from the internet and is verified, never signed. Pure.
 *
 * The inputs come from Postfix macros an SMTP client cannot set: `{auth_authen}` is set by
 * Postfix only after a successful SASL AUTH; `{daemon_name}` is the master.cf service's
 * `milter_macro_daemon_name`; the client address is the TCP peer (docs/outbound.md, "Trust
 * model"). Anyone who can talk to the milter socket directly can set all three, so the socket
 * must be reachable by Postfix only.
 */
import type { NetworkSet } from './networks.ts';

export interface TrustInput {
  /** `{auth_authen}`: the SASL login name, when the client authenticated. */
  readonly authAuthen: string | undefined;
  /** The SMTP client's address (connect stage); undefined for local submission without one. */
  readonly clientIp: string | undefined;
  /** `{daemon_name}` of the Postfix service that received the message. */
  readonly daemonName: string | undefined;
}

export interface TrustPolicy {
  readonly trustedNetworks: NetworkSet;
  readonly trustedDaemons: ReadonlySet<string>;
}

export type Trust =
  | { readonly kind: 'ours'; readonly reason: 'authenticated' | 'trusted-network' | 'trusted-daemon' }
  | { readonly kind: 'internet' };

export function decideTrust(i: TrustInput, p: TrustPolicy): Trust {
  if (i.authAuthen) return { kind: 'ours', reason: 'authenticated' };
  if (p.trustedNetworks.covers(i.clientIp)) return { kind: 'ours', reason: 'trusted-network' };
  if (i.daemonName !== undefined && p.trustedDaemons.has(i.daemonName)) return { kind: 'ours', reason: 'trusted-daemon' };
  return { kind: 'internet' };
}
