/**
 * `mailanchor milter [--config FILE] [--store FILE|URL] [--listen SPEC]... [--socket-mode MODE] [--socket-group GROUP]
 *   [--metrics-listen HOST:PORT|off] [--dns HOST[:PORT]]... [--filter mail|test-header] [--workers N|auto]`
 * `--listen` replaces `milter.listen`, `--metrics-listen` `metrics.listen` (`off`: no
 * endpoint, e.g. for a second instance beside the service); the two may not name the same
 * address, whichever way they were set. Runs until SIGTERM/SIGINT (drain, exit 0); SIGHUP reloads the config and keys. With more
 * than one worker (`milter.workers`, `--workers`) this process is the cluster primary and
 * the same command runs again in each worker. Errors no code caught end only the session
 * they belong to (src/app/process-errors.ts).
 */
import cluster from 'node:cluster';
import { ConfigError, formatIssue, loadConfig } from '../config/load.ts';
import { metricsCollision } from '../config/listen-collision.ts';
import { formatListenSpec, parseHostPort, parseListenSpec, type ListenSpec } from '../config/schema.ts';
import type { Config } from '../config/sections.ts';
import { parseDnsServer } from '../dns/config.ts';
import type { DnsServer } from '../dns/types.ts';
import { describeError } from '../errors.ts';
import { reportListening, resolveWorkers, startPrimary, workerId, workerListen } from '../app/cluster.ts';
import { installProcessErrorPolicy } from '../app/process-errors.ts';
import { startRuntime, type FilterName } from '../app/runtime.ts';
import { createLogger } from '../log/logger.ts';
import { exitFor } from './error-exit.ts';
import { EX, type ExitCode } from './exit-codes.ts';
import type { CliCommand } from './io.ts';
import { answer, usageFailure } from './outcome.ts';
import { parseCommand } from './parse.ts';
import { MILTER } from './specs/milter.ts';

export const run: CliCommand = async (argv, io) => {
  const parsed = parseCommand(MILTER, argv);
  if (parsed.kind !== 'run') return answer(parsed, io);
  const { values, invocation } = parsed;
  const usage = (message: string): ExitCode => usageFailure(invocation, message, io);
  const listen: ListenSpec[] = [];
  for (const l of values.listen ?? []) {
    const spec = parseListenSpec(l);
    if (!spec) return usage(`--listen ${l}: expected inet:HOST:PORT, inet6:[ADDR]:PORT or unix:/path`);
    listen.push(spec);
  }
  let metricsListen: { host: string; port: number } | 'off' | undefined;
  const ml = values['metrics-listen'];
  if (ml !== undefined) {
    const hp = ml === 'off' ? 'off' : parseHostPort(ml, 9465);
    if (!hp) return usage(`--metrics-listen ${ml}: expected HOST:PORT or off`);
    metricsListen = hp;
  }
  let dns: DnsServer[];
  try {
    dns = (values.dns ?? []).map(parseDnsServer);
  } catch (err) {
    return usage(`--dns: ${(err as Error).message}`);
  }
  const filter = (values.filter ?? 'mail') as FilterName;
  if (filter !== 'mail' && filter !== 'test-header') return usage(`--filter ${filter}: expected mail or test-header`);

  let workers: number | undefined;
  if (values.workers !== undefined) {
    workers = values.workers === 'auto' ? resolveWorkers('auto') : Number(values.workers);
    if (!Number.isInteger(workers) || workers < 1 || workers > 64) return usage(`--workers ${values.workers}: expected auto or a whole number from 1 to 64`);
  }
  let socketMode: number | undefined;
  if (values['socket-mode'] !== undefined) {
    if (!/^0?[0-7]{3,4}$/.test(values['socket-mode'])) return usage(`--socket-mode ${values['socket-mode']}: expected an octal mode such as 0660`);
    socketMode = parseInt(values['socket-mode'], 8);
  }
  const socket = { ...(socketMode !== undefined ? { mode: socketMode } : {}), ...(values['socket-group'] ? { group: values['socket-group'] } : {}) };
  const cannotStart = (err: unknown): ExitCode => {
    if (err instanceof ConfigError) io.stderr.write(`mailanchor milter: ${err.context['file'] as string}:\n${err.issues.map((i) => `  ${formatIssue(i)}`).join('\n')}\n`);
    else io.stderr.write(`mailanchor milter: cannot start: ${describeError(err).message}\n`);
    return exitFor(err);
  };

  // The primary reads the file once here (for `workers`); a worker reads it in startRuntime.
  let config: Config | undefined;
  if (cluster.isPrimary) {
    let loaded: Config;
    try {
      ({ config: loaded } = await loadConfig(values.config));
    } catch (err) {
      return cannotStart(err);
    }
    if (metricsListen !== undefined) loaded = { ...loaded, metrics: { ...loaded.metrics, listen: metricsListen === 'off' ? undefined : metricsListen } };
    config = loaded;
    const effective = listen.length ? listen : loaded.milter.listen;
    const clash = metricsCollision(effective, loaded.metrics.listen);
    if (clash !== undefined) {
      const where = (what: string, flag: string, given: boolean): string => (given ? flag : `${what} in ${values.config ?? 'the config'}`);
      // Only a flag can make this clash (the file's own clash is a ConfigError), so: a usage error.
      return usage(`${where('milter.listen', '--listen', listen.length > 0)} ${formatListenSpec(effective[clash]!)} is also ${where('metrics.listen', '--metrics-listen', metricsListen !== undefined)}: choose another port, or --metrics-listen HOST:PORT|off`);
    }
    workers ??= resolveWorkers(config.milter.workers);
    if (workers > 1) {
      const logger = createLogger(config.log);
      installProcessErrorPolicy({ logger });
      let primary;
      try {
        primary = await startPrimary({ config, workers, listen: listen.length ? listen : config.milter.listen, logger });
      } catch (err) {
        return cannotStart(err);
      }
      io.stdout.write(`mailanchor milter listening on ${primary.addresses.join(' ')} with ${workers} workers\n`);
      return new Promise<ExitCode>((resolve) => {
        const stop = (signal: string): void => {
          logger.info('signal received', { signal });
          primary.stop().then(() => resolve(EX.OK), (err: unknown) => {
            io.stderr.write(`mailanchor milter: shutdown failed: ${describeError(err).message}\n`);
            resolve(EX.SOFTWARE);
          });
        };
        process.on('SIGTERM', () => stop('SIGTERM'));
        process.on('SIGINT', () => stop('SIGINT'));
        process.on('SIGHUP', () => primary.reload());
      });
    }
  }

  const worker = workerId();
  let runtime;
  try {
    runtime = await startRuntime({
      ...(values.config ? { configPath: values.config } : {}),
      ...(config ? { config } : {}),
      ...(values.store ? { store: values.store } : {}),
      // A worker uses the primary's listen specs (port 0 already resolved to one port for all).
      listen: (worker !== undefined ? workerListen() : undefined) ?? listen,
      socket,
      dns,
      filter,
      ...(worker !== undefined ? { worker: { id: worker } } : {}),
    });
  } catch (err) {
    return cannotStart(err);
  }
  installProcessErrorPolicy({ logger: runtime.logger, registry: runtime.metrics });
  if (worker !== undefined) reportListening(runtime.server.addresses);
  else io.stdout.write(`mailanchor milter listening on ${runtime.server.addresses.join(' ')}\n`);

  return new Promise<ExitCode>((resolve) => {
    const stop = (signal: string): void => {
      runtime.logger.info('signal received', { signal });
      process.off('SIGHUP', hup);
      runtime.stop().then(
        () => {
          // A cluster worker's IPC channel would keep it alive; the primary waits for the exit.
          if (worker !== undefined) process.disconnect?.();
          resolve(EX.OK);
        },
        (err: unknown) => {
          io.stderr.write(`mailanchor milter: shutdown failed: ${describeError(err).message}\n`);
          resolve(EX.SOFTWARE);
        },
      );
    };
    const hup = (): void => void runtime.reload();
    // `on`, not `once`: under systemd a worker gets SIGTERM twice (the cgroup, then the
    // primary); a second signal must not fall through to the default action and kill it.
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', hup);
  });
};
