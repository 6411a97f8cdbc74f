/**
 * The sysexits status of an error a command did not handle (src/cli/error-exit.ts): per
 * layer and code, then errno, then EX_SOFTWARE; and what real commands exit with when the
 * config file is missing or wrong, PostgreSQL is down, an input file is missing.
 */
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/config/load.ts';
import { DaneError } from '../../src/dane/errors.ts';
import { DnsError } from '../../src/dns/types.ts';
import { MailanchorError } from '../../src/errors.ts';
import { exitFor } from '../../src/cli/error-exit.ts';
import { EX, SYSEXITS, type SysExit } from '../../src/cli/exit-codes.ts';
import { KeystoreError } from '../../src/keys/errors.ts';
import { main } from '../../src/cli/main.ts';
import { MilterListenError } from '../../src/milter/server.ts';
import { PublishError } from '../../src/publish/publisher.ts';
import { ReportError } from '../../src/reports/errors.ts';
import { StoreError } from '../../src/store/errors.ts';
import { captureIo } from '../support/cli-io.ts';
import { freePort } from '../support/ports.ts';
import { prng } from '../support/prng.ts';

const errno = (code: string): Error => Object.assign(new Error(code), { code });

test('each layer\'s codes, then the errno of the cause, then EX_SOFTWARE', (t) => {
  const table: [unknown, SysExit][] = [
    [new ConfigError('UNREADABLE', '/etc/x.yml', [], errno('ENOENT')), EX.NOINPUT],
    [new ConfigError('UNREADABLE', '/etc/x.yml', [], errno('EACCES')), EX.NOPERM],
    [new ConfigError('UNREADABLE', '/etc/x.yml', [], errno('EISDIR')), EX.NOINPUT],
    [new ConfigError('SYNTAX', '/etc/x.yml', []), EX.CONFIG],
    [new ConfigError('INVALID', '/etc/x.yml', []), EX.CONFIG],
    [new StoreError('UNAVAILABLE', 'down'), EX.UNAVAILABLE],
    [new StoreError('REFUSED', 'password authentication failed'), EX.NOPERM],
    [new StoreError('SCHEMA_OUTDATED', 'old'), EX.CONFIG],
    [new StoreError('OPEN_FAILED', 'x', {}, { cause: errno('EACCES') }), EX.NOPERM],
    [new StoreError('OPEN_FAILED', 'x', {}, { cause: new Error('unable to open database file') }), EX.CANTCREAT],
    [new StoreError('WRITE_FAILED', 'disk full', {}, { cause: errno('ENOSPC') }), EX.IOERR],
    [new StoreError('BUSY', 'locked'), EX.TEMPFAIL],
    [new DnsError('TIMEOUT', 'no reply'), EX.TEMPFAIL],
    [new DnsError('SERVFAIL', 'servfail'), EX.TEMPFAIL],
    [new DnsError('BADKEY', 'tsig'), EX.CONFIG],
    [new ReportError('MAILBOX', 'imap down'), EX.TEMPFAIL],
    [new ReportError('NOT_A_REPORT', 'junk'), EX.DATAERR],
    [new DaneError('UNREADABLE', 'x.pem', {}, { cause: errno('ENOENT') }), EX.NOINPUT],
    [new DaneError('DER_NOT_PEM', 'x.der'), EX.DATAERR],
    [new DaneError('STATE', 'state.json', {}, { cause: errno('EACCES') }), EX.NOPERM],
    [new KeystoreError('lease-lost', 'taken'), EX.TEMPFAIL],
    [new KeystoreError('key-too-small', '512'), EX.DATAERR],
    [new PublishError('write-failed', 'x', {}, { cause: errno('EROFS') }), EX.CANTCREAT],
    [new PublishError('reload-failed', 'knotc'), EX.UNAVAILABLE],
    [new MilterListenError('listen-failed', 'in use', {}, { cause: errno('EADDRINUSE') }), EX.CANTCREAT],
    [new MilterListenError('socket-permissions', 'chown'), EX.NOPERM],
    [new MailanchorError('frame-too-large', 'a session error'), EX.SOFTWARE],
    [errno('ENOENT'), EX.NOINPUT],
    [errno('EACCES'), EX.NOPERM],
    [errno('ECONNREFUSED'), EX.UNAVAILABLE],
    [Object.assign(new TypeError("Unknown option '--x'"), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' }), EX.USAGE],
    [new TypeError('x is undefined'), EX.SOFTWARE],
    ['a string thrown', EX.SOFTWARE],
    [undefined, EX.SOFTWARE],
  ];
  for (const [err, want] of table) t.is(exitFor(err), want, String((err as Error | undefined)?.message ?? err));
});

test('whatever is thrown, the status is one of the closed list (seeded)', (t) => {
  const rnd = prng(13);
  const names = ['ConfigError', 'StoreError', 'DnsError', 'ReportError', 'DaneError', 'KeystoreError', 'PublishError', 'MilterListenError', 'MetricsError', 'Other'];
  const codes = ['UNREADABLE', 'SYNTAX', 'UNAVAILABLE', 'TIMEOUT', 'BADKEY', 'lease-lost', 'write-failed', 'listen-failed', 'nonsense', ''];
  const errnos = ['ENOENT', 'EACCES', 'ENOSPC', 'EWHATEVER', 'ERR_X', undefined];
  for (let i = 0; i < 2000; i++) {
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const cause = pick(errnos);
    const err = new MailanchorError(pick(codes), 'x', {}, cause ? { cause: errno(cause) } : {});
    Object.defineProperty(err, 'name', { value: pick(names) });
    t.true(exitFor(err) in SYSEXITS, `${err.name} ${err.code} ${cause}`);
  }
});

test('real commands: a missing config file 66, a wrong one 78, PostgreSQL down 69, a missing input 66', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mailanchor-exit-'));
  try {
    const run = async (...argv: string[]) => {
      const io = captureIo(dir);
      return { code: await main(argv, io), err: io.err() };
    };
    const missing = await run('check-config', '--config', join(dir, 'none.yml'));
    t.is(missing.code, EX.NOINPUT, missing.err);
    const bad = join(dir, 'bad.yml');
    await writeFile(bad, 'milter:\n  listen: nowhere\n');
    const wrong = await run('check-config', '--config', bad);
    t.is(wrong.code, EX.CONFIG);
    t.regex(wrong.err, /line 2: milter\.listen\[0\]: expected inet:HOST:PORT/);
    t.is((await run('keys', 'list', '--config', bad)).code, EX.CONFIG);
    t.is((await run('report', 'show', '--config', bad)).code, EX.CONFIG);
    t.is((await run('store', 'status', '--config', bad)).code, EX.CONFIG);
    t.is((await run('milter', '--config', bad)).code, EX.CONFIG);
    // The audit keeps its own contract: 2 for a config it cannot use.
    t.is((await run('audit', 'example.org', '--config', bad)).code, 2);

    const down = `postgresql://mailanchor@127.0.0.1:${await freePort()}/none`;
    const ok = join(dir, 'ok.yml');
    await writeFile(ok, 'store:\n  connect_timeout: 2s\n');
    for (const argv of [['keys', 'list'], ['store', 'status'], ['report', 'show']]) {
      const r = await run(...argv, '--config', ok, '--store', down);
      t.is(r.code, EX.UNAVAILABLE, `${argv.join(' ')}: ${r.err}`);
    }
    const tlsa = await run('tlsa', '--config', ok, join(dir, 'missing.pem'));
    t.is(tlsa.code, EX.NOINPUT, tlsa.err);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('--version: the package version and the Node it runs on', async (t) => {
  const pkg = JSON.parse(await import('node:fs/promises').then((f) => f.readFile(new URL('../../package.json', import.meta.url), 'utf8'))) as { version: string };
  for (const flag of ['--version', '-V']) {
    const io = captureIo();
    t.is(await main([flag], io), 0);
    t.is(io.out(), `mailanchor ${pkg.version} (Node ${process.version})\n`);
  }
});
