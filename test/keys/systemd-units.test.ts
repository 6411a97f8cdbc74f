/** The rotation service and timer pass `systemd-analyze verify` (ExecStart pointed at this checkout). */
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;

(existsSync('/usr/bin/systemd-analyze') ? test : test.skip)('mailanchor-keys-rotate.service and .timer verify; hardened; hourly', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mailanchor-units-'));
  try {
    const service = await readFile(join(ROOT, 'systemd/mailanchor-keys-rotate.service'), 'utf8');
    const timer = await readFile(join(ROOT, 'systemd/mailanchor-keys-rotate.timer'), 'utf8');
    for (const key of ['User=mailanchor', 'ProtectSystem=strict', 'NoNewPrivileges=yes', 'Type=oneshot', 'CapabilityBoundingSet=']) t.true(service.includes(key), key);
    t.regex(service, /^ExecStart=\/opt\/mailanchor\/bin\/mailanchor keys rotate /m);
    t.regex(timer, /^OnCalendar=hourly$/m);
    await writeFile(join(dir, 'mailanchor-keys-rotate.service'), service.replaceAll('/opt/mailanchor/bin/mailanchor', join(ROOT, 'bin/mailanchor')));
    await writeFile(join(dir, 'mailanchor-keys-rotate.timer'), timer);
    const r = await new Promise<{ code: number; out: string }>((resolve) =>
      execFile('systemd-analyze', ['verify', join(dir, 'mailanchor-keys-rotate.service'), join(dir, 'mailanchor-keys-rotate.timer')], (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: `${stdout}${stderr}` })),
    );
    t.is(r.code, 0, r.out);
    t.is(r.out.trim(), '', r.out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
