/** KeyStore and Lease over the SQLite file (store/sqlite/schema.ts `keys`). */
import type { DatabaseSync } from 'node:sqlite';
import { KeystoreError } from '../../keys/errors.ts';
import type { KeyChange, KeyStore, NewKey, StoredKey, WriteOptions } from '../../keys/key-store.ts';
import type { Lease, LeaseFence } from '../../keys/lease.ts';
import type { KeyState } from '../../keys/lifecycle.ts';
import type { DkimAlgorithm } from '../../keys/signing-keys.ts';
import { transaction } from './database.ts';

interface Row {
  id: string; domain: string; selector: string; algorithm: string; state: string;
  state_since: number; seen_everywhere_at: number | null; created_at: number;
  private_key_pem: string; public_key_pem: string;
}

export const keyFromRow = (r: Row): StoredKey => ({
  id: r.id, domain: r.domain, selector: r.selector, algorithm: r.algorithm as DkimAlgorithm,
  state: r.state as KeyState, stateSince: Number(r.state_since), createdAt: Number(r.created_at),
  privateKeyPem: r.private_key_pem, publicKeyPem: r.public_key_pem,
  ...(r.seen_everywhere_at === null ? {} : { seenEverywhereAt: Number(r.seen_everywhere_at) }),
});

/** Inside a transaction: throws unless `fence` still holds its lease. */
function checkFence(db: DatabaseSync, fence: LeaseFence | undefined): void {
  if (!fence) return;
  const row = db.prepare('SELECT holder, expires_at FROM key_leases WHERE name = ?').get(fence.name) as { holder: string; expires_at: number } | undefined;
  if (!row || row.holder !== fence.holder || row.expires_at <= fence.now) {
    throw new KeystoreError('lease-lost', `the lease ${fence.name} is no longer ours (expired or taken over); nothing committed`, { lease: fence.name });
  }
}

export class SqliteKeyStore implements KeyStore {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  async insert(key: NewKey, options: WriteOptions & { readonly replacingRemoved?: string } = {}): Promise<void> {
    transaction(this.#db, () => {
      checkFence(this.#db, options.fence);
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

  async list(domain?: string): Promise<StoredKey[]> {
    const rows = (domain === undefined
      ? this.#db.prepare('SELECT * FROM dkim_keys ORDER BY created_at, id').all()
      : this.#db.prepare('SELECT * FROM dkim_keys WHERE domain = ? ORDER BY created_at, id').all(domain)) as unknown as Row[];
    return rows.map(keyFromRow);
  }

  async listActive(): Promise<StoredKey[]> {
    return (this.#db.prepare("SELECT * FROM dkim_keys WHERE state = 'active' ORDER BY created_at, id").all() as unknown as Row[]).map(keyFromRow);
  }

  async apply(changes: readonly KeyChange[], at: number, options: WriteOptions = {}): Promise<void> {
    transaction(this.#db, () => {
      checkFence(this.#db, options.fence);
      for (const c of changes) {
        if (c.state !== undefined) this.#db.prepare('UPDATE dkim_keys SET state = ?, state_since = ? WHERE id = ?').run(c.state, at, c.id);
        if (c.seenEverywhereAt !== undefined) this.#db.prepare('UPDATE dkim_keys SET seen_everywhere_at = ? WHERE id = ?').run(c.seenEverywhereAt, c.id);
      }
    });
  }

  async generation(): Promise<number> {
    const row = this.#db.prepare('SELECT n FROM key_generation WHERE id = 1').get() as { n: number } | undefined;
    return Number(row?.n ?? 0);
  }
}

export class SqliteLease implements Lease {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  async acquire(name: string, holder: string, now: number, ttlMs: number, isStale?: (holder: string) => boolean): Promise<boolean> {
    return transaction(this.#db, () => {
      const row = this.#db.prepare('SELECT holder, expires_at FROM key_leases WHERE name = ?').get(name) as { holder: string; expires_at: number } | undefined;
      if (row && row.holder !== holder && row.expires_at > now && !isStale?.(row.holder)) return false;
      this.#db.prepare('INSERT INTO key_leases (name, holder, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at').run(name, holder, now + ttlMs);
      return true;
    });
  }

  async renew(name: string, holder: string, now: number, ttlMs: number): Promise<boolean> {
    return transaction(this.#db, () => Number(this.#db.prepare('UPDATE key_leases SET expires_at = ? WHERE name = ? AND holder = ? AND expires_at > ?').run(now + ttlMs, name, holder, now).changes) === 1);
  }

  async release(name: string, holder: string): Promise<void> {
    transaction(this.#db, () => {
      this.#db.prepare('DELETE FROM key_leases WHERE name = ? AND holder = ?').run(name, holder);
    });
  }
}
