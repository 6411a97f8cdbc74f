/**
 * The running milter process, built from one Config: logger, metrics, DNS resolver, store,
 * keystore view, filter factory and listener. `reload()` (SIGHUP) re-reads and validates the
 * config and swaps the factory for new connections — an invalid file changes nothing;
 * `stop()` (SIGTERM) drains. Signals are wired by the CLI, so tests call these directly.
 */
import type { Logger } from 'winston';
import { AggregatorRegistry, Registry, collectDefaultMetrics } from 'prom-client';
import { loadConfig } from '../config/load.ts';
import type { ListenSpec } from '../config/schema.ts';
import type { Config } from '../config/sections.ts';
import { createResolver, type Resolver } from '../dns/resolver.ts';
import { resolverOptions } from '../dns/config.ts';
import { createDnsMeter } from '../dns/metrics.ts';
import type { DnsServer } from '../dns/types.ts';
import { describeError } from '../errors.ts';
import { KeystoreError } from '../keys/errors.ts';
import { openSigningKeySource, type OpenedSigningKeySource } from '../keys/signing-key-source.ts';
import type { SigningKeySource } from '../keys/signing-keys.ts';
import { createLogger } from '../log/logger.ts';
import { startMetricsEndpoint, type MetricsEndpoint } from '../metrics/endpoint.ts';
import { sessionSettings, socketOptions } from '../milter/config.ts';
import type { FilterFactory } from '../milter/filter.ts';
import { startMilterServer, type MilterServer } from '../milter/server.ts';
import { createTestHeaderFilterFactory } from '../milter/test-header-filter.ts';
import { StoreError } from '../store/errors.ts';
import { createEvaluationWriter, type EvaluationWriter } from '../store/evaluation-writer.ts';
import { openStore, prepareStore, storeTarget } from '../store/open.ts';
import type { Store } from '../store/store.ts';
import { OWN_TCP_LISTENERS } from './cluster.ts';
import { startDaneMetrics, type DaneMetrics } from './dane-metrics.ts';
import { registerKeystoreMetrics } from './keystore-metrics.ts';
import type { MailFilterDeps } from './mail-filter.ts';
import { registerMailMetrics } from './mail-metrics.ts';
import { registerStoreMetrics } from './store-metrics.ts';

export type FilterName = 'mail' | 'test-header';

export interface RuntimeOptions {
  /** Config file; undefined = the default path or built-in defaults. */
  readonly configPath?: string;
  /** That file, already loaded and validated by the caller (SIGHUP still re-reads `configPath`). */
  readonly config?: Config;
  /** `--listen`: replaces `milter.listen`. */
  readonly listen?: readonly ListenSpec[];
  /** `--socket-mode`, `--socket-group`: replace `milter.socket_mode` / `socket_group`. */
  readonly socket?: { readonly mode?: number; readonly group?: string };
  /** `--dns`: replaces `dns.servers`. */
  readonly dns?: readonly DnsServer[];
  /** `--store`: replaces `store.url` / `store.path`. */
  readonly store?: string;
  readonly filter?: FilterName;
  /** Where log lines go (tests); default from `log.destination`. */
  readonly logStream?: NodeJS.WritableStream;
  readonly logger?: Logger;
  readonly now?: () => number;
  /**
   * Set in a node:cluster worker: the sockets are shared (the primary prepares them) and the
   * metrics endpoint is the primary's, which collects this worker's registry over IPC.
   */
  readonly worker?: { readonly id: number };
}

export interface Runtime {
  readonly config: Config;
  readonly logger: Logger;
  readonly server: MilterServer;
  readonly metrics: Registry;
  readonly metricsEndpoint: MetricsEndpoint | undefined;
  /** Re-read the config; true if the new one is in use. */
  reload(): Promise<boolean>;
  stop(): Promise<void>;
}

/** A key source for when the store cannot be opened: signing fails loudly, never silently. */
function unavailableKeys(reason: unknown): SigningKeySource {
  return {
    activeKeys: () => [],
    assertHealthy: () => {
      throw new KeystoreError('store-unreadable', `keystore unavailable: ${describeError(reason).message}`, {}, { cause: reason });
    },
  };
}

/** The store location for a log line: never the URL's password. */
function safeLocation(config: Config, override: string | undefined): string {
  try {
    return storeTarget(config.store, override ? { override } : {}).location;
  } catch {
    return '(a store location that does not parse)';
  }
}

async function buildFactory(name: FilterName, deps: MailFilterDeps): Promise<FilterFactory> {
  if (name === 'test-header') return createTestHeaderFilterFactory();
  const mod = (await import('./mail-filter.ts')) as { createMailFilterFactory?: (d: MailFilterDeps) => FilterFactory };
  if (!mod.createMailFilterFactory) throw new Error('the mail filter is not available in this build (src/app/mail-filter.ts has no createMailFilterFactory)');
  return mod.createMailFilterFactory(deps);
}

/**
 * Who else can talk to the milter: a TCP listener — loopback included — takes connections
 * from every local user, and whoever speaks milter sets the macros ({auth_authen},
 * {daemon_name}) and the client address that make mail "ours" (docs/milter.md, "Trust").
 */
export function listenerWarnings(addresses: readonly string[], socket: { readonly mode?: number }): Array<{ message: string; fields: Record<string, unknown> }> {
  const out: Array<{ message: string; fields: Record<string, unknown> }> = [];
  for (const a of addresses) {
    if (a.startsWith('inet')) {
      out.push({
        message: 'milter listens on TCP: any local user (and any host that reaches this address) can connect, send {auth_authen} to get mail DKIM-signed as ours, and use up max_sessions; in production listen on a unix socket only Postfix can open (the installed config: unix:/var/spool/postfix/mailanchor/milter.sock, docs/deploy.md)',
        fields: { listen: a },
      });
    } else if (((socket.mode ?? 0o660) & 0o002) !== 0) {
      out.push({ message: 'milter unix socket is writable by every local user (socket_mode): anyone can connect and set the macros that make mail ours; use 0660 with socket_group postfix', fields: { listen: a, socket_mode: (socket.mode ?? 0).toString(8) } });
    }
  }
  return out;
}

export async function startRuntime(o: RuntimeOptions = {}): Promise<Runtime> {
  let config = o.config ?? (await loadConfig(o.configPath)).config;
  const baseLogger = o.logger ?? createLogger(config.log, o.logStream);
  const logger = o.worker ? baseLogger.child({ worker: o.worker.id }) : baseLogger;
  const now = o.now ?? Date.now;
  const filterName = o.filter ?? 'mail';
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'mailanchor_' });

  // The DNS meter outlives resolvers: its wire counters and the resolvers' totals survive a
  // reload that builds a new resolver (src/dns/metrics.ts).
  const meter = createDnsMeter(registry);
  const dnsOptions = (c: Config) => resolverOptions(c.dns, o.dns ? { servers: o.dns } : {});
  const makeResolver = (c: Config): Resolver => createResolver({ ...dnsOptions(c), transport: meter.transport });
  let resolver = makeResolver(config);
  let resolverSettings = JSON.stringify(dnsOptions(config));
  meter.use(resolver);
  if (o.worker) {
    new AggregatorRegistry(); // installs the IPC listener that answers the primary
    AggregatorRegistry.setRegistries([registry]);
  }

  let store: Store | undefined;
  let keySource: OpenedSigningKeySource | undefined;
  let writer: EvaluationWriter | undefined;
  let keys: SigningKeySource;
  let prepareTimer: NodeJS.Timeout | undefined;
  try {
    const s = await openStore(config.store, { ...(o.store ? { override: o.store } : {}), onIdleError: (err) => logger.warn('store connection lost while idle; reconnecting on next use', describeError(err)) });
    store = s;
    // Migrations at start are `store.migrate_at_start` (docs/fleet.md). A PostgreSQL that cannot
    // be reached now does not stop the milter: keys and evaluations wait for it, and the schema
    // step is retried in the background until it succeeds.
    const prepare = async (): Promise<boolean> => {
      try {
        const applied = await prepareStore(s, { migrate: config.store.migrate_at_start });
        if (applied.length) logger.info('store schema migrated', { store: s.location, steps: applied.map((a) => `${a.feature} ${a.from}→${a.to}`) });
        return true;
      } catch (err) {
        // An outdated schema with migrate_at_start off: refuse to start (docs/fleet.md).
        if (!(err instanceof StoreError && (err.code === 'UNAVAILABLE' || err.code === 'REFUSED'))) throw err;
        logger.error('store unreachable at start; signing keys and DMARC evaluations wait for it', { store: s.location, ...describeError(err) });
        return false;
      }
    };
    let ready: boolean;
    try {
      ready = await prepare();
    } catch (err) {
      await s.close();
      throw err;
    }
    if (!ready) {
      const retry = (): void => {
        prepareTimer = setTimeout(() => {
          prepare().then((ok) => (ok ? void keySource?.refresh() : retry()), (err: unknown) => logger.error('store schema check failed', { store: s.location, ...describeError(err) }));
        }, 5_000);
        prepareTimer.unref();
      };
      retry();
    }
    keySource = openSigningKeySource(s.keys, { logger, location: s.location, refreshMs: config.store.key_refresh, now });
    await keySource.refresh(); // the first messages already sign
    keys = keySource;
    writer = createEvaluationWriter({
      sink: s.openEvaluationSink(),
      logger,
      location: s.location,
      maxQueue: config.store.evaluation_queue,
      batchSize: config.store.evaluation_batch,
      flushMs: config.store.evaluation_flush,
    });
  } catch (err) {
    if (err instanceof StoreError && err.code === 'SCHEMA_OUTDATED') throw err;
    logger.error('store unavailable: DMARC evaluations are not recorded and outbound signing fails', { store: safeLocation(config, o.store), ...describeError(err) });
    keys = unavailableKeys(err);
    // Evaluations still go through a writer, so each one that cannot be stored is counted.
    writer = createEvaluationWriter({
      sink: { insertBatch: () => Promise.reject(err), close: async () => {} },
      logger,
      location: 'unavailable',
      maxQueue: config.store.evaluation_queue,
      batchSize: config.store.evaluation_batch,
      flushMs: config.store.evaluation_flush,
    });
  }
  const w = writer;
  const ks = keySource;
  registerStoreMetrics(registry, { ...(w ? { writer: () => w.stats() } : {}), ...(ks ? { keys: () => ks.stats() } : {}) });

  // Metrics config (domains with their own label) is read once: a change needs a restart.
  const observer = registerMailMetrics(registry, { domains: [...config.metrics.domains, ...Object.keys(config.keys.domains), ...config.reports.domains], topDomains: config.metrics.top_domains });
  // Keystore and DANE state are the same for every worker: one process reports them.
  let dane: DaneMetrics | undefined;
  if (!o.worker || o.worker.id === 0) {
    const unavailable = (): Promise<never> => Promise.reject(new Error('store unavailable'));
    registerKeystoreMetrics(registry, { store: store?.keys ?? { list: unavailable, generation: unavailable }, config: () => config.keys, now });
    dane = startDaneMetrics(registry, { config: () => config.dane, dns: () => resolver, now, logger });
  }

  const deps = (c: Config, dns: Resolver): MailFilterDeps => ({ config: c, logger, metrics: registry, dns, evaluations: writer, keys, now, observer });
  const factory = await buildFactory(filterName, deps(config, resolver));
  const listen = o.listen && o.listen.length ? o.listen : config.milter.listen;
  const server = await startMilterServer({
    listen,
    factory,
    logger,
    metrics: registry,
    config: sessionSettings(config.milter),
    socket: { ...socketOptions(config.milter), ...o.socket },
    maxSessions: config.milter.max_sessions,
    maxBuffered: config.milter.max_buffered,
    sharedListen: Boolean(o.worker),
    ownTcpListener: Boolean(o.worker) && OWN_TCP_LISTENERS,
  });
  if (!o.worker || o.worker.id === 0) for (const w of listenerWarnings(server.addresses, { ...socketOptions(config.milter), ...o.socket })) logger.warn(w.message, w.fields);
  const metricsEndpoint = config.metrics.listen && !o.worker ? await startMetricsEndpoint(registry, config.metrics.listen) : undefined;
  logger.info('mailanchor milter started', {
    listen: server.addresses,
    filter: filterName,
    dns: resolver.servers.map((s) => `${s.host}:${s.port}`),
    store: store?.location ?? 'unavailable',
    ...(metricsEndpoint ? { metrics: metricsEndpoint.address } : {}),
  });

  let stopped = false;
  return {
    get config() {
      return config;
    },
    logger,
    server,
    metrics: registry,
    metricsEndpoint,
    async reload() {
      let next: Config;
      try {
        next = (await loadConfig(o.configPath)).config;
      } catch (err) {
        logger.error('reload refused: config invalid, still running on the previous one', describeError(err));
        return false;
      }
      try {
        // A new resolver (and an empty cache) only when the DNS settings changed.
        const settings = JSON.stringify(dnsOptions(next));
        const nextResolver = settings === resolverSettings ? resolver : makeResolver(next);
        server.setFactory(await buildFactory(filterName, deps(next, nextResolver)));
        resolver = nextResolver;
        resolverSettings = settings;
        meter.use(resolver);
        void keySource?.refresh();
      } catch (err) {
        logger.error('reload failed, still running on the previous config', describeError(err));
        return false;
      }
      config = next;
      logger.info('config reloaded', { sessions: server.activeSessions, note: 'listen, workers, store and metrics changes need a restart' });
      return true;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      logger.info('stopping: draining milter sessions', { sessions: server.activeSessions, drain_ms: config.milter.drain_timeout });
      await server.close({ drainMs: config.milter.drain_timeout });
      await metricsEndpoint?.close();
      dane?.stop();
      if (prepareTimer) clearTimeout(prepareTimer);
      keySource?.close();
      await writer?.close(Math.min(5_000, config.milter.drain_timeout));
      await store?.close();
      logger.info('stopped');
    },
  };
}
