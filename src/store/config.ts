/** The `store:` section: where the embedded SQLite store lives. */
import { join } from 'node:path';
import { object, str, withDefault, type Infer } from '../config/schema.ts';

/**
 * systemd's StateDirectory= sets $STATE_DIRECTORY; `npm start` sets MAILANCHOR_STATE_DIR=var
 * so a fresh checkout runs without root. Otherwise the FHS place.
 */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.MAILANCHOR_STATE_DIR ?? env.STATE_DIRECTORY?.split(':')[0] ?? '/var/lib/mailanchor';
}

export const storeSection = object({
  /** The SQLite file holding keys, DMARC evaluations and the report ledger (mode 0600). */
  path: withDefault(str(), () => join(defaultStateDir(), 'mailanchor.db')),
});

export type StoreConfig = Infer<typeof storeSection>;
