/**
 * Prometheus view of the store as the milter uses it: the evaluation writer's queue, what it
 * wrote and dropped, failed store operations, and whether the keystore is readable. Values
 * are read from the writer's and key source's `stats()` at scrape time (neither knows
 * prom-client). Summed over workers by the cluster primary like every other metric.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { KeySourceStats } from '../keys/signing-key-source.ts';
import type { WriterStats } from '../store/evaluation-writer.ts';

export function registerStoreMetrics(registry: Registry, sources: { readonly writer?: () => WriterStats; readonly keys?: () => KeySourceStats }): void {
  const registers = [registry];
  const mirror = (name: string, help: string, read: () => number | undefined) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read() ?? 0);
      },
    });
  const { writer, keys } = sources;
  mirror('mailanchor_evaluations_recorded_total', 'DMARC evaluations written to the store', () => writer?.().recorded);
  new Counter({
    name: 'mailanchor_evaluations_dropped_total',
    help: 'DMARC evaluations not written: writer queue full (store down too long) or left at shutdown',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      const d = writer?.().dropped ?? { queue_full: 0, shutdown: 0 };
      for (const [reason, n] of Object.entries(d)) this.inc({ reason }, n);
    },
  });
  new Gauge({
    name: 'mailanchor_evaluations_queued',
    help: 'DMARC evaluations waiting for the writer',
    registers,
    collect() {
      this.set(writer?.().queued ?? 0);
    },
  });
  new Counter({
    name: 'mailanchor_store_errors_total',
    help: 'Store operations that failed (disk full, read-only file, PostgreSQL unreachable), by operation',
    labelNames: ['operation'],
    registers,
    collect() {
      this.reset();
      this.inc({ operation: 'evaluations_write' }, writer?.().failedBatches ?? 0);
      this.inc({ operation: 'keys_read' }, keys?.().failures ?? 0);
    },
  });
  new Gauge({
    name: 'mailanchor_store_up',
    help: '1 when the last store operation of that kind succeeded (in every worker)',
    labelNames: ['operation'],
    // Over the cluster's workers: 0 as soon as one of them cannot reach the store.
    aggregator: 'min',
    registers,
    collect() {
      this.set({ operation: 'evaluations_write' }, writer ? (writer().up ? 1 : 0) : 0);
      this.set({ operation: 'keys_read' }, keys ? (keys().up ? 1 : 0) : 0);
    },
  });
  new Gauge({
    name: 'mailanchor_signing_keys_active',
    help: 'Active signing keys in the snapshot the milter signs with',
    registers,
    collect() {
      this.set(keys?.().activeKeys ?? 0);
    },
  });
}
