/**
 * The keystore port, owned by the keys feature: what rotation, the CLI and the milter's
 * signing-key view need from wherever keys are kept. Adapters: `store/sqlite/` (one file,
 * one host) and `store/postgres/` (shared by a fleet). Private keys are PEM in the store and
 * never logged. Every method is asynchronous: a shared store is across a network.
 */
import type { LeaseFence } from './lease.ts';
import type { KeyState } from './lifecycle.ts';
import type { DkimAlgorithm } from './signing-keys.ts';

export interface StoredKey {
  readonly id: string;
  readonly domain: string;
  readonly selector: string;
  readonly algorithm: DkimAlgorithm;
  readonly state: KeyState;
  readonly stateSince: number;
  readonly seenEverywhereAt?: number;
  readonly createdAt: number;
  readonly privateKeyPem: string;
  readonly publicKeyPem: string;
}

export type NewKey = Omit<StoredKey, 'stateSince' | 'seenEverywhereAt'>;

/** One key's change in a batch: a new state and/or the "seen everywhere" mark (null clears it). */
export interface KeyChange {
  readonly id: string;
  readonly state?: KeyState;
  readonly seenEverywhereAt?: number | null;
}

export interface WriteOptions {
  /**
   * Commit only while this lease is still held (checked inside the same transaction): a
   * rotation whose lease expired and was taken over by another host must not commit.
   * Fails with KeystoreError `lease-lost`.
   */
  readonly fence?: LeaseFence;
}

export interface KeyStore {
  /**
   * Stores a new key. `replacingRemoved`: the id of a `removed` key whose selector it takes
   * (hosted domains reuse two fixed selectors); that row goes in the same transaction.
   */
  insert(key: NewKey, options?: WriteOptions & { readonly replacingRemoved?: string }): Promise<void>;
  list(domain?: string): Promise<StoredKey[]>;
  /** Every key in state `active` (what the milter signs with). */
  listActive(): Promise<StoredKey[]>;
  /** All changes or none (one transaction): e.g. activate the new key and retire the old. */
  apply(changes: readonly KeyChange[], at: number, options?: WriteOptions): Promise<void>;
  /**
   * A number that grows whenever any key row changes, whoever changed it (a trigger in the
   * store bumps it): one cheap read tells the milter whether to reload its signing keys.
   */
  generation(): Promise<number>;
}
