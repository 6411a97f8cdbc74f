/** Stores for tests: a migrated SQLite file, and evaluations written through the store's sink. */
import type { DmarcEvaluation } from '../../src/inbound/evaluation-log.ts';
import { openStore } from '../../src/store/open.ts';
import type { Store } from '../../src/store/store.ts';
import { decodeConfig } from '../../src/config/load.ts';

const storeDefaults = () => decodeConfig({}).config.store;

/** Opens (and migrates) the store at `location`: a file path or a postgresql:// URL. */
export async function openTestStore(location: string): Promise<Store> {
  const store = await openStore(storeDefaults(), { override: location });
  await store.migrate();
  return store;
}

/** Writes evaluations through the store's evaluation sink (the milter's writer path), one batch. */
export async function writeEvaluations(store: Store, rows: readonly DmarcEvaluation[]): Promise<void> {
  const sink = store.openEvaluationSink();
  try {
    await sink.insertBatch(rows);
  } finally {
    await sink.close();
  }
}
