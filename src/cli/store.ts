/**
 * `mailanchor store migrate [--store URL]` — applies pending schema migrations (run once per
 *     upgrade for a fleet; the milter also does it at start unless store.migrate_at_start is false);
 * `mailanchor store migrate --from FILE --to URL` — moves a host's SQLite store into PostgreSQL;
 * `mailanchor store status [--store URL]` — schema versions and what the store holds.
 */
import { loadConfig } from '../config/load.ts';
import { copyStore } from '../store/copy.ts';
import { openStore } from '../store/open.ts';
import { parseStoreUrl } from '../store/url.ts';
import { EX } from './exit-codes.ts';
import type { CliCommand } from './io.ts';
import { answer, failure, UsageError } from './outcome.ts';
import { parseCommand } from './parse.ts';
import { STORE_COMMAND } from './specs/store.ts';

export const run: CliCommand = async (argv, io) => {
  const parsed = parseCommand(STORE_COMMAND, argv);
  if (parsed.kind !== 'run') return answer(parsed, io);
  const { sub, values, invocation } = parsed;
  let config;
  try {
    ({ config } = await loadConfig(values.config));
  } catch (err) {
    return failure(invocation, err, io);
  }
  try {
    if (sub === 'migrate' && (values.from !== undefined || values.to !== undefined)) {
      if (!values.from || !values.to) throw new UsageError('migrate --from FILE needs --to URL (and the other way round)');
      if (parseStoreUrl(values.from, io.cwd).engine !== 'sqlite') throw new UsageError('--from names the SQLite file to copy');
      const from = await openStore(config.store, { override: values.from, cwd: io.cwd });
      const to = await openStore(config.store, { override: values.to, cwd: io.cwd });
      try {
        // Both brought to this version's schema first: the copy goes through today's ports.
        await from.migrate();
        for (const s of await to.migrate()) io.stdout.write(`${to.location}: ${s.feature} schema ${s.from} → ${s.to}\n`);
        io.stdout.write(`copying ${from.location} → ${to.location}\n`);
        await copyStore(from, to, { keys: values['skip-keys'] !== true, onProgress: (line) => io.stdout.write(`  ${line}\n`) });
        io.stdout.write(`done; point this host at it with store.url: ${to.location} (password via store.password_file)\n`);
      } finally {
        await from.close();
        await to.close();
      }
      return EX.OK;
    }
    const store = await openStore(config.store, { ...(values.store ? { override: values.store } : {}), cwd: io.cwd });
    try {
      if (sub === 'migrate') {
        const applied = await store.migrate();
        if (applied.length === 0) io.stdout.write(`${store.location}: schema is current\n`);
        for (const s of applied) io.stdout.write(`${store.location}: ${s.feature} schema ${s.from} → ${s.to}\n`);
        return EX.OK;
      }
      io.stdout.write(`store: ${store.location} (${store.engine})\n`);
      const schema = await store.schema();
      for (const s of schema) io.stdout.write(`  ${s.feature.padEnd(18)} schema ${s.current} (this mailanchor: ${s.wanted})${s.current < s.wanted ? ' — run `mailanchor store migrate`' : ''}\n`);
      if (schema.every((s) => s.current > 0)) {
        const keys = await store.keys.list();
        const ev = await store.evaluations.summary();
        const reports = await store.ledger.listReports();
        const received = await store.received.counts();
        io.stdout.write(`  keys: ${keys.length} (${keys.filter((k) => k.state === 'active').length} active), evaluations: ${ev.count}, reports: ${reports.length}\n`);
        io.stdout.write(`  received reports: ${received.dmarcReports} DMARC (${received.rows} records), ${received.tlsReports} TLS\n`);
      }
      return EX.OK;
    } finally {
      await store.close();
    }
  } catch (err) {
    return failure(invocation, err, io);
  }
};
