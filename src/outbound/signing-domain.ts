/**
 * Which d= a message is signed for: the From domain if the keystore has active keys for it,
 * an explicit mapping (`outbound.signing_domains`), or the nearest parent with keys when
 * `sign_subdomains` is on (relaxed DMARC alignment accepts the parent). Pure.
 */
import type { SigningKey } from '../keys/signing-keys.ts';

export interface SigningChoice {
  readonly domain: string;
  readonly keys: readonly SigningKey[];
}

/** The single author domain of the From header(s), or why there is none. */
export function authorDomain(fromValues: readonly string[]): { domain: string } | { problem: string } {
  if (fromValues.length === 0) return { problem: 'no From header' };
  if (fromValues.length > 1) return { problem: 'several From headers' };
  const domains = new Set([...fromValues[0]!.matchAll(/@([^\s>,;"]+)/g)].map((m) => m[1]!.toLowerCase().replace(/\.$/, '')));
  if (domains.size === 0) return { problem: 'no address in From' };
  if (domains.size > 1) return { problem: 'From names several domains' };
  return { domain: [...domains][0]! };
}

export function chooseSigningKeys(
  fromDomain: string,
  activeKeys: (domain: string) => readonly SigningKey[],
  options: { readonly signingDomains: Readonly<Record<string, string>>; readonly signSubdomains: boolean },
): SigningChoice | undefined {
  const mapped = options.signingDomains[fromDomain];
  if (mapped) {
    const keys = activeKeys(mapped);
    return keys.length ? { domain: mapped, keys } : undefined;
  }
  let d = fromDomain;
  for (;;) {
    const keys = activeKeys(d);
    if (keys.length) return { domain: d, keys };
    if (!options.signSubdomains) return undefined;
    const dot = d.indexOf('.');
    if (dot < 0 || d.indexOf('.', dot + 1) < 0) return undefined; // stop above the registrable-looking level
    d = d.slice(dot + 1);
  }
}
