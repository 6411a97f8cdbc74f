/**
 * Hosted domains: a customer's zone we cannot write to. The customer sets, once, a CNAME for
 * each of two fixed selectors per algorithm into a zone we publish to; rotation then
 * alternates between the two (as Microsoft 365's selector1/selector2 do) and never needs the
 * customer again:
 *
 *   ma-rsa-1._domainkey.customer.example.  CNAME  ma-rsa-1.customer.example.dkim.provider.example.
 *
 * A slot is reused only once the key that held it is removed (retired, revoked and gone past
 * its TTL), so a selector never names two keys that are in DNS at the same time. Pure.
 */
import type { DkimAlgorithm } from './signing-keys.ts';

export interface HostedConfig {
  /** The zone we publish to (its own nameservers are checked like any zone of ours). */
  readonly target: string;
  /** Selector names are `<prefix>-rsa-1`, `<prefix>-rsa-2`, `<prefix>-ed-1`, `<prefix>-ed-2`. */
  readonly selector_prefix: string;
}

export function hostedSelectors(h: HostedConfig, algorithm: DkimAlgorithm): readonly [string, string] {
  const a = algorithm === 'ed25519-sha256' ? 'ed' : 'rsa';
  return [`${h.selector_prefix}-${a}-1`, `${h.selector_prefix}-${a}-2`];
}

/** Where the TXT record of `selector` lives in the target zone. */
export function hostedTargetName(h: HostedConfig, domain: string, selector: string): string {
  return `${selector}.${domain}.${h.target}`.toLowerCase();
}

/** The CNAMEs the customer publishes once, as zone-file lines. */
export function customerCnames(h: HostedConfig, domain: string, algorithms: readonly DkimAlgorithm[]): string[] {
  return algorithms.flatMap((alg) => hostedSelectors(h, alg).map((s) => `${s}._domainkey.${domain}. CNAME ${hostedTargetName(h, domain, s)}.`));
}

/**
 * The slot a new key of `algorithm` takes: one no live key uses. `removed` keys free their
 * slot (their row is then replaced). Undefined when both are held, e.g. a rotation forced
 * while the previous key is still retired: the caller waits.
 */
export function freeHostedSelector(h: HostedConfig, algorithm: DkimAlgorithm, keys: readonly { readonly selector: string; readonly state: string }[]): string | undefined {
  const held = new Set(keys.filter((k) => k.state !== 'removed').map((k) => k.selector));
  return hostedSelectors(h, algorithm).find((s) => !held.has(s));
}
