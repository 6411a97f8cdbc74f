import test from 'ava';
import { parseStoreUrl } from '../../src/store/url.ts';

test('a path is SQLite (relative to cwd); sqlite: prefix accepted', (t) => {
  t.deepEqual(parseStoreUrl('/var/lib/mailanchor/mailanchor.db'), { engine: 'sqlite', path: '/var/lib/mailanchor/mailanchor.db', location: '/var/lib/mailanchor/mailanchor.db' });
  t.like(parseStoreUrl('var/x.db', '/srv'), { engine: 'sqlite', path: '/srv/var/x.db' });
  t.like(parseStoreUrl('sqlite:/tmp/x.db'), { engine: 'sqlite', path: '/tmp/x.db' });
});

test('postgresql:// and postgres:// URLs: the location has no password and no query', (t) => {
  const u = parseStoreUrl('postgresql://mailanchor:s3cr%40t@db.example.net:5433/mail?sslmode=verify-full&sslrootcert=/etc/ssl/ca.pem');
  t.like(u, { engine: 'postgres', location: 'postgresql://mailanchor@db.example.net:5433/mail', hasPassword: true });
  t.like(parseStoreUrl('postgres://u@h/db'), { engine: 'postgres', location: 'postgresql://u@h/db', hasPassword: false });
  t.like(parseStoreUrl('postgresql://u@h/db?password=x'), { hasPassword: true, location: 'postgresql://u@h/db' });
});

test('bad locations are refused without echoing what may be a password', (t) => {
  t.throws(() => parseStoreUrl(''), { message: /empty/ });
  const e = t.throws(() => parseStoreUrl('postgresql://u:hunter2@[bad/db'));
  t.false(e!.message.includes('hunter2'));
  t.throws(() => parseStoreUrl('postgresql://u:hunter2@h'), { message: /names no database/ });
  t.false(t.throws(() => parseStoreUrl('postgresql://u:hunter2@h'))!.message.includes('hunter2'));
  t.throws(() => parseStoreUrl('mysql://u@h/db'), { message: /unsupported store URL scheme mysql/ });
});

import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runtimeProblems } from '../../src/cli/check-config.ts';
import { decodeConfig } from '../../src/config/load.ts';

test('check-config: a bad store location, and a password file others can read, are named with their key', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mailanchor-cc-'));
  const base = decodeConfig({ store: { path: join(dir, 'x.db') } }).config;
  t.deepEqual(runtimeProblems(base).filter((p) => p.startsWith('store')), []);
  t.regex(runtimeProblems(base, { store: 'mysql://u@h/db' }).join('\n'), /^--store: unsupported store URL scheme mysql/m);
  t.regex(runtimeProblems(decodeConfig({ store: { url: 'postgresql://u:pw@h' } }).config).join('\n'), /^store\.url: .*names no database/m);
  const pw = join(dir, 'pw');
  writeFileSync(pw, 'secret\n');
  chmodSync(pw, 0o644);
  const pg = decodeConfig({ store: { url: 'postgresql://u@h/db', password_file: pw } }).config;
  t.regex(runtimeProblems(pg).join('\n'), /store\.password_file: .* readable by group or others: chmod 600/);
  chmodSync(pw, 0o600);
  t.deepEqual(runtimeProblems(pg).filter((p) => p.startsWith('store')), []);
});
