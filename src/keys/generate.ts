/** Key generation and selector naming. Pure apart from the CSPRNG. */
import { generateKeyPairSync } from 'node:crypto';
import { KeystoreError } from './errors.ts';
import type { DkimAlgorithm } from './signing-keys.ts';

export interface GeneratedKey {
  readonly algorithm: DkimAlgorithm;
  readonly privateKeyPem: string;
  readonly publicKeyPem: string;
  /** Set when the key is usable but worth a warning (RSA > 2048: RFC 6376 §3.3.3). */
  readonly warning?: string;
}

export const RSA_MIN_BITS = 1024 as const;
export const RSA_DEFAULT_BITS = 2048 as const;

export function generateKey(algorithm: DkimAlgorithm, rsaBits: number = RSA_DEFAULT_BITS): GeneratedKey {
  if (algorithm === 'ed25519-sha256') {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    return {
      algorithm,
      privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    };
  }
  // RFC 8301 §3.2: signers MUST use at least 1024 bits.
  if (!Number.isInteger(rsaBits) || rsaBits < RSA_MIN_BITS) {
    throw new KeystoreError('key-too-small', `RSA keys under ${RSA_MIN_BITS} bits are refused (RFC 8301 §3.2)`, { rsaBits });
  }
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: rsaBits });
  const key = {
    algorithm,
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
  return rsaBits > RSA_DEFAULT_BITS
    ? { ...key, warning: `RSA ${rsaBits} bits: verifiers need only support up to 2048 (RFC 6376 §3.3.3)` }
    : key;
}

/**
 * Default selector scheme `ma{yyyymmdd}{r|e}`, with a numeric suffix when taken, so a
 * selector is never reused for a different key (the store enforces uniqueness too).
 */
export function nextSelector(algorithm: DkimAlgorithm, now: number, taken: ReadonlySet<string>): string {
  const d = new Date(now).toISOString().slice(0, 10).replaceAll('-', '');
  const base = `ma${d}${algorithm === 'ed25519-sha256' ? 'e' : 'r'}`;
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) if (!taken.has(`${base}${i}`)) return `${base}${i}`;
}
