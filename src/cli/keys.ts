/**
 * `mailanchor keys list|status|rotate|generate|publish|retire|import`
 *   [--config FILE] [--store FILE|postgresql://…] [--dns HOST[:PORT]]… [--domain D]
 * (options: specs/keys.ts). `rotate` is idempotent and safe to run hourly (systemd timer or
 * cron); exit 0 when every domain is fine or waiting, 75 (EX_TEMPFAIL) when a domain failed
 * and the next pass retries it. On a terminal, rotate and status show which domain and key
 * the nameservers are being asked about (progress.ts).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, formatIssue, loadConfig } from '../config/load.ts';
import { parseDnsServer, resolverOptions } from '../dns/config.ts';
import { createResolver } from '../dns/resolver.ts';
import type { DomainKeysConfig } from '../keys/config.ts';
import { describeObservation } from '../keys/lifecycle.ts';
import { parseKeyTable, readKeyFile } from '../keys/opendkim-import.ts';
import { publisherFromConfig } from '../keys/publisher-from-config.ts';
import { customerCnames } from '../keys/hosted.ts';
import { observeKey, publishedName, recordSet, rotateDomain, type DomainReport } from '../keys/rotate.ts';
import { domainDefaults } from '../keys/config.ts';
import { createLogger } from '../log/logger.ts';
import type { Store } from '../store/store.ts';
import { exitFor } from './error-exit.ts';
import { EX } from './exit-codes.ts';
import type { CliCommand, CliIo } from './io.ts';
import { openCommandStore } from './open-store.ts';
import { answer, failure, UsageError } from './outcome.ts';
import { parseCommand } from './parse.ts';
import { guardIo, NO_PROGRESS, startProgress } from './progress.ts';
import { KEYS } from './specs/keys.ts';

function line(r: DomainReport, io: CliIo): void {
  io.stdout.write(`${r.domain}:${r.skipped ? ` skipped (${r.skipped})` : ''}${r.error ? ` ERROR ${r.error}` : ''}\n`);
  for (const a of r.actions) io.stdout.write(`  did: ${a}\n`);
  for (const n of r.notes ?? []) io.stdout.write(`  waits: ${n}\n`);
  for (const k of r.keys.filter((x) => x.state !== 'removed')) {
    io.stdout.write(`  ${k.selector.padEnd(14)} ${k.algorithm.padEnd(15)} ${k.state.padEnd(9)} since ${new Date(k.since).toISOString()}${k.waiting ? `  — ${k.waiting}` : ''}\n`);
  }
}

export const run: CliCommand = async (argv, io) => {
  const parsed = parseCommand(KEYS, argv);
  if (parsed.kind !== 'run') return answer(parsed, io);
  const { sub, values, invocation } = parsed;
  let config;
  try {
    ({ config } = await loadConfig(values.config));
  } catch (err) {
    if (!(err instanceof ConfigError)) return failure(invocation, err, io);
    io.stderr.write(err.issues.map((i) => `mailanchor keys: ${formatIssue(i)}\n`).join(''));
    return exitFor(err);
  }
  // Asking every nameserver about every waiting key can take a while: say where it is.
  const progress = sub === 'rotate' || sub === 'generate' || sub === 'status' ? startProgress(io.stderr, `keys ${sub}`, { env: io.env }) : NO_PROGRESS;
  io = guardIo(io, progress);
  const logger = createLogger(config.log, io.stderr);
  const dns = createResolver(resolverOptions(config.dns, values.dns ? { servers: values.dns.map(parseDnsServer) } : {}));
  let opened: Store;
  try {
    opened = await openCommandStore(config, values.store, io.cwd);
  } catch (err) {
    progress.done();
    return failure(invocation, err, io);
  }
  try {
    const domains = config.keys.domains;
    const cfgFor = (d: string): DomainKeysConfig => domains[d] ?? domainDefaults();
    const selected = values.domain ? [values.domain.toLowerCase()] : Object.keys(domains);
    const store = opened.keys;
    const deps = {
      store,
      lease: opened.lease,
      dns,
      now: Date.now,
      logger,
      publisherFor: () => {
        throw new Error('unreachable');
      },
    };
    const publishers = new Map<string, Awaited<ReturnType<typeof publisherFromConfig>>>();
    for (const d of selected) publishers.set(d, await publisherFromConfig(d, cfgFor(d), (t) => io.stdout.write(t)));
    const rdeps = { ...deps, publisherFor: (d: string) => publishers.get(d)! };

    switch (sub) {
      case 'list': {
        for (const k of await store.list(values.domain?.toLowerCase())) io.stdout.write(`${k.domain} ${k.selector} ${k.algorithm} ${k.state} ${new Date(k.stateSince).toISOString()}\n`);
        return EX.OK;
      }
      case 'status': {
        for (const [i, d] of selected.entries()) {
          progress.set(`${i + 1}/${selected.length} domains, ${d}`);
          io.stdout.write(`${d}:\n`);
          const hosted = cfgFor(d).hosted;
          if (hosted) {
            io.stdout.write(`  hosted in ${hosted.target}; the customer's zone needs these CNAMEs (once):\n`);
            for (const c of customerCnames(hosted, d, cfgFor(d).algorithms)) io.stdout.write(`    ${c}\n`);
          }
          for (const k of (await store.list(d)).filter((x) => x.state !== 'removed')) {
            if (k.state === 'published') progress.set(`${i + 1}/${selected.length} domains, ${d}: asking its nameservers for ${publishedName(d, cfgFor(d), k.selector).name}`);
            const w = k.state === 'published' ? describeObservation(await observeKey(d, cfgFor(d), k, dns, 3000)) : k.state === 'active' ? `signing; rotation due ${new Date(k.stateSince + cfgFor(d).lifetime).toISOString()}` : '';
            io.stdout.write(`  ${k.selector.padEnd(14)} ${k.algorithm.padEnd(15)} ${k.state.padEnd(9)} since ${new Date(k.stateSince).toISOString()}${w ? `  — ${w}` : ''}\n`);
          }
        }
        return EX.OK;
      }
      case 'rotate':
      case 'generate': {
        if (sub === 'generate' && !values.domain) throw new UsageError('generate needs --domain');
        let failed = 0;
        for (const [i, d] of selected.entries()) {
          const where = (): string => `${i + 1}/${selected.length} domains${failed ? `, ${failed} failed` : ''}, ${d}`;
          progress.set(where());
          const r = await rotateDomain(d, cfgFor(d), { ...rdeps, onObserve: (o) => progress.set(`${where()}: asking its nameservers for ${o.name}`) }, { rotateNow: sub === 'generate' || values.now === true });
          line(r, io);
          if (r.error !== undefined) failed++;
        }
        // The domain's error is printed; the next pass (the hourly timer) tries it again.
        return failed ? EX.TEMPFAIL : EX.OK;
      }
      case 'publish': {
        if (!values.domain) throw new UsageError('publish needs --domain');
        const d = values.domain.toLowerCase();
        await publishers.get(d)!.publish(recordSet(d, cfgFor(d), await store.list(d), new Map()));
        io.stdout.write(`${d}: record set published\n`);
        return EX.OK;
      }
      case 'retire': {
        if (!values.domain || !values.selector) throw new UsageError('retire needs --domain and --selector');
        const k = (await store.list(values.domain.toLowerCase())).find((x) => x.selector === values.selector);
        if (!k) throw new UsageError(`no key ${values.selector} for ${values.domain}`);
        if (k.state !== 'active' && k.state !== 'published') throw new UsageError(`${values.selector} is ${k.state}; only active or published keys can be retired`);
        await store.apply([{ id: k.id, state: 'retired' }], Date.now());
        const left = (await store.list(k.domain)).filter((x) => x.algorithm === k.algorithm && x.state === 'active');
        io.stdout.write(`${k.domain} ${k.selector}: retired (stays published for ${Math.round(cfgFor(k.domain).retire_period / 86_400_000)} days)\n`);
        if (left.length === 0) io.stderr.write(`warning: no active ${k.algorithm} key left for ${k.domain}; run \`mailanchor keys generate --domain ${k.domain}\`\n`);
        return EX.OK;
      }
      case 'import': {
        const entries = values.keytable
          ? parseKeyTable(readFileSync(values.keytable, 'utf8'))
          : values.domain && values.selector && values.key
            ? [{ domain: values.domain.toLowerCase(), selector: values.selector, file: values.key }]
            : undefined;
        if (!entries) throw new UsageError('import needs --keytable FILE, or --domain D --selector S --key FILE');
        for (const e of entries) {
          const k = readKeyFile(e);
          const existing = await store.list(k.domain);
          if (existing.some((x) => x.selector === k.selector)) {
            io.stdout.write(`${k.domain} ${k.selector}: already in the store, skipped\n`);
            continue;
          }
          // The key is in DNS and in use today: it stays the active one, unless one is active already.
          const state = existing.some((x) => x.algorithm === k.algorithm && x.state === 'active') ? 'published' : 'active';
          await store.insert({ id: randomUUID(), domain: k.domain, selector: k.selector, algorithm: k.algorithm, state, createdAt: Date.now(), privateKeyPem: k.privateKeyPem, publicKeyPem: k.publicKeyPem });
          io.stdout.write(`${k.domain} ${k.selector}: imported ${k.algorithm} from ${k.file} as ${state}\n`);
        }
        return EX.OK;
      }
    }
  } catch (err) {
    progress.done();
    return failure(invocation, err, io);
  } finally {
    progress.done();
    await opened.close();
  }
};
