/**
 * Starting a command the way a systemd service unit would, without systemd: the unit's
 * User=, Group=, SupplementaryGroups= (setpriv(1); groups cleared otherwise, as systemd
 * does), UMask= and StateDirectory= ($STATE_DIRECTORY), and its ExecStartPre=/ExecStart=
 * command lines with the installed paths mapped into a scratch root. The sandboxing
 * (ProtectSystem= …) is systemd's and is not reproduced; test/deploy/systemd-units.test.ts
 * checks it with systemd-analyze.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export interface ServiceUnit {
  /** [Service] values, in order, by key (ExecStartPre= may repeat). */
  readonly service: ReadonlyMap<string, readonly string[]>;
  one(key: string): string | undefined;
}

export function parseUnit(text: string): ServiceUnit {
  const service = new Map<string, string[]>();
  let section = '';
  for (const line of text.split('\n')) {
    const s = /^\[(\w+)\]$/.exec(line);
    if (s) section = s[1]!;
    const kv = /^(\w+)=(.*)$/.exec(line);
    if (kv && section === 'Service') service.set(kv[1]!, [...(service.get(kv[1]!) ?? []), kv[2]!]);
  }
  return { service, one: (key) => service.get(key)?.at(-1) };
}

export interface AsServiceOptions {
  /** Rewrites each argument of the unit's command line (installed paths → scratch paths). */
  readonly map: (arg: string) => string;
  /** $STATE_DIRECTORY, as StateDirectory= sets it. */
  readonly stateDirectory?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** argv for setpriv + sh that runs `command` with the unit's credentials and umask. */
export function serviceArgv(unit: ServiceUnit, command: string, o: AsServiceOptions): string[] {
  const user = unit.one('User');
  const group = unit.one('Group') ?? user;
  if (!user || !group) throw new Error('the unit names no User=');
  const supplementary = (unit.service.get('SupplementaryGroups') ?? []).flatMap((g) => g.split(/\s+/)).filter(Boolean);
  // systemd's command lines: an optional prefix (-, @, +, !) and whitespace-separated words
  // (the units here use no quoting).
  const words = command.replace(/^[-@+!:]+/, '').split(/\s+/).filter(Boolean).map(o.map);
  const umask = unit.one('UMask') ?? '0022';
  return [
    'setpriv',
    `--reuid=${user}`,
    `--regid=${group}`,
    supplementary.length ? `--groups=${supplementary.map(gidOf).join(',')}` : '--clear-groups',
    '--',
    '/bin/sh',
    '-c',
    `umask ${umask} && exec "$@"`,
    'sh',
    ...words,
  ];
}

function gidOf(group: string): string {
  const r = spawnSync('getent', ['group', group], { encoding: 'utf8' });
  const gid = r.stdout.split(':')[2];
  if (r.status !== 0 || !gid) throw new Error(`no group ${group} on this host`);
  return gid;
}

function environment(o: AsServiceOptions): NodeJS.ProcessEnv {
  return { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...(o.stateDirectory ? { STATE_DIRECTORY: o.stateDirectory } : {}), ...o.env };
}

/** Runs a unit's ExecStartPre= lines in turn, as the service; throws on the first that fails. */
export function runStartPre(unit: ServiceUnit, o: AsServiceOptions): void {
  for (const pre of unit.service.get('ExecStartPre') ?? []) {
    const [cmd, ...args] = serviceArgv(unit, pre, o);
    const r = spawnSync(cmd!, args, { env: environment(o), encoding: 'utf8' });
    if (r.status !== 0 && !pre.startsWith('-')) throw new Error(`ExecStartPre=${pre} exited ${r.status}: ${r.stdout}${r.stderr}`);
  }
}

/** Spawns the unit's ExecStart= as the service. */
export function spawnExecStart(unit: ServiceUnit, o: AsServiceOptions): ChildProcess {
  const start = unit.one('ExecStart');
  if (!start) throw new Error('the unit has no ExecStart=');
  const [cmd, ...args] = serviceArgv(unit, start, o);
  return spawn(cmd!, args, { env: environment(o), stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Any other command line (e.g. `mailanchor keys import …`) with the unit's credentials. */
export function runAsService(unit: ServiceUnit, command: string, o: AsServiceOptions): { status: number | null; output: string } {
  const [cmd, ...args] = serviceArgv(unit, command, o);
  const r = spawnSync(cmd!, args, { env: environment(o), encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}
