/**
 * Opens the store a location names: SQLite for a file path, PostgreSQL for a postgresql://
 * URL (the driver is loaded only then). Nothing here migrates: `prepareStore` does, when the
 * caller asks — explicitly, at start, never in a constructor.
 */
import type { StoreConfig } from './config.ts';
import { StoreError } from './errors.ts';
import type { MigrationStep, Store } from './store.ts';
import { parseStoreUrl, type StoreTarget } from './url.ts';

export interface OpenStoreOptions {
  /** `--store`: replaces `store.url` / `store.path`. */
  readonly override?: string;
  readonly cwd?: string;
  /** PostgreSQL idle connections the server cut: reported, never thrown. */
  readonly onIdleError?: (err: StoreError) => void;
}

/** The location the config (and an optional `--store`) names. */
export function storeTarget(cfg: StoreConfig, options: Pick<OpenStoreOptions, 'override' | 'cwd'> = {}): StoreTarget {
  return parseStoreUrl(options.override ?? cfg.url ?? cfg.path, options.cwd);
}

export async function openStore(cfg: StoreConfig, options: OpenStoreOptions = {}): Promise<Store> {
  const target = storeTarget(cfg, options);
  if (target.engine === 'sqlite') {
    const { openSqliteStore } = await import('./sqlite/store.ts');
    return openSqliteStore(target.path);
  }
  const { openPgStore } = await import('./postgres/store.ts');
  return openPgStore({
    url: target.url,
    location: target.location,
    // A password in the URL wins; the file is for URLs without one.
    ...(cfg.password_file && !target.hasPassword ? { passwordFile: cfg.password_file } : {}),
    poolSize: cfg.pool_size,
    connectTimeoutMs: cfg.connect_timeout,
    statementTimeoutMs: cfg.statement_timeout,
    ...(options.onIdleError ? { onIdleError: options.onIdleError } : {}),
  });
}

/**
 * Brings the schema to what this mailanchor needs (`migrate`: true), or checks it (false) and
 * refuses one that is older. Returns the steps applied.
 */
export async function prepareStore(store: Store, options: { readonly migrate: boolean }): Promise<MigrationStep[]> {
  if (options.migrate) return store.migrate();
  const behind = (await store.schema()).filter((s) => s.current < s.wanted);
  if (behind.length) {
    throw new StoreError(
      'SCHEMA_OUTDATED',
      `${store.location}: schema older than this mailanchor needs (${behind.map((s) => `${s.feature} ${s.current} < ${s.wanted}`).join(', ')}); run \`mailanchor store migrate --store ${store.location}\``,
      { store: store.location },
    );
  }
  return [];
}
