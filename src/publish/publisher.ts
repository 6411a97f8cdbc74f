/**
 * Putting records into DNS, one port for the keystore (DKIM TXT) and the DANE sidecar (TLSA):
 * a publisher receives the FULL set of records an owner wants at the names it manages and
 * makes DNS serve exactly that. Four adapters: zone-file fragment + reload, RFC 2136 + TSIG,
 * a hook command (JSON on stdin, for DNS-provider APIs), and manual (print and wait).
 * Every adapter is idempotent: publishing the same set twice changes nothing.
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, fsyncSync, openSync, renameSync, writeSync, mkdirSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { MailanchorError, describeError } from '../errors.ts';
import { sendUpdate, type UpdateOperation } from '../dns/update.ts';
import type { TsigKey } from '../dns/tsig.ts';
import type { DnsServer } from '../dns/types.ts';
import { renderFragment, type DnsRecord } from './zone-fragment.ts';

export type PublishErrorCode = 'write-failed' | 'reload-failed' | 'update-failed' | 'hook-failed' | 'bad-record';
export class PublishError extends MailanchorError<PublishErrorCode> {}

export interface RecordSet {
  /** Zone apex the names belong to. */
  readonly zone: string;
  /** Who owns this set (`dkim:example.org`, `tlsa:_25._tcp.mx.example.org`): one fragment/hook call per owner. */
  readonly owner: string;
  /** Every name this owner manages, including those that now should have no records. */
  readonly names: readonly string[];
  readonly records: readonly DnsRecord[];
}

export interface Publisher {
  readonly name: string;
  /** True when publishing is done by a human: the caller waits for DNS to show it. */
  readonly manual: boolean;
  publish(set: RecordSet): Promise<void>;
}

/** Writes `text` to `path` so readers see the old or the new file, never a half one. */
export function writeFileAtomic(path: string, text: string, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  // The rename itself must survive a crash too.
  const dfd = openSync(dirname(path), 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

function run(argv: readonly string[], what: string, code: PublishErrorCode, input?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (argv.length === 0) {
      resolve();
      return;
    }
    const child = execFile(argv[0]!, argv.slice(1), { timeout: 60_000 }, (err, _stdout, stderr) => {
      if (err) reject(new PublishError(code, `${what} failed: ${argv.join(' ')}: ${stderr.trim() || err.message}`, { command: argv, exit: (err as { code?: unknown }).code }, { cause: err }));
      else resolve();
    });
    // A command that never reads stdin closes it early: EPIPE there is not a failure, the exit status decides.
    child.stdin?.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') reject(new PublishError(code, `${what}: writing to ${argv[0]} failed: ${err.message}`, { command: argv }, { cause: err }));
    });
    child.stdin?.end(input ?? '');
  });
}

/** (1) A zone-file fragment for `$INCLUDE`, written atomically, then the reload command (argv, no shell). */
export function zoneFilePublisher(options: { readonly file: string; readonly reload: readonly string[] }): Publisher {
  return {
    name: 'zone-file',
    manual: false,
    async publish(set) {
      try {
        writeFileAtomic(options.file, renderFragment(set.owner, set.records));
      } catch (err) {
        throw new PublishError('write-failed', `cannot write zone fragment ${options.file}: ${describeError(err).message}`, { file: options.file }, { cause: err });
      }
      await run(options.reload, 'zone reload', 'reload-failed');
    },
  };
}

function toOperation(r: DnsRecord): UpdateOperation {
  switch (r.type) {
    case 'TXT':
      return { op: 'add', name: r.name, type: 'TXT', ttl: r.ttl, data: r.data };
    case 'CNAME':
      return { op: 'add', name: r.name, type: 'CNAME', ttl: r.ttl, data: r.data[0] ?? '' };
    case 'TLSA': {
      const m = /^(\d+)\s+(\d+)\s+(\d+)\s+([0-9a-fA-F]+)$/.exec((r.data[0] ?? '').trim());
      if (!m) throw new PublishError('bad-record', `not a TLSA presentation form: ${r.data[0]}`, { name: r.name });
      return { op: 'add', name: r.name, type: 'TLSA', ttl: r.ttl, data: { usage: Number(m[1]), selector: Number(m[2]), matchingType: Number(m[3]), data: Buffer.from(m[4]!, 'hex') } };
    }
  }
}

/**
 * (2) RFC 2136 UPDATE signed with TSIG to the primary: one message that deletes the managed
 * RRsets and adds the wanted records — applied atomically (RFC 2136 §3.4.2), so no server
 * ever serves a half-changed set.
 */
export function rfc2136Publisher(server: DnsServer, key: TsigKey | undefined, options: { readonly timeoutMs?: number; readonly now?: () => number } = {}): Publisher {
  return {
    name: 'rfc2136',
    manual: false,
    async publish(set) {
      const types = new Set(set.records.map((r) => r.type));
      if (types.size === 0) types.add('TXT');
      const deletes: UpdateOperation[] = set.names.flatMap((name) => [...types].map((type) => ({ op: 'delete-rrset' as const, name, type })));
      try {
        await sendUpdate(server, { zone: set.zone, updates: [...deletes, ...set.records.map(toOperation)] }, { key, timeoutMs: options.timeoutMs ?? 10_000, ...(options.now ? { now: options.now } : {}) });
      } catch (err) {
        if (err instanceof PublishError) throw err;
        throw new PublishError('update-failed', `RFC 2136 update of ${set.zone} at ${server.host}:${server.port} failed: ${describeError(err).message}`, { zone: set.zone }, { cause: err });
      }
    },
  };
}

/** (3) A hook: `argv` gets `{zone, owner, names, records}` as JSON on stdin; exit 0 means published. */
export function hookPublisher(argv: readonly string[]): Publisher {
  return {
    name: 'hook',
    manual: false,
    async publish(set) {
      await new Promise<void>((resolve, reject) => {
        const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('error', (err) => reject(new PublishError('hook-failed', `hook ${argv[0]} could not start: ${err.message}`, { command: argv }, { cause: err })));
        child.on('close', (code) =>
          code === 0 ? resolve() : reject(new PublishError('hook-failed', `hook ${argv.join(' ')} exited ${code}: ${stderr.trim()}`, { command: argv, exit: code })),
        );
        child.stdin.on('error', (err: NodeJS.ErrnoException) => {
          // The exit status decides; a hook that ignores its input closes stdin early (EPIPE).
          if (err.code !== 'EPIPE') reject(new PublishError('hook-failed', `writing to hook ${argv[0]} failed: ${err.message}`, { command: argv }, { cause: err }));
        });
        child.stdin.end(`${JSON.stringify({ zone: set.zone, owner: set.owner, names: set.names, records: set.records })}\n`);
      });
    },
  };
}

/** (4) Manual: write what to publish (zone-file form) and wait for DNS to show it. */
export function manualPublisher(write: (text: string) => void): Publisher {
  return {
    name: 'manual',
    manual: true,
    async publish(set) {
      write(`publish in zone ${set.zone} (replacing what is at ${set.names.join(', ')}):\n${renderFragment(set.owner, set.records)}`);
    },
  };
}
