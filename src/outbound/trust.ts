/** Whether a message is ours (sign, never reject) or from the internet (verify). Pure. */
import { networkCovered } from '../inbound/policy.ts';
import type { OutboundConfig } from './config.ts';

export interface TrustInput {
  readonly authAuthen: string | undefined;
  readonly clientIp: string | undefined;
  readonly daemonName: string | undefined;
}

export type TrustReason = 'authenticated' | 'trusted-network' | 'trusted-daemon';

export function trustOf(i: TrustInput, c: Pick<OutboundConfig, 'trusted_networks' | 'trusted_daemons'>): TrustReason | undefined {
  if (i.authAuthen) return 'authenticated';
  if (i.clientIp && networkCovered(i.clientIp, c.trusted_networks)) return 'trusted-network';
  if (i.daemonName && c.trusted_daemons.includes(i.daemonName)) return 'trusted-daemon';
  return undefined;
}
