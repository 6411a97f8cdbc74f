/**
 * `mailanchor milter [--config FILE] [--listen SPEC]... [--dns HOST[:PORT]]... [--filter mail|test-header]`
 * Runs until SIGTERM/SIGINT (drain, exit 0); SIGHUP reloads the config and keys.
 */
import { parseArgs } from 'node:util';
import { ConfigError, formatIssue } from '../config/load.ts';
import { parseListenSpec, type ListenSpec } from '../config/schema.ts';
import { parseDnsServer } from '../dns/config.ts';
import type { DnsServer } from '../dns/types.ts';
import { describeError } from '../errors.ts';
import { startRuntime, type FilterName } from '../app/runtime.ts';
import type { CliCommand } from './io.ts';

const USAGE = 'usage: mailanchor milter [--config FILE] [--listen inet:HOST:PORT|inet6:[ADDR]:PORT|unix:/path]... [--dns HOST[:PORT]]... [--filter mail|test-header]\n';

export const run: CliCommand = async (argv, io) => {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        config: { type: 'string' },
        listen: { type: 'string', multiple: true },
        dns: { type: 'string', multiple: true },
        filter: { type: 'string' },
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

  let runtime;
  try {
    runtime = await startRuntime({ ...(values.config ? { configPath: values.config } : {}), listen, dns, filter });
  } catch (err) {
    if (err instanceof ConfigError) io.stderr.write(`mailanchor milter: ${err.context['file'] as string}:\n${err.issues.map((i) => `  ${formatIssue(i)}`).join('\n')}\n`);
    else io.stderr.write(`mailanchor milter: cannot start: ${describeError(err).message}\n`);
    return 1;
  }
  io.stdout.write(`mailanchor milter listening on ${runtime.server.addresses.join(' ')}\n`);

  return new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      runtime.logger.info('signal received', { signal });
      process.off('SIGHUP', hup);
      runtime.stop().then(
        () => resolve(0),
        (err: unknown) => {
          io.stderr.write(`mailanchor milter: shutdown failed: ${describeError(err).message}\n`);
          resolve(1);
        },
      );
    };
    const hup = (): void => void runtime.reload();
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', hup);
  });
};
