/**
 * Every file in systemd/, as the install step puts it: installed into a scratch root with
 * deploy/install.sh, then `systemd-analyze verify --root` at the installed paths (the
 * ExecStart= binaries are the installed /opt/mailanchor ones) and `systemd-analyze
 * security --offline=true` on each service, alone and with each zone-reload drop-in; every
 * score is printed and must be ≤ 2.0. Timers must do what they say: Persistent= only with
 * OnCalendar=, and the unit a timer or path starts must exist. A file in systemd/ this test
 * does not know how to check fails it, so units added later are covered or noticed.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createScratchRoot, installMissing, REPO, type ScratchRoot } from '../support/scratch-root.ts';

const MAX_EXPOSURE = 2.0;
const UNIT_DIR = '/usr/local/lib/systemd/system';
const missing = installMissing();
const it = missing ? test.serial.skip : test.serial;
if (missing) test.skip(`systemd units: ${missing}`, () => {});

let root: ScratchRoot | undefined;

test.before(async () => {
  if (missing) return;
  root = await createScratchRoot();
  root.install();
});

test.after.always(async () => {
  await root?.remove();
});

function analyze(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) =>
    execFile('systemd-analyze', args, { cwd: '/', maxBuffer: 8 * 1024 * 1024 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` })),
  );
}

function filesUnder(dir: string, base = dir): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p, base) : [relative(base, p)];
  });
}

const SYSTEMD = join(REPO, 'systemd');
const files = filesUnder(SYSTEMD).sort();
const units = files.filter((f) => /^[^/]+\.(service|timer|path|socket)$/.test(f));
const dropIns = files.filter((f) => /^zone-reload\/[^/]+\.conf$/.test(f));
const services = units.filter((u) => u.endsWith('.service'));

/** The [Section] Key=value pairs of a unit file (comments and continuation lines aside). */
function directives(text: string): Array<{ section: string; key: string; value: string }> {
  let section = '';
  const out: Array<{ section: string; key: string; value: string }> = [];
  for (const line of text.split('\n')) {
    const s = /^\[(\w+)\]$/.exec(line);
    if (s) section = s[1]!;
    const kv = /^(\w+)=(.*)$/.exec(line);
    if (kv) out.push({ section, key: kv[1]!, value: kv[2]! });
  }
  return out;
}

const score = (out: string): number => Number(/Overall exposure level for \S+: (\d+\.\d+)/.exec(out)?.[1] ?? NaN);

it('every file in systemd/ is a unit or a zone-reload drop-in this test checks', (t) => {
  t.deepEqual(files.filter((f) => !units.includes(f) && !dropIns.includes(f)), []);
  t.true(services.includes('mailanchor-milter.service'));
  t.true(dropIns.length >= 2, dropIns.join(' '));
});

it('each unit is installed where systemd looks for it, and every unit verifies there', async (t) => {
  for (const u of units) t.true(existsSync(root!.at(`${UNIT_DIR}/${u}`)), `${u} installed`);
  const r = await analyze(['verify', `--root=${root!.dir}`, ...units]);
  t.is(r.code, 0, r.out);
  t.is(r.out.trim(), '', r.out);
});

it(`every service scores ≤ ${MAX_EXPOSURE} in systemd-analyze security --offline=true, alone and with each drop-in`, async (t) => {
  const scores: string[] = [];
  for (const s of services) {
    const r = await analyze(['security', '--offline=true', `--root=${root!.dir}`, s]);
    const v = score(r.out);
    scores.push(`${s}: ${v.toFixed(1)}`);
    t.true(v <= MAX_EXPOSURE, `${s}: ${v}\n${r.out}`);
  }
  // The drop-ins apply to the services that publish zone fragments.
  for (const d of dropIns) {
    for (const s of ['mailanchor-keys-rotate.service', 'mailanchor-tlsa.service']) {
      const dir = root!.at(`/etc/systemd/system/${s}.d`);
      mkdirSync(dir, { recursive: true });
      // docs/deploy.md links the installed copy in; a copy here, as an absolute symlink would
      // point out of the scratch root.
      const link = join(dir, d.split('/').pop()!);
      copyFileSync(root!.at(`/opt/mailanchor/systemd/${d}`), link);
      try {
        const v = await analyze(['verify', `--root=${root!.dir}`, s]);
        t.is(v.out.trim(), '', `${s} + ${d}: ${v.out}`);
        const r = await analyze(['security', '--offline=true', `--root=${root!.dir}`, s]);
        const x = score(r.out);
        scores.push(`${s} + ${d}: ${x.toFixed(1)}`);
        t.true(x <= MAX_EXPOSURE, `${s} + ${d}: ${x}\n${r.out}`);
        t.regex(r.out, /✗ SupplementaryGroups=/, `the drop-in ${d} is read with ${s} (its group shows in the analysis)`);
      } finally {
        rmSync(link);
      }
    }
  }
  t.log(`systemd-analyze security --offline=true:\n  ${scores.join('\n  ')}`);
});

it('timers do what their comments say: Persistent= only with OnCalendar=; each started unit exists; services run the installed command', (t) => {
  for (const u of units) {
    const text = readFileSync(join(SYSTEMD, u), 'utf8');
    const d = directives(text);
    const has = (key: string): boolean => d.some((x) => x.key === key);
    if (u.endsWith('.timer')) {
      if (has('Persistent')) t.true(has('OnCalendar'), `${u}: Persistent= needs OnCalendar= (it does nothing for monotonic timers)`);
      t.true(has('OnCalendar') || has('OnBootSec') || has('OnUnitActiveSec'), `${u} has a schedule`);
      if (/Persistent:/.test(text)) t.true(has('Persistent'), `${u}: the comment promises Persistent=`);
    }
    if (u.endsWith('.timer') || u.endsWith('.path')) {
      const target = d.find((x) => x.key === 'Unit')?.value ?? u.replace(/\.(timer|path)$/, '.service');
      t.true(units.includes(target), `${u} starts ${target}`);
    }
    if (u.endsWith('.service')) {
      for (const x of d.filter((y) => /^Exec(Start|StartPre)$/.test(y.key))) t.regex(x.value, /^\/opt\/mailanchor\/bin\/mailanchor /, `${u}: ${x.key}`);
      t.true(d.some((x) => x.key === 'User' && x.value === 'mailanchor'), `${u} runs as mailanchor`);
      t.true(d.some((x) => x.key === 'SystemCallFilter' && x.value === '@system-service'), `${u} filters system calls`);
    }
  }
});

it('write access is the state directory plus what the unit names, nothing else', (t) => {
  const expected: Record<string, string[]> = {
    'mailanchor-milter.service': ['/var/spool/postfix/mailanchor'],
    'mailanchor-keys-rotate.service': ['-/var/lib/mailanchor-zones'],
    'mailanchor-tlsa.service': ['-/var/lib/mailanchor-zones'],
    'mailanchor-report.service': ['-/var/spool/postfix/maildrop', '-/var/spool/postfix/public'],
  };
  for (const s of services) {
    const d = directives(readFileSync(join(SYSTEMD, s), 'utf8'));
    t.true(d.some((x) => x.key === 'ProtectSystem' && x.value === 'strict'), `${s}: ProtectSystem=strict`);
    t.true(d.some((x) => x.key === 'StateDirectory' && x.value === 'mailanchor'), `${s}: StateDirectory=mailanchor`);
    const rw = d.filter((x) => x.key === 'ReadWritePaths').flatMap((x) => x.value.split(/\s+/));
    if (expected[s]) t.deepEqual(rw, expected[s], s);
  }
});
