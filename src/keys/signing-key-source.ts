/**
 * The milter's view of the keystore: a snapshot of the active keys, reloaded when the store's
 * key generation moved (any host rotated, imported or retired a key), checked every
 * `refreshMs` — so a new active key is used everywhere within that bound, without a restart.
 *
 * When the store cannot be read (PostgreSQL down, a file gone), the last good snapshot keeps
 * signing; the outage is logged once, counted, and its end logged. Only a process that never
 * loaded a snapshot reports itself unhealthy (the outbound filter then tempfails or sends
 * unsigned, per `outbound.on_keystore_error`).
 */
import { createPrivateKey } from 'node:crypto';
import type { Logger } from 'winston';
import { describeError } from '../errors.ts';
import { KeystoreError } from './errors.ts';
import type { KeyStore } from './key-store.ts';
import type { SigningKey, SigningKeySource } from './signing-keys.ts';

export interface KeySourceStats {
  /** The last refresh read the store. */
  readonly up: boolean;
  /** A snapshot was loaded at least once. */
  readonly loaded: boolean;
  /** Refreshes that failed, since start. */
  readonly failures: number;
  /** Snapshots (re)loaded, since start. */
  readonly reloads: number;
  /** When the store was last read successfully (ms), 0 if never. */
  readonly lastSuccessAt: number;
  readonly activeKeys: number;
}

export interface OpenedSigningKeySource extends SigningKeySource {
  /** Reloads now if the store changed (the timer calls this; tests call it directly). */
  refresh(): Promise<void>;
  stats(): KeySourceStats;
  close(): void;
}

export function openSigningKeySource(
  store: Pick<KeyStore, 'generation' | 'listActive'>,
  options: { readonly logger: Logger; readonly location: string; readonly refreshMs?: number; readonly now?: () => number },
): OpenedSigningKeySource {
  const now = options.now ?? Date.now;
  let generation = -1;
  let byDomain = new Map<string, SigningKey[]>();
  let failure: unknown;
  let loaded = false;
  let failures = 0;
  let reloads = 0;
  let lastSuccessAt = 0;
  let count = 0;
  let inFlight: Promise<void> | undefined;

  const load = async (): Promise<void> => {
    const rows = await store.listActive();
    const next = new Map<string, SigningKey[]>();
    for (const r of rows) {
      const key: SigningKey = { id: r.id, domain: r.domain, selector: r.selector, algorithm: r.algorithm, privateKey: createPrivateKey(r.privateKeyPem) };
      next.set(r.domain, [...(next.get(r.domain) ?? []), key]);
    }
    byDomain = next;
    count = rows.length;
    reloads++;
  };

  const once = async (): Promise<void> => {
    try {
      const g = await store.generation();
      if (g !== generation || !loaded) {
        await load();
        generation = g;
      }
      if (failure !== undefined) options.logger.info('keystore readable again', { store: options.location, down_ms: now() - lastSuccessAt });
      failure = undefined;
      loaded = true;
      lastSuccessAt = now();
    } catch (err) {
      failures++;
      if (failure === undefined) {
        options.logger.error(loaded ? 'keystore unreadable; signing with the last keys read' : 'keystore unreadable and no keys read yet; outbound signing is not possible', { store: options.location, ...describeError(err) });
      }
      failure = err;
    }
  };
  // One refresh at a time: a store that hangs until its timeout must not pile them up.
  const refresh = (): Promise<void> => (inFlight ??= once().finally(() => (inFlight = undefined)));

  void refresh();
  const timer = setInterval(() => void refresh(), options.refreshMs ?? 1000);
  timer.unref();

  return {
    activeKeys: (domain) => byDomain.get(domain.toLowerCase()) ?? [],
    assertHealthy: () => {
      if (!loaded) {
        const why = failure === undefined ? 'not read yet' : describeError(failure).message;
        throw new KeystoreError('store-unreadable', `keystore ${options.location} could not be read: ${why}`, { store: options.location }, failure === undefined ? {} : { cause: failure });
      }
    },
    refresh,
    stats: () => ({ up: loaded && failure === undefined, loaded, failures, reloads, lastSuccessAt, activeKeys: count }),
    close: () => clearInterval(timer),
  };
}
