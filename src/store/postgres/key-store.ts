/** KeyStore and Lease over PostgreSQL (store/postgres/schema.ts `keys`), shared by every host. */
import { KeystoreError } from '../../keys/errors.ts';
import type { KeyChange, KeyStore, NewKey, StoredKey, WriteOptions } from '../../keys/key-store.ts';
import type { Lease, LeaseFence } from '../../keys/lease.ts';
import type { KeyState } from '../../keys/lifecycle.ts';
import type { DkimAlgorithm } from '../../keys/signing-keys.ts';
import type { PgPool, Queryable } from './pool.ts';

interface Row {
  id: string; domain: string; selector: string; algorithm: string; state: string;
  state_since: string; seen_everywhere_at: string | null; created_at: string;
  private_key_pem: string; public_key_pem: string;
}

const fromRow = (r: Row): StoredKey => ({
  id: r.id, domain: r.domain, selector: r.selector, algorithm: r.algorithm as DkimAlgorithm,
  state: r.state as KeyState, stateSince: Number(r.state_since), createdAt: Number(r.created_at),
  privateKeyPem: r.private_key_pem, publicKeyPem: r.public_key_pem,
  ...(r.seen_everywhere_at === null ? {} : { seenEverywhereAt: Number(r.seen_everywhere_at) }),
});

/**
 * Inside the transaction: the lease row locked (FOR UPDATE) and still ours. A host taking the
 * lease over waits for our COMMIT, so no write lands after another holder started.
 */
async function checkFence(c: Queryable, fence: LeaseFence | undefined): Promise<void> {
  if (!fence) return;
  const r = await c.query('SELECT holder, expires_at FROM key_leases WHERE name = $1 FOR UPDATE', [fence.name]);
  const row = r.rows[0] as { holder: string; expires_at: string } | undefined;
  if (!row || row.holder !== fence.holder || Number(row.expires_at) <= fence.now) {
    throw new KeystoreError('lease-lost', `the lease ${fence.name} is no longer ours (expired or taken over); nothing committed`, { lease: fence.name });
  }
}

export class PgKeyStore implements KeyStore {
  readonly #pool: PgPool;

  constructor(pool: PgPool) {
    this.#pool = pool;
  }

  async insert(key: NewKey, options: WriteOptions & { readonly replacingRemoved?: string } = {}): Promise<void> {
    await this.#pool.transaction(async (c) => {
      await checkFence(c, options.fence);
      if (options.replacingRemoved !== undefined) {
        const r = await c.query("DELETE FROM dkim_keys WHERE id = $1 AND state = 'removed'", [options.replacingRemoved]);
        if (r.rowCount !== 1) throw new KeystoreError('selector-in-use', `key ${options.replacingRemoved} is not a removed key; its selector cannot be reused`, { id: options.replacingRemoved });
      }
      await c.query(
        `INSERT INTO dkim_keys (id, domain, selector, algorithm, state, state_since, created_at, private_key_pem, public_key_pem)
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8)`,
        [key.id, key.domain, key.selector, key.algorithm, key.state, key.createdAt, key.privateKeyPem, key.publicKeyPem],
      );
    }, 'cannot store the key');
  }

  async list(domain?: string): Promise<StoredKey[]> {
    const r = domain === undefined
      ? await this.#pool.query<Row>('SELECT * FROM dkim_keys ORDER BY created_at, id', [], 'cannot list keys')
      : await this.#pool.query<Row>('SELECT * FROM dkim_keys WHERE domain = $1 ORDER BY created_at, id', [domain], 'cannot list keys');
    return r.rows.map(fromRow);
  }

  async listActive(): Promise<StoredKey[]> {
    return (await this.#pool.query<Row>("SELECT * FROM dkim_keys WHERE state = 'active' ORDER BY created_at, id", [], 'cannot list active keys')).rows.map(fromRow);
  }

  async apply(changes: readonly KeyChange[], at: number, options: WriteOptions = {}): Promise<void> {
    await this.#pool.transaction(async (c) => {
      await checkFence(c, options.fence);
      for (const ch of changes) {
        if (ch.state !== undefined) await c.query('UPDATE dkim_keys SET state = $1, state_since = $2 WHERE id = $3', [ch.state, at, ch.id]);
        if (ch.seenEverywhereAt !== undefined) await c.query('UPDATE dkim_keys SET seen_everywhere_at = $1 WHERE id = $2', [ch.seenEverywhereAt, ch.id]);
      }
    }, 'cannot change key states');
  }

  async generation(): Promise<number> {
    const r = await this.#pool.query<{ n: string }>('SELECT n FROM key_generation WHERE id = 1', [], 'cannot read the key generation');
    return Number(r.rows[0]?.n ?? 0);
  }
}

export class PgLease implements Lease {
  readonly #pool: PgPool;

  constructor(pool: PgPool) {
    this.#pool = pool;
  }

  async acquire(name: string, holder: string, now: number, ttlMs: number, isStale?: (holder: string) => boolean): Promise<boolean> {
    // One statement: free, expired or already ours → ours; someone else's live lease → no row.
    const r = await this.#pool.query(
      `INSERT INTO key_leases (name, holder, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
       WHERE key_leases.holder = EXCLUDED.holder OR key_leases.expires_at <= $4
       RETURNING holder`,
      [name, holder, now + ttlMs, now],
      'cannot take the lease',
    );
    if (r.rowCount === 1) return true;
    if (!isStale) return false;
    const cur = await this.#pool.query<{ holder: string }>('SELECT holder FROM key_leases WHERE name = $1', [name], 'cannot read the lease');
    const other = cur.rows[0]?.holder;
    if (other === undefined || !isStale(other)) return false;
    // Its holder is a dead process on this host: take it over, unless it changed meanwhile.
    const t = await this.#pool.query('UPDATE key_leases SET holder = $1, expires_at = $2 WHERE name = $3 AND holder = $4', [holder, now + ttlMs, name, other], 'cannot take the lease');
    return t.rowCount === 1;
  }

  async renew(name: string, holder: string, now: number, ttlMs: number): Promise<boolean> {
    const r = await this.#pool.query('UPDATE key_leases SET expires_at = $1 WHERE name = $2 AND holder = $3 AND expires_at > $4', [now + ttlMs, name, holder, now], 'cannot renew the lease');
    return r.rowCount === 1;
  }

  async release(name: string, holder: string): Promise<void> {
    await this.#pool.query('DELETE FROM key_leases WHERE name = $1 AND holder = $2', [name, holder], 'cannot release the lease');
  }
}
