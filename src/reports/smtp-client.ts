/**
 * A small SMTP client (RFC 5321) for handing one message to a local relay: EHLO (HELO
 * fallback), MAIL, RCPT, DATA with dot-stuffing, QUIT. No TLS or AUTH: it talks to the MTA
 * next door. Replies are bounded (a relay that sends an endless line is cut off).
 */
import { connect, type Socket } from 'node:net';
import { ReportError } from './errors.ts';
import type { MailTransport, OutgoingMessage } from './transport.ts';

const MAX_REPLY = 64 * 1024;

interface Reply {
  readonly code: number;
  readonly text: string;
}

/** Collects complete replies (multi-line `250-…` … `250 …`) from a socket. */
class ReplyReader {
  private buf = '';
  private waiting: ((r: Reply | Error) => void) | undefined;
  private readonly queue: (Reply | Error)[] = [];
  private lines: string[] = [];

  constructor(socket: Socket) {
    socket.on('data', (d: Buffer) => this.feed(d.toString('latin1')));
    socket.on('error', (e) => this.push(e));
    socket.on('close', () => this.push(new Error('connection closed by the server')));
  }

  private feed(text: string): void {
    this.buf += text;
    if (this.buf.length > MAX_REPLY) return this.push(new Error('reply too long'));
    let i: number;
    while ((i = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, i).replace(/\r$/, '');
      this.buf = this.buf.slice(i + 1);
      this.lines.push(line);
      const m = /^(\d{3})([ -]?)(.*)$/.exec(line);
      if (!m) return this.push(new Error(`malformed reply line ${JSON.stringify(line.slice(0, 100))}`));
      if (m[2] !== '-') {
        this.push({ code: Number(m[1]), text: this.lines.map((l) => l.slice(4)).join(' ') });
        this.lines = [];
      }
    }
  }

  private push(r: Reply | Error): void {
    const w = this.waiting;
    if (w) {
      this.waiting = undefined;
      w(r);
    } else this.queue.push(r);
  }

  next(): Promise<Reply> {
    const r = this.queue.shift();
    if (r) return r instanceof Error ? Promise.reject(r) : Promise.resolve(r);
    return new Promise((resolve, reject) => {
      this.waiting = (x) => (x instanceof Error ? reject(x) : resolve(x));
    });
  }
}

/** RFC 5321 §4.5.2: a line starting with "." gets another "."; ends with CRLF.CRLF. */
export function dotStuff(data: Buffer): Buffer {
  const text = data.toString('latin1').replace(/\r?\n/g, '\r\n');
  const stuffed = text.replace(/^\./gm, '..');
  return Buffer.from(`${stuffed}${stuffed.endsWith('\r\n') ? '' : '\r\n'}.\r\n`, 'latin1');
}

export function smtpTransport(opts: { host: string; port: number; helo: string; timeoutMs: number }): MailTransport {
  return {
    describe: `smtp ${opts.host}:${opts.port}`,
    async send(msg: OutgoingMessage): Promise<string> {
      let socket: Socket | undefined;
      let stage = 'connect';
      try {
        socket = connect({ host: opts.host, port: opts.port });
        socket.setTimeout(opts.timeoutMs, () => socket?.destroy(new Error(`timeout after ${opts.timeoutMs} ms`)));
        const reader = new ReplyReader(socket);
        const s = socket;
        const expect = async (ok: (code: number) => boolean): Promise<Reply> => {
          const r = await reader.next();
          if (!ok(r.code)) {
            const permanent = r.code >= 500 && (stage === 'RCPT TO' || stage === 'MAIL FROM' || stage === 'DATA end');
            throw new ReportError(permanent ? 'DELIVERY_PERMANENT' : 'DELIVERY_TEMPORARY', `${opts.host}:${opts.port} answered ${r.code} ${r.text} to ${stage}`, { code: r.code, stage });
          }
          return r;
        };
        const cmd = async (line: string, name: string, ok: (c: number) => boolean = (c) => c >= 200 && c < 300): Promise<Reply> => {
          stage = name;
          s.write(`${line}\r\n`);
          return expect(ok);
        };
        stage = 'greeting';
        await expect((c) => c === 220);
        stage = 'EHLO';
        s.write(`EHLO ${opts.helo}\r\n`);
        const ehlo = await reader.next();
        if (ehlo.code !== 250) await cmd(`HELO ${opts.helo}`, 'HELO');
        await cmd(`MAIL FROM:<${msg.from}>`, 'MAIL FROM');
        await cmd(`RCPT TO:<${msg.to}>`, 'RCPT TO');
        await cmd('DATA', 'DATA', (c) => c === 354);
        stage = 'DATA end';
        s.write(dotStuff(msg.data));
        const accepted = await expect((c) => c >= 200 && c < 300);
        // Accepted: QUIT is a courtesy; its failure does not undo the acceptance.
        s.write('QUIT\r\n');
        s.end();
        return `${accepted.code} ${accepted.text}`;
      } catch (err) {
        socket?.destroy();
        if (err instanceof ReportError) throw err;
        throw new ReportError('DELIVERY_TEMPORARY', `SMTP ${opts.host}:${opts.port} failed at ${stage}: ${(err as Error).message}`, { stage }, { cause: err });
      }
    },
  };
}
