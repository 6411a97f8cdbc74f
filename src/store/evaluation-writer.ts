/**
 * The one evaluation writer of a process: the inbound filter's `EvaluationLog`. `record` puts
 * the evaluation in a bounded in-memory queue and returns; the writer takes batches off the
 * queue (when `batchSize` are waiting, or `flushMs` after the first) and hands each to the
 * store's sink as one transaction, one batch at a time, off the message path.
 *
 * When the store fails (PostgreSQL down, disk full) the batch stays queued and is retried
 * with backoff; the queue absorbs the outage until it is full, then further evaluations are
 * dropped — counted, and logged once per outage with the first error. Closing flushes what it
 * can within a deadline and counts the rest as dropped. Nothing is lost without a count.
 */
import type { Logger } from 'winston';
import { describeError } from '../errors.ts';
import type { DmarcEvaluation, EvaluationLog } from '../inbound/evaluation-log.ts';
import type { EvaluationSink } from './store.ts';

export type DropReason = 'queue_full' | 'shutdown';

export interface WriterStats {
  readonly queued: number;
  readonly recorded: number;
  readonly dropped: Readonly<Record<DropReason, number>>;
  /** Batches the sink refused (each retried later). */
  readonly failedBatches: number;
  readonly batches: number;
  /** The store took the last batch (false during an outage). */
  readonly up: boolean;
}

export interface EvaluationWriter extends EvaluationLog {
  stats(): WriterStats;
  /** Resolves when the queue is empty (or the store is failing). Tests and shutdown. */
  flush(): Promise<void>;
  /** Flushes for up to `deadlineMs`; what is left is dropped and counted. */
  close(deadlineMs?: number): Promise<void>;
}

export interface WriterOptions {
  readonly sink: EvaluationSink;
  readonly logger: Logger;
  readonly location: string;
  readonly maxQueue: number;
  readonly batchSize: number;
  readonly flushMs: number;
  /** First retry after a failed batch; doubled up to `maxBackoffMs`. */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
}

export function createEvaluationWriter(o: WriterOptions): EvaluationWriter {
  let queue: DmarcEvaluation[] = [];
  let head = 0; // queue[head..] waits; the prefix is compacted away now and then
  const dropped: Record<DropReason, number> = { queue_full: 0, shutdown: 0 };
  let recorded = 0;
  let batches = 0;
  let failedBatches = 0;
  let up = true;
  let firstError: unknown;
  /** Dropped since the store last recovered (or since start). */
  let droppedInOutage = 0;
  let backoff = o.backoffMs ?? 500;
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> | undefined;
  let closed = false;
  const waiting = (): number => queue.length - head;

  const schedule = (delay: number): void => {
    if (timer || writing || closed) return;
    timer = setTimeout(() => {
      timer = undefined;
      void drain();
    }, delay);
    timer.unref();
  };

  /** Writes batches until the queue is empty or a batch fails. */
  const drain = (): Promise<void> =>
    (writing ??= (async () => {
      try {
        while (waiting() > 0) {
          const batch = queue.slice(head, head + o.batchSize);
          try {
            await o.sink.insertBatch(batch);
          } catch (err) {
            failedBatches++;
            if (up) {
              up = false;
              firstError = err;
              o.logger.error('DMARC evaluations not written; keeping them queued and retrying', { store: o.location, queued: waiting(), ...describeError(err) });
            }
            return 'failed' as const;
          }
          head += batch.length;
          recorded += batch.length;
          batches++;
          if (head > 4096 && head * 2 > queue.length) {
            queue = queue.slice(head);
            head = 0;
          }
          if (!up) {
            up = true;
            o.logger.info('DMARC evaluations written again', { store: o.location, dropped_during_outage: droppedInOutage, first_error: describeError(firstError).message });
            droppedInOutage = 0;
            backoff = o.backoffMs ?? 500;
          }
        }
        return 'empty' as const;
      } finally {
        writing = undefined;
      }
    })().then((result) => {
      if (result === 'failed') {
        const delay = backoff;
        backoff = Math.min(backoff * 2, o.maxBackoffMs ?? 30_000);
        schedule(delay);
      } else if (waiting() > 0) schedule(0);
    }));

  return {
    record(ev) {
      if (closed || waiting() >= o.maxQueue) {
        const reason: DropReason = closed ? 'shutdown' : 'queue_full';
        dropped[reason]++;
        droppedInOutage++;
        if (droppedInOutage === 1) {
          o.logger.error('DMARC evaluation dropped: the writer queue is full (counted in mailanchor_evaluations_dropped_total)', { store: o.location, reason, queue: o.maxQueue });
        }
        return;
      }
      queue.push(ev);
      if (!up) return; // the retry timer is set
      if (waiting() >= o.batchSize) {
        if (timer) {
          clearTimeout(timer);
          timer = undefined;
        }
        if (!writing) void drain();
      } else schedule(o.flushMs);
    },
    stats: () => ({ queued: waiting(), recorded, dropped: { ...dropped }, failedBatches, batches, up }),
    async flush() {
      if (timer) {
        clearTimeout(timer);
        timer = undefined;
      }
      while (waiting() > 0) {
        await (writing ?? drain());
        if (!up) return;
      }
    },
    async close(deadlineMs = 5000) {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      const deadline = Date.now() + deadlineMs;
      while (waiting() > 0 && Date.now() < deadline) {
        const attempt = writing ?? drain();
        const outcome = await Promise.race([attempt.then(() => 'done'), new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())).unref()).then(() => 'late')]);
        if (outcome === 'late') break;
        if (!up) await new Promise((r) => setTimeout(r, Math.min(200, Math.max(0, deadline - Date.now()))));
        if (timer) {
          clearTimeout(timer);
          timer = undefined;
        }
      }
      const left = waiting();
      if (left > 0) {
        dropped.shutdown += left;
        head = queue.length;
        o.logger.error('DMARC evaluations dropped at shutdown: the store did not take them in time', { store: o.location, dropped: left });
      }
      await o.sink.close();
    },
  };
}
