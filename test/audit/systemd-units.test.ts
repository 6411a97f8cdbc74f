/** The audit service and timer pass `systemd-analyze verify` (ExecStart pointed at this checkout) and are hardened like the others. */
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;
const missing = existsSync('/usr/bin/systemd-analyze') ? undefined : 'systemd-analyze not installed';
const it = missing ? test.skip : test;
if (missing) test.skip(`unit verification: ${missing}`, () => {});

it('mailanchor-audit.service and .timer verify; hardened; hourly; --all --connect', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mailanchor-units-'));
  try {
    const service = await readFile(join(ROOT, 'systemd/mailanchor-audit.service'), 'utf8');
    const timer = await readFile(join(ROOT, 'systemd/mailanchor-audit.timer'), 'utf8');
    for (const key of ['User=mailanchor', 'ProtectSystem=strict', 'NoNewPrivileges=yes', 'PrivateTmp=yes', 'StateDirectory=mailanchor', 'Type=oneshot', 'CapabilityBoundingSet=', 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6']) t.true(service.includes(key), key);
    t.regex(service, /^ExecStart=\/opt\/mailanchor\/bin\/mailanchor audit --all --connect /m);
    t.regex(timer, /^OnCalendar=hourly$/m);
    t.regex(timer, /^Persistent=true$/m);
    await writeFile(join(dir, 'mailanchor-audit.service'), service.replaceAll('/opt/mailanchor/bin/mailanchor', join(ROOT, 'bin/mailanchor')));
    await writeFile(join(dir, 'mailanchor-audit.timer'), timer);
    const r = await new Promise<{ code: number; out: string }>((resolve) =>
      execFile('systemd-analyze', ['verify', join(dir, 'mailanchor-audit.service'), join(dir, 'mailanchor-audit.timer')], (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: `${stdout}${stderr}` })),
    );
    t.is(r.code, 0, r.out);
    t.is(r.out.trim(), '', r.out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
