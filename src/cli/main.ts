#!/usr/bin/env node
/**
 * `mailanchor <command> …`: dispatches to one module per subcommand, loaded lazily so
 * `mailanchor tlsa` does not load the milter. Each module exports `run: CliCommand`.
 */
import type { CliCommand, CliIo } from './io.ts';
import { processIo } from './io.ts';

const COMMANDS: Record<string, { module: string; summary: string }> = {
  milter: { module: './milter.ts', summary: 'run the milter (inbound verification, outbound signing)' },
  'check-config': { module: './check-config.ts', summary: 'validate the config file, like `postfix check`' },
  keys: { module: './keys.ts', summary: 'DKIM keystore: list|status|generate|rotate|publish|retire|import' },
  tlsa: { module: './tlsa.ts', summary: 'DANE TLSA records: compute, rollover, check, sidecar' },
  report: { module: './report.ts', summary: 'DMARC aggregate reports: send|show|read|import|page' },
  audit: { module: './audit.ts', summary: 'domain audit: NS, DNSSEC, MX, PTR, SPF, DKIM, DMARC, DANE, MTA-STS, TLS-RPT' },
  store: { module: './store.ts', summary: 'the store: migrate (schema, or SQLite → PostgreSQL) | status' },
};

function usage(): string {
  const rows = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(14)} ${c.summary}`);
  return `usage: mailanchor <command> [options]\n\ncommands:\n${rows.join('\n')}\n\nEvery command takes --config FILE (default /etc/mailanchor/mailanchor.yml, built-in defaults if absent);\nevery command that uses the store takes --store FILE|postgresql://USER@HOST:PORT/DB.\n`;
}

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(usage());
    return name ? 0 : 64;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    io.stderr.write(`mailanchor: unknown command "${name}"\n\n${usage()}`);
    return 64;
  }
  const mod = (await import(entry.module)) as { run: CliCommand };
  return mod.run(rest, io);
}

if (import.meta.main) {
  const code = await main(process.argv.slice(2), processIo());
  // Long-running commands (milter, sidecar) resolve only when they are done.
  process.exitCode = code;
}
