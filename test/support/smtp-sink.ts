/**
 * Postfix's smtp-sink(1) on 127.0.0.1:freePort as the MTA/relay in report delivery tests:
 * every accepted transaction is dumped to a file (`-d`), which `messages()` reads back
 * (smtp-sink prepends X-Client-Addr, X-Mail-Args, X-Rcpt-Args … to the message).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForListening } from './child.ts';
import { freePort } from './ports.ts';

export const SMTP_SINK = '/usr/sbin/smtp-sink';

export function smtpSinkMissing(): string | undefined {
  return existsSync(SMTP_SINK) ? undefined : `${SMTP_SINK} (Debian postfix) not installed`;
}

export interface SinkMessage {
  readonly rcpt: string;
  readonly mailFrom: string;
  readonly raw: Buffer;
}

export interface SmtpSink {
  readonly port: number;
  messages(): Promise<SinkMessage[]>;
  stop(): Promise<void>;
}


export async function startSmtpSink(port?: number): Promise<SmtpSink> {
  const dir = await mkdtemp(join(tmpdir(), 'mailanchor-sink-'));
  const p = port ?? (await freePort());
  const user = process.getuid?.() === 0 ? ['-u', 'root'] : [];
  const child: ChildProcess = spawn(SMTP_SINK, [...user, '-d', `${dir}/dump/%M.`, `127.0.0.1:${p}`, '20'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  await waitForListening(child, p, 'smtp-sink', { attempts: 100, output: () => stderr });
  return {
    port: p,
    async messages() {
      const d = join(dir, 'dump');
      const files = existsSync(d) ? (await readdir(d)).sort() : [];
      const out: SinkMessage[] = [];
      for (const f of files) {
        const raw = await readFile(join(d, f));
        const head = raw.toString('latin1');
        out.push({ rcpt: /^X-Rcpt-Args: <([^>]*)>/m.exec(head)?.[1] ?? '', mailFrom: /^X-Mail-Args: <([^>]*)>/m.exec(head)?.[1] ?? '', raw });
      }
      return out;
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
