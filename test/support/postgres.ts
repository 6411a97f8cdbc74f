/**
 * A real PostgreSQL (Debian's `postgresql` package, /usr/lib/postgresql/<v>/bin) for tests:
 * `initdb` + `pg_ctl` into a private temp dir, listening on a free loopback port (and a unix
 * socket in that dir), started and stopped by the test. PostgreSQL refuses to run as root, so
 * when the test runs as root the cluster belongs to the `postgres` system user (the Debian
 * package creates it); otherwise to the current user. fsync is off: tests, not durability.
 *
 * Authentication: the superuser `postgres` connects over the socket without a password (trust);
 * TCP connections need a password (scram-sha-256), so a test can check that a password in a
 * store URL never reaches a log line or an error message.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';

const ROOT = '/usr/lib/postgresql';

function binDir(): string | undefined {
  if (!existsSync(ROOT)) return undefined;
  const versions = readdirSync(ROOT).filter((v) => /^\d+$/.test(v) && existsSync(join(ROOT, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(ROOT, versions[0], 'bin') : undefined;
}

/** Why PostgreSQL cannot be started here (a reason to skip), or undefined. */
export function postgresMissing(): string | undefined {
  if (!binDir()) return `no PostgreSQL server under ${ROOT} (apt-get install postgresql)`;
  if (process.getuid?.() === 0) {
    try {
      runAs();
    } catch (err) {
      return (err as Error).message;
    }
  }
  return undefined;
}

/** uid/gid to run the server as: the `postgres` user when we are root. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  let line = '';
  try {
    line = execFileSync('getent', ['passwd', 'postgres'], { encoding: 'utf8' }).trim();
  } catch {
    // no such user: reported below
  }
  const [, , uid, gid] = line.split(':');
  if (!uid || !gid) throw new Error('running as root and there is no `postgres` user to run PostgreSQL as');
  return { uid: Number(uid), gid: Number(gid) };
}

export interface PostgresServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The unix socket directory (superuser, no password). */
  readonly socketDir: string;
  /** The password of the `mailanchor` role (TCP, scram-sha-256). */
  readonly password: string;
  /** `postgresql://mailanchor:<password>@127.0.0.1:<port>/<db>` for a database made by `createDatabase`. */
  url(database: string, options?: { readonly withPassword?: boolean }): string;
  /** Creates a database owned by the `mailanchor` role; returns its name. */
  createDatabase(name?: string): Promise<string>;
  /** Runs SQL as the superuser through psql (tests' own checks, e.g. counting rows). */
  psql(database: string, sql: string): Promise<string>;
  /** `pg_ctl stop -m fast` (connections are cut): the database is down, its port closed. */
  pause(): Promise<void>;
  /** Starts it again on the same port and data dir. */
  resume(): Promise<void>;
  logs(): string;
  stop(): Promise<void>;
}

let dbCounter = 0;

export async function startPostgres(): Promise<PostgresServer> {
  const bin = binDir();
  if (!bin) throw new Error(postgresMissing());
  const owner = runAs();
  const dir = mkdtempSync(join(tmpdir(), 'mailanchor-pg-'));
  const data = join(dir, 'data');
  const password = `pw-${Math.random().toString(36).slice(2)}-secret`;
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const port = await freePort();
  const opts = { ...(owner ? { uid: owner.uid, gid: owner.gid } : {}), env: { PATH: `${bin}:/usr/bin:/bin`, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' }, cwd: dir };
  const run = (cmd: string, args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      execFile(join(bin, cmd), args, { ...opts, encoding: 'utf8', maxBuffer: 8 << 20 }, (err, stdout, stderr) => (err ? reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout)));
    });

  await run('initdb', ['-D', data, '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', '--no-sync', '-E', 'UTF8', '--locale=C.UTF-8']);
  const logFile = join(dir, 'server.log');
  const settings = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=200',
    '-c shared_buffers=32MB',
  ].join(' ');
  const start = () => run('pg_ctl', ['-D', data, '-l', logFile, '-w', '-t', '30', '-o', settings, 'start']);
  await start();
  const superuser = (database: string, sql: string) => run('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', dir, '-p', String(port), '-U', 'postgres', '-d', database, '-c', sql]);
  await superuser('postgres', `CREATE ROLE mailanchor LOGIN PASSWORD '${password}'`);
  let stopped = false;
  const server: PostgresServer = {
    host: '127.0.0.1',
    port,
    socketDir: dir,
    password,
    url: (database, o = {}) => `postgresql://mailanchor${o.withPassword === false ? '' : `:${password}`}@127.0.0.1:${port}/${database}`,
    async createDatabase(name) {
      const db = name ?? `t${process.pid}_${++dbCounter}`;
      await superuser('postgres', `CREATE DATABASE ${db} OWNER mailanchor`);
      return db;
    },
    psql: (database, sql) => superuser(database, sql),
    async pause() {
      await run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
    },
    async resume() {
      await start();
    },
    logs: () => {
      try {
        return readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

