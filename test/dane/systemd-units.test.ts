/** The TLSA sidecar units (service, path, timer) pass `systemd-analyze verify` (ExecStart pointed at this checkout). */
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

it('mailanchor-tlsa.service, .path and .timer verify; hardened; the service runs one sidecar step', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mailanchor-units-'));
  try {
    const names = ['mailanchor-tlsa.service', 'mailanchor-tlsa.path', 'mailanchor-tlsa.timer'];
    const [service, path, timer] = await Promise.all(names.map((n) => readFile(join(ROOT, 'systemd', n), 'utf8')));
    for (const key of ['User=mailanchor', 'ProtectSystem=strict', 'NoNewPrivileges=yes', 'PrivateTmp=yes', 'StateDirectory=mailanchor', 'Type=oneshot']) t.true(service!.includes(key), key);
    t.regex(service!, /^ExecStart=\/opt\/mailanchor\/bin\/mailanchor tlsa sidecar --once /m);
    t.regex(path!, /^PathChanged=/m);
    t.regex(timer!, /^OnUnitActiveSec=/m);
    await writeFile(join(dir, names[0]!), service!.replaceAll('/opt/mailanchor/bin/mailanchor', join(ROOT, 'bin/mailanchor')));
    await writeFile(join(dir, names[1]!), path!);
    await writeFile(join(dir, names[2]!), timer!);
    const r = await new Promise<{ code: number; out: string }>((resolve) =>
      execFile('systemd-analyze', ['verify', ...names.map((n) => join(dir, n))], (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: `${stdout}${stderr}` })),
    );
    t.is(r.code, 0, r.out);
    t.is(r.out.trim(), '', r.out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
