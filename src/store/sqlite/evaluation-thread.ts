/**
 * The SQLite evaluation sink on a thread of its own. node:sqlite is synchronous: a batch
 * INSERT on the event loop — and, worse, the wait for another process's write lock (16
 * milter processes on one file stalled the loop 266 ms) — would hold up every session.
 * Here the thread has its own connection and waits instead of the loop. Loaded as the
 * worker's entry point when `workerData.evaluationThread` is set, and as the main-thread
 * client otherwise.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { DmarcEvaluation } from '../../inbound/evaluation-log.ts';
import { StoreError } from '../errors.ts';
import type { EvaluationSink } from '../store.ts';
import { openDatabase } from './database.ts';
import { batchInserter } from './evaluations.ts';

interface Request {
  readonly id: number;
  readonly rows: readonly DmarcEvaluation[];
}
type Reply = { readonly id: number; readonly ok: true } | { readonly id: number; readonly ok: false; readonly message: string; readonly code?: string };

interface ThreadData {
  readonly evaluationThread: true;
  readonly path: string;
  readonly busyTimeoutMs: number;
}

if (!isMainThread && (workerData as ThreadData | undefined)?.evaluationThread === true) {
  const data = workerData as ThreadData;
  const db = openDatabase(data.path, { busyTimeoutMs: data.busyTimeoutMs });
  const insert = batchInserter(db);
  parentPort!.on('message', (req: Request) => {
    let reply: Reply;
    try {
      insert(req.rows);
      reply = { id: req.id, ok: true };
    } catch (err) {
      const e = err as { message?: string; code?: string };
      reply = { id: req.id, ok: false, message: e.message ?? String(err), ...(typeof e.code === 'string' ? { code: e.code } : {}) };
    }
    parentPort!.postMessage(reply);
  });
}

/** A sink whose inserts run on a worker thread; the thread starts on first use and again after a crash. */
export function threadEvaluationSink(path: string, options: { readonly busyTimeoutMs?: number } = {}): EvaluationSink {
  let worker: Worker | undefined;
  let nextId = 1;
  const pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  const failAll = (err: Error): void => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  const start = (): Worker => {
    const w = new Worker(new URL(import.meta.url), { workerData: { evaluationThread: true, path, busyTimeoutMs: options.busyTimeoutMs ?? 5000 } satisfies ThreadData });
    w.unref();
    w.on('message', (r: Reply) => {
      const p = pending.get(r.id);
      if (!p) return;
      pending.delete(r.id);
      if (r.ok) p.resolve();
      else p.reject(new StoreError('WRITE_FAILED', `store write failed: ${r.message}`, r.code ? { code: r.code } : {}));
    });
    w.on('error', (err) => {
      if (worker === w) worker = undefined;
      failAll(new StoreError('WRITE_FAILED', `evaluation writer thread failed: ${err.message}`, {}, { cause: err }));
    });
    w.on('exit', () => {
      if (worker === w) worker = undefined;
      failAll(new StoreError('WRITE_FAILED', 'evaluation writer thread exited'));
    });
    return w;
  };
  return {
    insertBatch(rows) {
      worker ??= start();
      const id = nextId++;
      return new Promise<void>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker!.postMessage({ id, rows } satisfies Request);
      });
    },
    async close() {
      const w = worker;
      worker = undefined;
      if (w) await w.terminate();
    },
  };
}
