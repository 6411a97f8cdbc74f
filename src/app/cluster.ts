/**
 * The cluster primary for `milter.workers` > 1: forks that many `mailanchor milter` worker
 * processes, restarts a worker that dies, forwards SIGHUP (reload) and SIGTERM (drain) to
 * them, and serves the metrics endpoint with every worker's registry summed. It verifies no
 * mail itself, so a crash in a worker costs only that worker's sessions.
 *
 * The primary accepts no connection (node:cluster's default round-robin has it accept every
 * one and hand it over: 0.10–0.12 ms each, a ceiling near 8–10k connections/s on one core).
 * Each worker owns its listeners: on Linux a TCP listener of its own bound with SO_REUSEPORT
 * (`reusePort`), the kernel spreading connections over them; a unix socket, which cannot be
 * bound twice, is created once and its handle given to every worker, each accepting on it
 * itself (`SCHED_NONE`). So throughput scales with the cores.
 *
 * Restarts: a worker that dies young restarts after a back-off (per slot: at once, then
 * 250 ms doubling to at most MAX_RESTART_DELAY_MS) while another worker still serves; when
 * none is left the first death restarts at once and a crash loop waits at most
 * LAST_WORKER_RESTART_MS, so the service is never without a worker for longer than that
 * and a worker's start-up (about a second; more on a loaded machine).
 */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { createServer } from 'node:net';
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

/** The listen specs a worker uses: the primary's, with port 0 resolved (MAILANCHOR_LISTEN). */
export function workerListen(): ListenSpec[] | undefined {
  const raw = process.env['MAILANCHOR_LISTEN'];
  return raw ? (JSON.parse(raw) as ListenSpec[]) : undefined;
}

export interface Primary {
  /** The workers' bound addresses in Postfix syntax (as the first worker reports them). */
  readonly addresses: readonly string[];
  /** Resolves when every worker has exited after `stop()`. */
  readonly stopped: Promise<void>;
  reload(): void;
  stop(): Promise<void>;
}

/** Worker restarts back off to this while they keep dying young, other workers alive. */
const MAX_RESTART_DELAY_MS = 5_000;
/** The second young death of a slot waits this long; each further one twice as long. */
const FIRST_BACKOFF_MS = 250;
/** With no worker left, a crash-looping slot still tries again this often. */
const LAST_WORKER_RESTART_MS = 1_000;
/** A worker that lived this long before dying restarts at once. */
const HEALTHY_UPTIME_MS = 60_000;

/** `auto` → one worker per core the process may use. */
export function resolveWorkers(w: number | 'auto'): number {
  return w === 'auto' ? Math.max(1, Math.min(64, availableParallelism())) : w;
}

/**
 * Each worker binds its own TCP socket with SO_REUSEPORT where the platform has it (Linux);
 * elsewhere the workers share one handle from the primary.
 */
export const OWN_TCP_LISTENERS = process.platform === 'linux';

/**
 * Port 0 must mean one port for every worker: the primary picks a free one first. (With
 * SO_REUSEPORT each worker binding port 0 would get a port of its own.)
 */
async function concretePorts(listen: readonly ListenSpec[]): Promise<ListenSpec[]> {
  const out: ListenSpec[] = [];
  for (const l of listen) {
    if (l.kind !== 'tcp' || l.port !== 0) {
      out.push(l);
      continue;
    }
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen({ host: l.host, port: 0 }, () => {
        const a = srv.address();
        srv.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
      });
    });
    out.push({ kind: 'tcp', host: l.host, port });
  }
  return out;
}

export async function startPrimary(o: PrimaryOptions): Promise<Primary> {
  const listen = await concretePorts(o.listen);
  const unixPaths = listen.filter((l): l is Extract<ListenSpec, { kind: 'unix' }> => l.kind === 'unix').map((l) => l.path);
  for (const p of unixPaths) await removeStaleSocket(p);
  // Shared handles (unix sockets) go to the workers to accept on, not through the primary.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  const aggregator = new AggregatorRegistry();
  const metricsEndpoint = o.config.metrics.listen ? await startMetricsEndpoint({ metrics: () => aggregator.clusterMetrics(), contentType: aggregator.contentType }, o.config.metrics.listen) : undefined;

  let stopping = false;
  const slots = new Map<number, { worker: Worker; startedAt: number }>();
  /** Per slot: the delay its next restart waits if it dies young again. */
  const backoff = new Map<number, number>();
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));

  const fork = (slot: number): Worker => {
    const worker = cluster.fork({ MAILANCHOR_WORKER: String(slot), MAILANCHOR_LISTEN: JSON.stringify(listen) });
    slots.set(slot, { worker, startedAt: Date.now() });
    worker.once('exit', (code, signal) => {
      const lived = Date.now() - (slots.get(slot)?.startedAt ?? Date.now());
      if (slots.get(slot)?.worker === worker) slots.delete(slot);
      if (stopping) {
        if (slots.size === 0) resolveStopped();
        return;
      }
      const young = lived < HEALTHY_UPTIME_MS;
      const wanted = young ? (backoff.get(slot) ?? 0) : 0;
      backoff.set(slot, young ? Math.min(Math.max(wanted * 2, FIRST_BACKOFF_MS), MAX_RESTART_DELAY_MS) : 0);
      // Never leave the service without a worker: with none left, a first death restarts at
      // once and a crash loop waits at most LAST_WORKER_RESTART_MS between attempts.
      const delay = slots.size === 0 ? Math.min(wanted, LAST_WORKER_RESTART_MS) : wanted;
      o.logger.error('milter worker died; restarting it', { slot, pid: worker.process.pid, code, signal, lived_ms: lived, restart_in_ms: delay, workers_alive: slots.size });
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
  o.logger.info('mailanchor milter started', { workers: o.workers, listen: addresses, tcp_listeners: OWN_TCP_LISTENERS ? 'one per worker (SO_REUSEPORT)' : 'shared', ...(metricsEndpoint ? { metrics: metricsEndpoint.address } : {}) });
  return primary;
}

/** In a worker: tells the primary the runtime listens (the primary waits for every worker). */
export function reportListening(addresses: readonly string[]): void {
  process.send?.({ type: 'mailanchor:listening', addresses: addresses.join(' ') });
}

export function workerId(): number | undefined {
  return cluster.isWorker ? Number(process.env['MAILANCHOR_WORKER'] ?? cluster.worker?.id ?? 0) : undefined;
}
