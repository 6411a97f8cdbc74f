/**
 * The keystore interface and its embedded SQLite implementation. A shared backend
 * (PostgreSQL, for several MX hosts) can implement `KeyStore` later. Private keys are
 * kept as PEM in the store (file mode 0600, enforced by openDatabase) and never logged.
 */
import type { DatabaseSync } from 'node:sqlite';
import { migrate, transaction } from '../store/database.ts';
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

export interface KeyStore {
  insert(key: Omit<StoredKey, 'stateSince' | 'seenEverywhereAt'>): void;
  list(domain?: string): StoredKey[];
  setState(id: string, state: KeyState, at: number): void;
}

const STEPS = [
  `CREATE TABLE dkim_keys (
     id TEXT PRIMARY KEY, domain TEXT NOT NULL, selector TEXT NOT NULL, algorithm TEXT NOT NULL,
     state TEXT NOT NULL, state_since INTEGER NOT NULL, seen_everywhere_at INTEGER,
     created_at INTEGER NOT NULL, private_key_pem TEXT NOT NULL, public_key_pem TEXT NOT NULL,
     -- A selector is never reused for a different key, even after removal (rows are kept).
     UNIQUE (domain, selector))`,
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

  insert(key: Omit<StoredKey, 'stateSince' | 'seenEverywhereAt'>): void {
    transaction(this.#db, () => {
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
    transaction(this.#db, () => {
      this.#db.prepare('UPDATE dkim_keys SET state = ?, state_since = ? WHERE id = ?').run(state, at, id);
    });
  }
}
