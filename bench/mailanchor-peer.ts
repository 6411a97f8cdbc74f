/**
 * mailanchor as a benchmark peer: `bin/mailanchor milter --config FILE` (the pinned Node with
 * the flags the product runs with, on dist/ — built first when src/ is newer), with
 * the config from bench/peers/mailanchor/mailanchor.yml (DNS pointed at the bench Knot server,
 * a fresh store in the run directory), the bench signing keys imported into its keystore
 * (`mailanchor keys import`), listening on a free loopback port.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../test/support/ports.ts';
import { AUTHSERV_ID, OUR_DOMAIN, RSA_SELECTOR, type Corpus } from './corpus.ts';
import { fill, startProcess, type PeerEnv, type RunningPeer } from './peers.ts';
import { stopChild, waitForListening } from '../test/support/child.ts';

const ROOT = join(import.meta.dirname, '..');
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');
const BIN = join(ROOT, 'bin', 'mailanchor');
const BUILD = join(ROOT, 'scripts', 'build.ts');

/** Product pieces the benchmark needs; each must exist before mailanchor can be measured. */
const NEEDED = ['src/cli/milter.ts', 'src/cli/keys.ts', 'src/app/mail-filter.ts'];

/** Why mailanchor cannot be benchmarked yet (missing pieces), or undefined. */
export function mailanchorMissing(): string | undefined {
  const missing = NEEDED.filter((f) => !existsSync(join(ROOT, f)));
  return missing.length ? `not yet in the tree: ${missing.join(', ')}` : undefined;
}



/** `store`: a `--store` location (e.g. a PostgreSQL URL) instead of the run directory's SQLite file. */
export async function startMailanchor(env: PeerEnv, corpus: Corpus, extraNodeArgs: readonly string[] = [], workers = 1, store?: string): Promise<RunningPeer> {
  mkdirSync(env.runDir, { recursive: true });
  // bin/mailanchor runs the compiled dist/: measure the source as it is now.
  execFileSync(process.execPath, [BUILD, '--if-needed'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const port = await freePort();
  const config = join(env.runDir, 'mailanchor.yml');
  writeFileSync(
    config,
    fill(readFileSync(join(import.meta.dirname, 'peers', 'mailanchor', 'mailanchor.yml'), 'utf8'), {
      PORT: String(port),
      DNS_ADDRESS: env.dnsAddress,
      RUNDIR: env.runDir,
      OUR_DOMAIN,
      AUTHSERV_ID,
      WORKERS: String(workers),
    }),
  );
  const childEnv = { ...process.env, MAILANCHOR_STATE_DIR: env.runDir };
  // The same RSA-2048 key the other peers sign with, imported into our keystore.
  // Copied to a 0600 file first: the keystore refuses key files others can read.
  const keyFile = join(env.runDir, `${RSA_SELECTOR}.key`);
  copyFileSync(join(corpus.keysDir, `${OUR_DOMAIN}.${RSA_SELECTOR}.key`), keyFile);
  chmodSync(keyFile, 0o600);
  const storeArgs = store ? ['--store', store] : [];
  execFileSync(BIN, ['keys', 'import', '--config', config, ...storeArgs, '--domain', OUR_DOMAIN, '--selector', RSA_SELECTOR, '--key', keyFile], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  // Node flags (e.g. --cpu-prof) go through NODE_OPTIONS so the product's own launcher is measured.
  const nodeOptions = [process.env['NODE_OPTIONS'], ...extraNodeArgs].filter(Boolean).join(' ');
  const child = startProcess(BIN, ['milter', '--config', config, ...storeArgs], join(env.runDir, 'mailanchor.log'), { env: { ...childEnv, ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}) }, cwd: env.runDir });
  try {
    await waitForListening(child, port, 'mailanchor', { attempts: 400, output: child.output });
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return {
    name: 'mailanchor',
    chain: [{ host: '127.0.0.1', port }],
    processes: [child],
    stop: () => stopChild(child, 10_000),
  };
}
