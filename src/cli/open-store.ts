/**
 * The store for a CLI command: `--store URL` or the config's `store.url` / `store.path`,
 * migrated at start or only checked (`store.migrate_at_start`), as the milter does.
 */
import type { Config } from '../config/sections.ts';
import { openStore, prepareStore } from '../store/open.ts';
import type { Store } from '../store/store.ts';

export async function openCommandStore(config: Config, override: string | undefined, cwd: string): Promise<Store> {
  const store = await openStore(config.store, { ...(override ? { override } : {}), cwd });
  try {
    await prepareStore(store, { migrate: config.store.migrate_at_start });
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}
