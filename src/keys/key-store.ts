/**
 * The keystore interface and its embedded SQLite implementation. A shared backend
 * (PostgreSQL, for several MX hosts) can implement `KeyStore` later. Private keys are
 * kept as PEM in the store (file mode 0600, enforced by openDatabase) and never logged.
 */
import type { DatabaseSync } from 'node:sqlite';
import { migrate, transaction } from '../store/database.ts';
import { KeystoreError } from './errors.ts';
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

/** One key's change in a batch: a new state and/or the "seen everywhere" mark (null clears it). */
export interface KeyChange {
  readonly id: string;
  readonly state?: KeyState;
  readonly seenEverywhereAt?: number | null;
}

export interface KeyStore {
  /**
   * Stores a new key. `replacingRemoved`: the id of a `removed` key whose selector it takes
   * (hosted domains reuse two fixed selectors); that row goes in the same transaction.
   */
  insert(key: Omit<StoredKey, 'stateSince' | 'seenEverywhereAt'>, options?: { readonly replacingRemoved?: string }): void;
  list(domain?: string): StoredKey[];
  setState(id: string, state: KeyState, at: number): void;
  /** All changes or none (one transaction): e.g. activate the new key and retire the old. */
  apply(changes: readonly KeyChange[], at: number): void;
  /**
   * A lease so two rotations (cron and a human) never act at once. True when `holder` now
   * holds `name` until `now + ttlMs`; false when someone else holds an unexpired lease.
   */
  acquireLease(name: string, holder: string, now: number, ttlMs: number, isStale?: (holder: string) => boolean): boolean;
  releaseLease(name: string, holder: string): void;
}

const STEPS = [
  `CREATE TABLE dkim_keys (
     id TEXT PRIMARY KEY, domain TEXT NOT NULL, selector TEXT NOT NULL, algorithm TEXT NOT NULL,
     state TEXT NOT NULL, state_since INTEGER NOT NULL, seen_everywhere_at INTEGER,
     created_at INTEGER NOT NULL, private_key_pem TEXT NOT NULL, public_key_pem TEXT NOT NULL,
     -- A selector is never reused for a different key while a row for it exists; rows are
     -- kept after removal, except that a hosted domain's fixed selector replaces its removed row.
     UNIQUE (domain, selector))`,
  `CREATE TABLE key_leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at INTEGER NOT NULL)`,
];

interface Row {
  id: string; domain: string; selector: string; algorithm: string; state: string;
  state_since: number; seen_everywhere_at: number | null; created_at: number;
  private_key_pem: string; public_key_pem: string;
}

export class SqliteKeyStore implements KeyStore {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
    migrate(db, 'keys', STEPS);
  }

  insert(key: Omit<StoredKey, 'stateSince' | 'seenEverywhereAt'>, options: { readonly replacingRemoved?: string } = {}): void {
    transaction(this.#db, () => {
      if (options.replacingRemoved !== undefined) {
        const r = this.#db.prepare("DELETE FROM dkim_keys WHERE id = ? AND state = 'removed'").run(options.replacingRemoved);
        if (r.changes !== 1) throw new KeystoreError('selector-in-use', `key ${options.replacingRemoved} is not a removed key; its selector cannot be reused`, { id: options.replacingRemoved });
      }
      this.#db
        .prepare(`INSERT INTO dkim_keys (id, domain, selector, algorithm, state, state_since, created_at, private_key_pem, public_key_pem)
                  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
        .run(key.id, key.domain, key.selector, key.algorithm, key.state, key.createdAt, key.createdAt, key.privateKeyPem, key.publicKeyPem);
    });
  }

  list(domain?: string): StoredKey[] {
    const rows = (domain === undefined
      ? this.#db.prepare('SELECT * FROM dkim_keys ORDER BY created_at, id').all()
      : this.#db.prepare('SELECT * FROM dkim_keys WHERE domain = ? ORDER BY created_at, id').all(domain)) as unknown as Row[];
    return rows.map((r) => ({
      id: r.id, domain: r.domain, selector: r.selector, algorithm: r.algorithm as DkimAlgorithm,
      state: r.state as KeyState, stateSince: r.state_since, createdAt: r.created_at,
      privateKeyPem: r.private_key_pem, publicKeyPem: r.public_key_pem,
      ...(r.seen_everywhere_at === null ? {} : { seenEverywhereAt: r.seen_everywhere_at }),
    }));
  }

  setState(id: string, state: KeyState, at: number): void {
    this.apply([{ id, state }], at);
  }

  apply(changes: readonly KeyChange[], at: number): void {
    transaction(this.#db, () => {
      for (const c of changes) {
        if (c.state !== undefined) this.#db.prepare('UPDATE dkim_keys SET state = ?, state_since = ? WHERE id = ?').run(c.state, at, c.id);
        if (c.seenEverywhereAt !== undefined) this.#db.prepare('UPDATE dkim_keys SET seen_everywhere_at = ? WHERE id = ?').run(c.seenEverywhereAt, c.id);
      }
    });
  }

  acquireLease(name: string, holder: string, now: number, ttlMs: number, isStale?: (holder: string) => boolean): boolean {
    return transaction(this.#db, () => {
      const row = this.#db.prepare('SELECT holder, expires_at FROM key_leases WHERE name = ?').get(name) as { holder: string; expires_at: number } | undefined;
      if (row && row.holder !== holder && row.expires_at > now && !isStale?.(row.holder)) return false;
      this.#db.prepare('INSERT INTO key_leases (name, holder, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at').run(name, holder, now + ttlMs);
      return true;
    });
  }

  releaseLease(name: string, holder: string): void {
    transaction(this.#db, () => {
      this.#db.prepare('DELETE FROM key_leases WHERE name = ? AND holder = ?').run(name, holder);
    });
  }
}
