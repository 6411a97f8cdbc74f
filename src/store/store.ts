/**
 * What an adapter provides: the ports of every feature over one database, the explicit
 * schema migration, and the batch sink of the process's one evaluation writer. Built by
 * `openStore` (store/open.ts) from a store URL; composed into features by src/app/ and the CLI.
 */
import type { DmarcEvaluation } from '../inbound/evaluation-log.ts';
import type { KeyStore } from '../keys/key-store.ts';
import type { Lease } from '../keys/lease.ts';
import type { EvaluationReader } from '../reports/evaluation-reader.ts';
import type { ReportLedger } from '../reports/ledger.ts';
import type { ReceivedReportStore } from '../reports/received/store.ts';

export type StoreEngine = 'sqlite' | 'postgres';

/** Where one batch of evaluations goes; one call = one transaction (all rows or none). */
export interface EvaluationSink {
  insertBatch(rows: readonly DmarcEvaluation[]): Promise<void>;
  close(): Promise<void>;
}

/** Per feature: the schema version in the database and the one this mailanchor needs. */
export interface SchemaStatus {
  readonly feature: string;
  readonly current: number;
  readonly wanted: number;
}

export interface MigrationStep {
  readonly feature: string;
  readonly from: number;
  readonly to: number;
}

export interface Store {
  readonly engine: StoreEngine;
  /** The location for logs and messages: a path, or the URL without its password. */
  readonly location: string;
  readonly keys: KeyStore;
  readonly lease: Lease;
  readonly evaluations: EvaluationReader;
  readonly ledger: ReportLedger;
  /** Received DMARC and TLS reports (`report import`, `report page`): one history per store, so a fleet shares it. */
  readonly received: ReceivedReportStore;
  /**
   * Applies every pending schema step (each feature's steps in order, in one transaction per
   * feature; on PostgreSQL under an advisory lock so hosts starting together take turns).
   * Returns the steps applied. Refuses a schema newer than this mailanchor.
   */
  migrate(): Promise<MigrationStep[]>;
  schema(): Promise<SchemaStatus[]>;
  /** Batch inserts for the process's evaluation writer (SQLite: on a thread of its own). */
  openEvaluationSink(): EvaluationSink;
  close(): Promise<void>;
}
