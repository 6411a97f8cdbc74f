/**
 * `mailanchor milter [--config FILE] [--store FILE|URL] [--listen SPEC]... [--metrics-listen HOST:PORT|off] [--dns HOST[:PORT]]... [--filter mail|test-header] [--workers N]`
 * `--listen` replaces `milter.listen`, `--metrics-listen` `metrics.listen` (`off`: no
 * endpoint, e.g. for a second instance beside the service); the two may not name the same
 * address, whichever way they were set. Runs until SIGTERM/SIGINT (drain, exit 0); SIGHUP reloads the config and keys. With more
 * than one worker (`milter.workers`, `--workers`) this process is the cluster primary and
 * the same command runs again in each worker.
 */
import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { ConfigError, formatIssue, loadConfig } from '../config/load.ts';
import { metricsCollision } from '../config/listen-collision.ts';
import { formatListenSpec, parseHostPort, parseListenSpec, type ListenSpec } from '../config/schema.ts';
import type { Config } from '../config/sections.ts';
import { parseDnsServer } from '../dns/config.ts';
import type { DnsServer } from '../dns/types.ts';
import { describeError } from '../errors.ts';
import { reportListening, startPrimary, workerId } from '../app/cluster.ts';
import { startRuntime, type FilterName } from '../app/runtime.ts';
import { createLogger } from '../log/logger.ts';
import type { CliCommand } from './io.ts';

const USAGE = 'usage: mailanchor milter [--config FILE] [--store FILE|postgresql://USER@HOST:PORT/DB] [--listen inet:HOST:PORT|inet6:[ADDR]:PORT|unix:/path]... [--metrics-listen HOST:PORT|off] [--dns HOST[:PORT]]... [--filter mail|test-header] [--workers N]\n';

export const run: CliCommand = async (argv, io) => {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        config: { type: 'string' },
        store: { type: 'string' },
        listen: { type: 'string', multiple: true },
        'metrics-listen': { type: 'string' },
        dns: { type: 'string', multiple: true },
        filter: { type: 'string' },
        workers: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    io.stderr.write(`mailanchor milter: ${(err as Error).message}\n${USAGE}`);
    return 64;
  }
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  const listen: ListenSpec[] = [];
  for (const l of values.listen ?? []) {
    const spec = parseListenSpec(l);
    if (!spec) {
      io.stderr.write(`mailanchor milter: --listen ${l}: expected inet:HOST:PORT, inet6:[ADDR]:PORT or unix:/path\n`);
      return 64;
    }
    listen.push(spec);
  }
  let metricsListen: { host: string; port: number } | 'off' | undefined;
  const ml = values['metrics-listen'];
  if (ml !== undefined) {
    const hp = ml === 'off' ? 'off' : parseHostPort(ml, 9465);
    if (!hp) {
      io.stderr.write(`mailanchor milter: --metrics-listen ${ml}: expected HOST:PORT or off\n`);
      return 64;
    }
    metricsListen = hp;
  }
  let dns: DnsServer[];
  try {
    dns = (values.dns ?? []).map(parseDnsServer);
  } catch (err) {
    io.stderr.write(`mailanchor milter: --dns: ${(err as Error).message}\n`);
    return 64;
  }
  const filter = (values.filter ?? 'mail') as FilterName;
  if (filter !== 'mail' && filter !== 'test-header') {
    io.stderr.write(`mailanchor milter: --filter ${filter}: expected mail or test-header\n`);
    return 64;
  }

  let workers: number | undefined;
  if (values.workers !== undefined) {
    workers = Number(values.workers);
    if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
      io.stderr.write(`mailanchor milter: --workers ${values.workers}: expected a whole number from 1 to 64\n`);
      return 64;
    }
  }
  const cannotStart = (err: unknown): number => {
    if (err instanceof ConfigError) io.stderr.write(`mailanchor milter: ${err.context['file'] as string}:\n${err.issues.map((i) => `  ${formatIssue(i)}`).join('\n')}\n`);
    else io.stderr.write(`mailanchor milter: cannot start: ${describeError(err).message}\n`);
    return 1;
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
      io.stderr.write(
        `mailanchor milter: ${where('milter.listen', '--listen', listen.length > 0)} ${formatListenSpec(effective[clash]!)} is also ${where('metrics.listen', '--metrics-listen', metricsListen !== undefined)}: choose another port, or --metrics-listen HOST:PORT|off\n`,
      );
      return 64;
    }
    workers ??= config.milter.workers;
    if (workers > 1) {
      const logger = createLogger(config.log);
      let primary;
      try {
        primary = await startPrimary({ config, workers, listen: listen.length ? listen : config.milter.listen, logger });
      } catch (err) {
        return cannotStart(err);
      }
      io.stdout.write(`mailanchor milter listening on ${primary.addresses.join(' ')} with ${workers} workers\n`);
      return new Promise<number>((resolve) => {
        const stop = (signal: string): void => {
          logger.info('signal received', { signal });
          primary.stop().then(() => resolve(0), (err: unknown) => {
            io.stderr.write(`mailanchor milter: shutdown failed: ${describeError(err).message}\n`);
            resolve(1);
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
    runtime = await startRuntime({ ...(values.config ? { configPath: values.config } : {}), ...(config ? { config } : {}), ...(values.store ? { store: values.store } : {}), listen, dns, filter, ...(worker !== undefined ? { worker: { id: worker } } : {}) });
  } catch (err) {
    return cannotStart(err);
  }
  if (worker !== undefined) reportListening(runtime.server.addresses);
  else io.stdout.write(`mailanchor milter listening on ${runtime.server.addresses.join(' ')}\n`);

  return new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      runtime.logger.info('signal received', { signal });
      process.off('SIGHUP', hup);
      runtime.stop().then(
        () => {
          // A cluster worker's IPC channel would keep it alive; the primary waits for the exit.
          if (worker !== undefined) process.disconnect?.();
          resolve(0);
        },
        (err: unknown) => {
          io.stderr.write(`mailanchor milter: shutdown failed: ${describeError(err).message}\n`);
          resolve(1);
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
