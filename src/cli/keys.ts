/**
 * `mailanchor keys list|status|rotate|generate|publish|retire|import`
 *   [--config FILE] [--store FILE|postgresql://…] [--dns HOST[:PORT]]… [--domain D]
 * `rotate` is idempotent and safe to run hourly (systemd timer or cron); exit 0 when every
 * domain is fine or waiting, 1 when a domain failed.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, formatIssue, loadConfig } from '../config/load.ts';
import { parseDnsServer, resolverOptions } from '../dns/config.ts';
import { createResolver } from '../dns/resolver.ts';
import { describeError } from '../errors.ts';
import type { DomainKeysConfig } from '../keys/config.ts';
import { describeObservation } from '../keys/lifecycle.ts';
import { parseKeyTable, readKeyFile } from '../keys/opendkim-import.ts';
import { publisherFromConfig } from '../keys/publisher-from-config.ts';
import { customerCnames } from '../keys/hosted.ts';
import { observeKey, recordSet, rotateDomain, type DomainReport } from '../keys/rotate.ts';
import { domainDefaults } from '../keys/config.ts';
import { createLogger } from '../log/logger.ts';
import type { Store } from '../store/store.ts';
import type { CliCommand, CliIo } from './io.ts';
import { openCommandStore } from './open-store.ts';

const USAGE = `usage: mailanchor keys <list|status|rotate|generate|publish|retire|import> [--config FILE] [--store FILE|postgresql://USER@HOST:PORT/DB] [--dns HOST[:PORT]]... [--domain D]
  list                      every key: domain, selector, algorithm, state, since
  status                    what each key waits for (asks every authoritative nameserver)
  rotate [--now]            one rotation pass for every configured domain (cron/timer)
  generate --domain D       start a rotation now (new keys, published, activated when seen)
  publish --domain D        publish the domain's record set again (repair)
  retire --domain D --selector S   retire a key by hand (it stays published until revoked)
  import --keytable FILE    take over OpenDKIM keys (KeyTable); or --domain D --selector S --key FILE
`;

function line(r: DomainReport, io: CliIo): void {
  io.stdout.write(`${r.domain}:${r.skipped ? ` skipped (${r.skipped})` : ''}${r.error ? ` ERROR ${r.error}` : ''}\n`);
  for (const a of r.actions) io.stdout.write(`  did: ${a}\n`);
  for (const n of r.notes ?? []) io.stdout.write(`  waits: ${n}\n`);
  for (const k of r.keys.filter((x) => x.state !== 'removed')) {
    io.stdout.write(`  ${k.selector.padEnd(14)} ${k.algorithm.padEnd(15)} ${k.state.padEnd(9)} since ${new Date(k.since).toISOString()}${k.waiting ? `  — ${k.waiting}` : ''}\n`);
  }
}

export const run: CliCommand = async (argv, io) => {
  const [sub, ...rest] = argv;
  let values;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        config: { type: 'string' },
        store: { type: 'string' },
        dns: { type: 'string', multiple: true },
        domain: { type: 'string' },
        selector: { type: 'string' },
        key: { type: 'string' },
        keytable: { type: 'string' },
        now: { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (err) {
    io.stderr.write(`mailanchor keys: ${(err as Error).message}\n${USAGE}`);
    return 64;
  }
  if (!sub || !['list', 'status', 'rotate', 'generate', 'publish', 'retire', 'import'].includes(sub)) {
    io.stderr.write(USAGE);
    return 64;
  }
  let config;
  try {
    ({ config } = await loadConfig(values.config));
  } catch (err) {
    if (err instanceof ConfigError) io.stderr.write(err.issues.map((i) => `mailanchor keys: ${formatIssue(i)}\n`).join(''));
    else io.stderr.write(`mailanchor keys: ${describeError(err).message}\n`);
    return 1;
  }
  const logger = createLogger(config.log, io.stderr);
  const dns = createResolver(resolverOptions(config.dns, values.dns ? { servers: values.dns.map(parseDnsServer) } : {}));
  let opened: Store;
  try {
    opened = await openCommandStore(config, values.store, io.cwd);
  } catch (err) {
    io.stderr.write(`mailanchor keys: ${describeError(err).message}\n`);
    return 1;
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
        return 0;
      }
      case 'status': {
        for (const d of selected) {
          io.stdout.write(`${d}:\n`);
          const hosted = cfgFor(d).hosted;
          if (hosted) {
            io.stdout.write(`  hosted in ${hosted.target}; the customer's zone needs these CNAMEs (once):\n`);
            for (const c of customerCnames(hosted, d, cfgFor(d).algorithms)) io.stdout.write(`    ${c}\n`);
          }
          for (const k of (await store.list(d)).filter((x) => x.state !== 'removed')) {
            const w = k.state === 'published' ? describeObservation(await observeKey(d, cfgFor(d), k, dns, 3000)) : k.state === 'active' ? `signing; rotation due ${new Date(k.stateSince + cfgFor(d).lifetime).toISOString()}` : '';
            io.stdout.write(`  ${k.selector.padEnd(14)} ${k.algorithm.padEnd(15)} ${k.state.padEnd(9)} since ${new Date(k.stateSince).toISOString()}${w ? `  — ${w}` : ''}\n`);
          }
        }
        return 0;
      }
      case 'rotate':
      case 'generate': {
        if (sub === 'generate' && !values.domain) throw new UsageError('generate needs --domain');
        let failed = false;
        for (const d of selected) {
          const r = await rotateDomain(d, cfgFor(d), rdeps, { rotateNow: sub === 'generate' || values.now === true });
          line(r, io);
          failed ||= r.error !== undefined;
        }
        return failed ? 1 : 0;
      }
      case 'publish': {
        if (!values.domain) throw new UsageError('publish needs --domain');
        const d = values.domain.toLowerCase();
        await publishers.get(d)!.publish(recordSet(d, cfgFor(d), await store.list(d), new Map()));
        io.stdout.write(`${d}: record set published\n`);
        return 0;
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
        return 0;
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
        return 0;
      }
    }
    return 64;
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`mailanchor keys: ${err.message}\n`);
      return 64;
    }
    io.stderr.write(`mailanchor keys: ${describeError(err).message}\n`);
    return 1;
  } finally {
    await opened.close();
  }
};

class UsageError extends Error {}
