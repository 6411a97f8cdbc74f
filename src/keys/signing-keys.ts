/**
 * The read-only view the outbound signer has of the keystore: the active keys per signing
 * domain, as a snapshot that the keystore refreshes when the store changes (a rotation is
 * seen by the next message, without a restart). Synchronous: it sits on the signing path.
 */
import type { KeyObject } from 'node:crypto';

export type DkimAlgorithm = 'rsa-sha256' | 'ed25519-sha256';

export interface SigningKey {
  /** Stable id of the key in the store. */
  readonly id: string;
  /** The d= domain. */
  readonly domain: string;
  /** The s= selector (a DNS label; may be a CNAME target elsewhere for hosted domains). */
  readonly selector: string;
  readonly algorithm: DkimAlgorithm;
  /** Parsed once when the snapshot is loaded; never logged. */
  readonly privateKey: KeyObject;
}

export interface SigningKeySource {
  /** Active keys for `domain` (at most one per algorithm); empty when none is active. */
  activeKeys(domain: string): readonly SigningKey[];
  /** Throws (KeystoreError) when the store could not be read at the last refresh. */
  assertHealthy(): void;
}
