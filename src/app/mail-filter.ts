/**
 * The product's milter filter: routes each message to outbound signing (authenticated or
 * trusted senders) or inbound verification (everyone else). Owner: outbound signing issue.
 * Until both filters exist this module is not wired into `mailanchor milter`.
 */
import type { DatabaseSync } from 'node:sqlite';
import type { Logger } from 'winston';
import type { Registry } from 'prom-client';
import type { Config } from '../config/sections.ts';
import type { DnsLookup } from '../dns/types.ts';
import type { SigningKeySource } from '../keys/signing-keys.ts';

/** Everything a filter needs from the running process; built once by `mailanchor milter`. */
export interface MailFilterDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Registry;
  readonly dns: DnsLookup;
  /** The embedded store (evaluation log); undefined if it could not be opened. */
  readonly db: DatabaseSync | undefined;
  readonly keys: SigningKeySource;
  readonly now: () => number;
}
