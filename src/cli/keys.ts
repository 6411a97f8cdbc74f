/**
 * `mailanchor keys list|status|rotate|generate|publish|retire|import`
 *   [--config FILE] [--store FILE|postgresql://…] [--dns HOST[:PORT]]… [--domain D]
 * (options: specs/keys.ts). `rotate` is idempotent and safe to run hourly (systemd timer or
 * cron); exit 0 when every domain is fine or waiting, 75 (EX_TEMPFAIL) when a domain failed
 * and the next pass retries it. On a terminal, rotate and status show which domain and key
 * the nameservers are being asked about (progress.ts).
 */
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadConfig } from '../config/load.ts';
import { parseDnsServer, resolverOptions } from '../dns/config.ts';
import { createResolver } from '../dns/resolver.ts';
import type { DomainKeysConfig } from '../keys/config.ts';
import { describeObservation } from '../keys/lifecycle.ts';
import { assertPrivateFile, datasetSpec, parseKeyTable, parseSigningTable, planImport, readImportKey, signingTableSpec, type ImportPlan, type KeyTableEntry } from '../keys/opendkim-import.ts';
import { importKey, retireKey, type OperatorDeps } from '../keys/operator-actions.ts';
import type { DkimAlgorithm } from '../keys/signing-keys.ts';
import { publisherFromConfig } from '../keys/publisher-from-config.ts';
import { customerCnames } from '../keys/hosted.ts';
import { observeKey, publishedName, recordSet, rotateDomain, type DomainReport } from '../keys/rotate.ts';
import { domainDefaults } from '../keys/config.ts';
import { createLogger } from '../log/logger.ts';
import type { Store } from '../store/store.ts';
import { EX, type ExitCode } from './exit-codes.ts';
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
    return failure(invocation, err, io);
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
    const operatorDeps: OperatorDeps = { store, lease: opened.lease, dns, now: Date.now };

    switch (sub) {
      case 'list': {
        for (const k of await store.list(values.domain?.toLowerCase())) io.stdout.write(`${k.domain} ${k.selector} ${k.algorithm} ${k.state} ${new Date(k.stateSince).toISOString()}\n`);
        return EX.OK;
      }
      case 'status': {
        const extra = values.domain ? [] : await unconfigured(store, domains);
        const all = [...selected, ...extra];
        for (const [i, d] of all.entries()) {
          progress.set(`${i + 1}/${all.length} domains, ${d}`);
          io.stdout.write(`${d}:${extra.includes(d) ? ' (not in keys.domains: never rotated)' : ''}\n`);
          const hosted = cfgFor(d).hosted;
          if (hosted) {
            io.stdout.write(`  hosted in ${hosted.target}; the customer's zone needs these CNAMEs (once):\n`);
            for (const c of customerCnames(hosted, d, cfgFor(d).algorithms)) io.stdout.write(`    ${c}\n`);
          }
          for (const k of (await store.list(d)).filter((x) => x.state !== 'removed')) {
            if (k.state === 'published') progress.set(`${i + 1}/${all.length} domains, ${d}: asking its nameservers for ${publishedName(d, cfgFor(d), k.selector).name}`);
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
        progress.done();
        if (sub === 'rotate' && !values.domain) for (const d of await unconfigured(store, domains)) io.stdout.write(`${d}: not rotated: it has keys in the store but is not in keys.domains (add it there; docs/keys.md "Imported domains")\n`);
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
        const d = values.domain.toLowerCase();
        const r = await retireKey(d, values.selector, operatorDeps);
        if (!r.ok) throw new UsageError(r.reason);
        io.stdout.write(`${d} ${r.key.selector}: retired (stays published for ${Math.round(cfgFor(d).retire_period / 86_400_000)} days)\n`);
        if (r.leavesNoActive) io.stderr.write(`warning: no active ${r.key.algorithm} key left for ${d}; run \`mailanchor keys generate --domain ${d}\`\n`);
        return EX.OK;
      }
      case 'import': {
        const ns = values.nameserver?.map(parseDnsServer);
        return await importCommand(values, io, operatorDeps, ns ? (d) => ({ ...cfgFor(d), nameservers: ns }) : cfgFor, (d) => Object.hasOwn(domains, d));
      }
    }
  } catch (err) {
    progress.done();
    // A rotation that held the domain's lease the whole time is EX_TEMPFAIL (error-exit.ts): running again later works.
    return failure(invocation, err, io);
  } finally {
    progress.done();
    await opened.close();
  }
};

/** Domains with live keys in the store that keys.domains does not list: nothing rotates them. */
async function unconfigured(store: Store['keys'], domains: Readonly<Record<string, unknown>>): Promise<string[]> {
  const live = new Set((await store.list()).filter((k) => k.state !== 'removed').map((k) => k.domain));
  return [...live].filter((d) => !Object.hasOwn(domains, d)).sort();
}

/** `KeyTable` and `SigningTable` as opendkim.conf(5) names them (`file:`/`refile:` datasets). */
function readOpendkimConf(file: string): { keyTable?: string; signingTable?: string } {
  const out: { keyTable?: string; signingTable?: string } = {};
  for (const raw of readFileSync(file, 'utf8').split(/\r?\n/)) {
    const m = /^\s*(KeyTable|SigningTable)\s+(\S+)/i.exec(raw.replace(/#.*/, ''));
    if (!m) continue;
    if (m[1]!.toLowerCase() === 'keytable') {
      const spec = datasetSpec(m[2]!, 'KeyTable');
      if (spec.type !== 'file') throw new UsageError(`KeyTable ${m[2]}: a KeyTable is looked up by name; refile: does not apply`);
      out.keyTable = spec.path;
    } else out.signingTable = m[2]!;
  }
  return out;
}

type ImportValues = { keytable?: string | undefined; signingtable?: string | undefined; 'opendkim-conf'?: string | undefined; domain?: string | undefined; selector?: string | undefined; key?: string | undefined };

async function importCommand(values: ImportValues, io: CliIo, deps: OperatorDeps, cfgFor: (d: string) => DomainKeysConfig, configured: (d: string) => boolean): Promise<ExitCode> {
  let plan: ImportPlan;
  let keyTableFile: string | undefined;
  if (values.domain && values.selector && values.key) {
    const entry: KeyTableEntry = { name: values.selector, domain: values.domain.toLowerCase(), selector: values.selector, key: { kind: 'file', path: values.key }, line: 0 };
    plan = { keys: [{ entry, domain: entry.domain, rules: [] }], signingDomains: {}, subdomainSigning: [], notes: [] };
  } else {
    const conf = values['opendkim-conf'] ? readOpendkimConf(values['opendkim-conf']) : {};
    keyTableFile = values.keytable ? datasetSpec(values.keytable, 'KeyTable').path : conf.keyTable;
    const signing = values.signingtable ?? conf.signingTable;
    if (!keyTableFile) throw new UsageError('import needs --keytable FILE (or --opendkim-conf naming one), or --domain D --selector S --key FILE');
    const entries = parseKeyTable(readFileSync(keyTableFile, 'utf8'), dirname(keyTableFile));
    // A KeyTable that holds keys itself must be as private as a key file (RequireSafeKeys).
    if (entries.some((e) => e.key.kind === 'inline')) assertPrivateFile(keyTableFile, 'KeyTable');
    const spec = signing ? signingTableSpec(signing) : undefined;
    plan = planImport(entries, spec ? parseSigningTable(readFileSync(spec.path, 'utf8'), spec.type) : undefined);
  }
  let failed = false;
  const imported = new Map<string, Set<DkimAlgorithm>>();
  const taken = new Set<string>(); // one key per (domain, algorithm): the first the SigningTable names
  for (const p of plan.keys) {
    const k = readImportKey(p.entry, p.domain);
    const slot = `${k.domain}|${k.algorithm}`;
    const why = p.rules.length ? ` (SigningTable line ${p.rules.join(', ')})` : '';
    if (taken.has(slot)) {
      io.stdout.write(`${k.domain} ${k.selector}: not imported: an earlier entry gives ${k.domain} its ${k.algorithm} key, and mailanchor signs with one key per algorithm${why}\n`);
      continue;
    }
    taken.add(slot);
    const r = await importKey(k, cfgFor(k.domain), deps);
    switch (r.kind) {
      case 'present':
        io.stdout.write(`${k.domain} ${k.selector}: already in the store, skipped\n`);
        break;
      case 'refused':
        failed = true;
        io.stdout.write(`${k.domain} ${k.selector}: not imported: ${r.reason}\n`);
        break;
      default: {
        io.stdout.write(`${k.domain} ${k.selector}: imported ${k.algorithm} from ${k.file} as ${r.kind}${why}${r.reason ? ` — ${r.reason}` : ''}\n`);
        if (k.writtenAt !== undefined && deps.now() - k.writtenAt > cfgFor(k.domain).lifetime) {
          io.stdout.write(`  the key file is from ${new Date(k.writtenAt).toISOString().slice(0, 10)}; its rotation lifetime counts from today — \`mailanchor keys generate --domain ${k.domain}\` rotates it now\n`);
        }
        const set = imported.get(k.domain) ?? new Set<DkimAlgorithm>();
        set.add(k.algorithm);
        imported.set(k.domain, set);
      }
    }
  }
  for (const n of plan.notes) io.stdout.write(`note: ${n}\n`);
  const needConfig = [...imported].filter(([d]) => !configured(d));
  const mappings = Object.entries(plan.signingDomains);
  if (needConfig.length || mappings.length || plan.subdomainSigning.length) {
    io.stdout.write('\n# Add to mailanchor.yml — rotation manages only the domains in keys.domains (docs/migrating-from-opendkim.md):\n');
    if (needConfig.length) {
      io.stdout.write('keys:\n  domains:\n');
      for (const [d, algs] of needConfig) io.stdout.write(`    ${d}:\n      algorithms: [${[...algs].sort().join(', ')}]\n      # publisher: { type: rfc2136, server: …, tsig: … }   # how new keys reach DNS (default manual)\n`);
    }
    if (mappings.length || plan.subdomainSigning.length) {
      io.stdout.write('outbound:\n');
      if (plan.subdomainSigning.length) io.stdout.write(`  sign_subdomains: true    # the default: ${plan.subdomainSigning.join(', ')} sign their subdomains' mail\n`);
      if (mappings.length) io.stdout.write(`  signing_domains:\n${mappings.map(([from, d]) => `    ${from}: ${d}\n`).join('')}`);
    }
  }
  // A key the store's state refuses (printed, with the reason): the input does not fit.
  return failed ? EX.DATAERR : EX.OK;
}
