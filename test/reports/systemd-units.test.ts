/** The report service and timer pass `systemd-analyze verify` (ExecStart pointed at this checkout). */
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

it('mailanchor-report.service and .timer verify; hardened; daily; EX_TEMPFAIL is not a failure', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mailanchor-units-'));
  try {
    const service = await readFile(join(ROOT, 'systemd/mailanchor-report.service'), 'utf8');
    const timer = await readFile(join(ROOT, 'systemd/mailanchor-report.timer'), 'utf8');
    for (const key of ['User=mailanchor', 'ProtectSystem=strict', 'NoNewPrivileges=yes', 'PrivateTmp=yes', 'StateDirectory=mailanchor', 'SuccessExitStatus=75', 'Type=oneshot']) t.true(service.includes(key), key);
    t.regex(service, /^ExecStart=\/opt\/mailanchor\/bin\/mailanchor report send /m);
    t.regex(timer, /^OnCalendar=\*-\*-\* 00:20:00 UTC$/m);
    t.regex(timer, /^Persistent=true$/m);
    await writeFile(join(dir, 'mailanchor-report.service'), service.replaceAll('/opt/mailanchor/bin/mailanchor', join(ROOT, 'bin/mailanchor')));
    await writeFile(join(dir, 'mailanchor-report.timer'), timer);
    const r = await new Promise<{ code: number; out: string }>((resolve) =>
      execFile('systemd-analyze', ['verify', join(dir, 'mailanchor-report.service'), join(dir, 'mailanchor-report.timer')], (err, stdout, stderr) =>
        resolve({ code: err ? 1 : 0, out: `${stdout}${stderr}` }),
      ),
    );
    t.is(r.code, 0, r.out);
    t.is(r.out.trim(), '', r.out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it('mailanchor-report-import.service and .timer verify; hardened; hourly; the IMAP password comes as a credential', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mailanchor-units-'));
  try {
    const service = await readFile(join(ROOT, 'systemd/mailanchor-report-import.service'), 'utf8');
    const timer = await readFile(join(ROOT, 'systemd/mailanchor-report-import.timer'), 'utf8');
    for (const key of ['User=mailanchor', 'ProtectSystem=strict', 'NoNewPrivileges=yes', 'PrivateTmp=yes', 'StateDirectory=mailanchor', 'SuccessExitStatus=75', 'Type=oneshot', 'CapabilityBoundingSet=', 'LoadCredential=-imap-password:']) t.true(service.includes(key), key);
    t.regex(service, /^ExecStart=\/opt\/mailanchor\/bin\/mailanchor report import /m);
    t.regex(timer, /^OnCalendar=hourly$/m);
    t.regex(timer, /^Persistent=true$/m);
    await writeFile(join(dir, 'mailanchor-report-import.service'), service.replaceAll('/opt/mailanchor/bin/mailanchor', join(ROOT, 'bin/mailanchor')));
    await writeFile(join(dir, 'mailanchor-report-import.timer'), timer);
    const r = await new Promise<{ code: number; out: string }>((resolve) =>
      execFile('systemd-analyze', ['verify', join(dir, 'mailanchor-report-import.service'), join(dir, 'mailanchor-report-import.timer')], (err, stdout, stderr) =>
        resolve({ code: err ? 1 : 0, out: `${stdout}${stderr}` }),
      ),
    );
    t.is(r.code, 0, r.out);
    t.is(r.out.trim(), '', r.out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
