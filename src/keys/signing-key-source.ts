/**
 * The milter's read-only view of the keystore: a snapshot of active keys, reloaded when
 * `PRAGMA data_version` shows another connection committed (a rotation), so a new active
 * key is used within `refreshMs` without a restart.
 */
import { createPrivateKey } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import type { Logger } from 'winston';
import { describeError } from '../errors.ts';
import { openDatabase } from '../store/database.ts';
import { KeystoreError } from './errors.ts';
import type { DkimAlgorithm, SigningKey, SigningKeySource } from './signing-keys.ts';

export interface OpenedSigningKeySource extends SigningKeySource {
  /** Reloads now if the store changed (the timer calls this; tests call it directly). */
  refresh(): void;
  close(): void;
}

export function openSigningKeySource(
  dbPath: string,
  options: { readonly logger: Logger; readonly refreshMs?: number },
): OpenedSigningKeySource {
  const db: DatabaseSync = openDatabase(dbPath, { readOnly: true });
  let version = -1;
  let byDomain = new Map<string, SigningKey[]>();
  let failure: unknown;

  const load = (): void => {
    const rows = db
      .prepare("SELECT id, domain, selector, algorithm, private_key_pem FROM dkim_keys WHERE state = 'active'")
      .all() as unknown as { id: string; domain: string; selector: string; algorithm: string; private_key_pem: string }[];
    const next = new Map<string, SigningKey[]>();
    for (const r of rows) {
      const key: SigningKey = {
        id: r.id, domain: r.domain, selector: r.selector, algorithm: r.algorithm as DkimAlgorithm,
        privateKey: createPrivateKey(r.private_key_pem),
      };
      next.set(r.domain, [...(next.get(r.domain) ?? []), key]);
    }
    byDomain = next;
  };

  const refresh = (): void => {
    try {
      const v = (db.prepare('PRAGMA data_version').get() as { data_version: number }).data_version;
      if (v !== version || failure !== undefined) {
        load();
        version = v;
        if (failure !== undefined) options.logger.info('keystore readable again', { store: dbPath });
        failure = undefined;
      }
    } catch (err) {
      if (failure === undefined) options.logger.error('keystore unreadable; keeping last snapshot', { store: dbPath, ...describeError(err) });
      failure = err;
    }
  };

  refresh();
  const timer = setInterval(refresh, options.refreshMs ?? 1000);
  timer.unref();

  return {
    activeKeys: (domain) => byDomain.get(domain.toLowerCase()) ?? [],
    assertHealthy: () => {
      if (failure !== undefined) {
        throw new KeystoreError('store-unreadable', `keystore ${dbPath} could not be read: ${describeError(failure).message}`, { store: dbPath }, { cause: failure });
      }
    },
    refresh,
    close: () => {
      clearInterval(timer);
      db.close();
    },
  };
}
