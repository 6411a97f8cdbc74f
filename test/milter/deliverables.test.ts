/** The milter's systemd unit passes `systemd-analyze verify`; the Postfix fragments pass `postconf` parsing. */
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;

function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => execFile(cmd, args, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: `${stdout}${stderr}` })));
}

(existsSync('/usr/bin/systemd-analyze') ? test : test.skip)('mailanchor-milter.service verifies and is hardened', async (t) => {
  const unit = await readFile(join(ROOT, 'systemd/mailanchor-milter.service'), 'utf8');
  for (const key of ['User=mailanchor', 'ReadWritePaths=/var/spool/postfix/mailanchor', 'ProtectSystem=strict', 'NoNewPrivileges=yes', 'PrivateTmp=yes', 'CapabilityBoundingSet=', 'ExecReload=kill -HUP $MAINPID']) {
    t.true(unit.includes(key), key);
  }
  const dir = await mkdtemp(join(tmpdir(), 'mailanchor-unit-'));
  try {
    const f = join(dir, 'mailanchor-milter.service');
    await writeFile(f, unit.replaceAll('/opt/mailanchor/bin/mailanchor', join(ROOT, 'bin/mailanchor')));
    const r = await run('systemd-analyze', ['verify', f]);
    t.is(r.code, 0, r.out);
    t.is(r.out.trim(), '', r.out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

(existsSync('/usr/sbin/postconf') ? test : test.skip)('main.cf fragment: every parameter is one Postfix knows', async (t) => {
  const text = await readFile(join(ROOT, 'postfix/main.cf.fragment'), 'utf8');
  const names = text.split('\n').filter((l) => /^[a-z_]+ =/.test(l)).map((l) => l.split(' ')[0]!);
  t.true(names.includes('smtpd_milters') && names.includes('milter_default_action'));
  const known = (await run('/usr/sbin/postconf', ['-d'])).out;
  for (const n of names) t.regex(known, new RegExp(`^${n} =`, 'm'), `${n} is a Postfix parameter`);
});
