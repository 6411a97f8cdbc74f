/**
 * The cluster primary for `milter.workers` > 1: forks that many `mailanchor milter` worker
 * processes that share the listening sockets (node:cluster hands each accepted connection to
 * one worker), restarts a worker that dies, forwards SIGHUP (reload) and SIGTERM (drain) to
 * them, and serves the metrics endpoint with every worker's registry summed. It verifies no
 * mail itself, so a crash in a worker costs only that worker's sessions.
 */
import cluster, { type Worker } from 'node:cluster';
import { unlink } from 'node:fs/promises';
import type { Logger } from 'winston';
import { AggregatorRegistry } from 'prom-client';
import type { ListenSpec } from '../config/schema.ts';
import type { Config } from '../config/sections.ts';
import { describeError } from '../errors.ts';
import { startMetricsEndpoint } from '../metrics/endpoint.ts';
import { removeStaleSocket } from '../milter/server.ts';

export interface PrimaryOptions {
  readonly config: Config;
  readonly workers: number;
  readonly listen: readonly ListenSpec[];
  readonly logger: Logger;
}

export interface Primary {
  /** The workers' bound addresses in Postfix syntax (as the first worker reports them). */
  readonly addresses: readonly string[];
  /** Resolves when every worker has exited after `stop()`. */
  readonly stopped: Promise<void>;
  reload(): void;
  stop(): Promise<void>;
}

/** Worker restarts back off from 1 s to this while they keep dying young. */
const MAX_RESTART_DELAY_MS = 30_000;
/** A worker that lived this long before dying restarts at once. */
const HEALTHY_UPTIME_MS = 60_000;

export async function startPrimary(o: PrimaryOptions): Promise<Primary> {
  const unixPaths = o.listen.filter((l): l is Extract<ListenSpec, { kind: 'unix' }> => l.kind === 'unix').map((l) => l.path);
  for (const p of unixPaths) await removeStaleSocket(p);
  const aggregator = new AggregatorRegistry();
  const metricsEndpoint = o.config.metrics.listen ? await startMetricsEndpoint({ metrics: () => aggregator.clusterMetrics(), contentType: aggregator.contentType }, o.config.metrics.listen) : undefined;

  let stopping = false;
  let restartDelay = 500; // doubled before use: the first restart waits 1 s
  const slots = new Map<number, { worker: Worker; startedAt: number }>();
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));

  const fork = (slot: number): Worker => {
    const worker = cluster.fork({ MAILANCHOR_WORKER: String(slot) });
    slots.set(slot, { worker, startedAt: Date.now() });
    worker.once('exit', (code, signal) => {
      const lived = Date.now() - (slots.get(slot)?.startedAt ?? Date.now());
      if (slots.get(slot)?.worker === worker) slots.delete(slot);
      if (stopping) {
        if (slots.size === 0) resolveStopped();
        return;
      }
      restartDelay = lived > HEALTHY_UPTIME_MS ? 500 : Math.min(restartDelay * 2, MAX_RESTART_DELAY_MS);
      const delay = lived > HEALTHY_UPTIME_MS ? 0 : restartDelay;
      o.logger.error('milter worker died; restarting it', { slot, pid: worker.process.pid, code, signal, lived_ms: lived, restart_in_ms: delay });
      // Not unref'd: when every worker is dead this timer is what keeps the primary alive.
      setTimeout(() => {
        if (!stopping) fork(slot);
      }, delay);
    });
    return worker;
  };

  // Every worker must come up once; one that cannot (bad socket, store) fails the start.
  const first = await Promise.allSettled(
    Array.from({ length: o.workers }, (_, slot) => {
      const w = fork(slot);
      return new Promise<string>((resolve, reject) => {
        const onExit = (code: number | null): void => reject(new Error(`worker ${slot} exited with ${code} before listening`));
        w.once('exit', onExit);
        const onMessage = (m: unknown): void => {
          if (!m || typeof m !== 'object' || (m as { type?: unknown }).type !== 'mailanchor:listening') return; // e.g. prom-client's
          w.off('exit', onExit);
          w.off('message', onMessage);
          resolve(String((m as { addresses?: unknown }).addresses ?? ''));
        };
        w.on('message', onMessage);
      });
    }),
  );
  const failed = first.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  let addresses: string[] = [];
  const primary: Primary = {
    get addresses() {
      return addresses;
    },
    stopped,
    reload() {
      o.logger.info('reload: SIGHUP to every worker', { workers: slots.size });
      for (const { worker } of slots.values()) worker.process.kill('SIGHUP');
    },
    async stop() {
      if (stopping) return stopped;
      stopping = true;
      o.logger.info('stopping: SIGTERM to every worker', { workers: slots.size });
      if (slots.size === 0) resolveStopped();
      for (const { worker } of slots.values()) worker.process.kill('SIGTERM');
      // Workers drain for up to drain_timeout; after that (and a margin) they are killed.
      const kill = setTimeout(() => {
        for (const { worker } of slots.values()) worker.process.kill('SIGKILL');
      }, o.config.milter.drain_timeout + 5_000);
      await stopped;
      clearTimeout(kill);
      await metricsEndpoint?.close();
      for (const p of unixPaths) await unlink(p).catch(() => undefined);
      o.logger.info('stopped');
    },
  };
  if (failed) {
    await primary.stop();
    throw new Error(`milter workers did not start: ${describeError(failed.reason).message}`);
  }
  addresses = (first[0] as PromiseFulfilledResult<string>).value.split(' ').filter(Boolean);
  o.logger.info('mailanchor milter started', { workers: o.workers, listen: addresses, ...(metricsEndpoint ? { metrics: metricsEndpoint.address } : {}) });
  return primary;
}

/** In a worker: tells the primary the runtime listens (the primary waits for every worker). */
export function reportListening(addresses: readonly string[]): void {
  process.send?.({ type: 'mailanchor:listening', addresses: addresses.join(' ') });
}

export function workerId(): number | undefined {
  return cluster.isWorker ? Number(process.env['MAILANCHOR_WORKER'] ?? cluster.worker?.id ?? 0) : undefined;
}
