/**
 * Handing a report message to the local MTA. A transport resolves when the MTA has taken
 * responsibility for the message and rejects with `ReportError` DELIVERY_TEMPORARY
 * (try again next run) or DELIVERY_PERMANENT (refused: counts as a bounce).
 */
import { spawn } from 'node:child_process';
import { ReportError } from './errors.ts';

export interface OutgoingMessage {
  readonly from: string;
  readonly to: string;
  readonly data: Buffer;
}

export interface MailTransport {
  readonly describe: string;
  /** Resolves with the MTA's acceptance text (queue id line). */
  send(msg: OutgoingMessage): Promise<string>;
}

/** sysexits.h codes a sendmail program returns that mean "try again later". */
const SENDMAIL_TEMPORARY = new Set([69 /* EX_UNAVAILABLE */, 70 /* EX_SOFTWARE */, 71 /* EX_OSERR */, 74 /* EX_IOERR */, 75 /* EX_TEMPFAIL */]);

/**
 * A sendmail-compatible program: `PATH ARGS… -i -f FROM -- TO`, message on stdin. Exit 0 is
 * acceptance (Postfix's sendmail has then written the message to the maildrop queue).
 */
export function sendmailTransport(path: string, args: readonly string[] = [], timeoutMs = 120_000): MailTransport {
  return {
    describe: `sendmail ${[path, ...args].join(' ')}`,
    send: (msg) =>
      new Promise((resolve, reject) => {
        const child = spawn(path, [...args, '-i', '-f', msg.from, '--', msg.to], { stdio: ['pipe', 'ignore', 'pipe'] });
        let stderr = '';
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        child.stderr.on('data', (d: Buffer) => {
          if (stderr.length < 4000) stderr += d.toString('utf8');
        });
        child.stdin.on('error', () => {}); // EPIPE when the program dies early: the exit code tells
        child.on('error', (err) => {
          clearTimeout(timer);
          reject(new ReportError('DELIVERY_TEMPORARY', `cannot run ${path}: ${err.message}`, { path }, { cause: err }));
        });
        child.on('close', (code, signal) => {
          clearTimeout(timer);
          if (code === 0) return resolve(`accepted by ${path}`);
          const why = `${path} exited with ${signal ?? code}${stderr ? `: ${stderr.trim().split('\n').slice(-1)[0]}` : ''}`;
          const temporary = signal !== null || code === null || SENDMAIL_TEMPORARY.has(code);
          reject(new ReportError(temporary ? 'DELIVERY_TEMPORARY' : 'DELIVERY_PERMANENT', why, { path, code }));
        });
        child.stdin.end(msg.data);
      }),
  };
}
