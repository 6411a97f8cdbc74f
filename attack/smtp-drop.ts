/**
 * A small SMTP client that behaves as issue 16's trigger did: EHLO, XCLIENT (so Postfix
 * presents a chosen client address to its milters), MAIL, RCPT, DATA, part of the message,
 * then — `dropAfterDataMs` into DATA — the connection is dropped without QUIT. Postfix then
 * aborts the transaction at its milters while their per-message work is still running.
 * Without `dropAfterDataMs` it sends the whole message and QUIT (a good message).
 *
 *   node attack/smtp-drop.ts --port 2525 --from a@crash.test --to b@anchor.test --client 192.0.2.77 --drop-ms 500
 */
import { connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';

export interface SmtpDropOptions {
  readonly host?: string;
  readonly port: number;
  readonly helo?: string;
  /** XCLIENT ADDR/NAME: needs smtpd_authorized_xclient_hosts for our address. */
  readonly client?: { readonly addr: string; readonly name?: string };
  readonly from: string;
  readonly to: string;
  /** The message (headers and body, CRLF); dot-stuffing is done here. */
  readonly message: string;
  /** Drop the connection this long after DATA's 354; undefined = finish normally. */
  readonly dropAfterDataMs?: number;
  readonly timeoutMs?: number;
}

export interface SmtpDropResult {
  /** Every reply, one string per (possibly multi-line) reply. */
  readonly replies: string[];
  readonly dropped: boolean;
  /** The reply to the end of DATA when the message was finished. */
  readonly final?: string;
}

class Conversation {
  readonly #socket: Socket;
  #buf = '';
  #waiting: ((reply: string) => void) | undefined;
  #lines: string[] = [];
  readonly replies: string[] = [];
  /** Replies handed out by next() so far. */
  #consumed = 0;
  #closed: Error | undefined;

  constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.#buf += d;
      let i: number;
      while ((i = this.#buf.indexOf('\n')) >= 0) {
        const line = this.#buf.slice(0, i).replace(/\r$/, '');
        this.#buf = this.#buf.slice(i + 1);
        this.#lines.push(line);
        if (/^\d{3} /.test(line) || /^\d{3}$/.test(line)) {
          const reply = this.#lines.join('\n');
          this.#lines = [];
          this.replies.push(reply);
          const w = this.#waiting;
          this.#waiting = undefined;
          w?.(reply);
        }
      }
    });
    const fail = (err: Error): void => {
      this.#closed ??= err;
      const w = this.#waiting;
      this.#waiting = undefined;
      w?.(`closed: ${err.message}`);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  next(): Promise<string> {
    const queued = this.replies.length > this.#consumed ? this.replies[this.#consumed] : undefined;
    if (queued !== undefined) {
      this.#consumed++;
      return Promise.resolve(queued);
    }
    if (this.#closed) return Promise.resolve(`closed: ${this.#closed.message}`);
    return new Promise((resolve) => {
      this.#waiting = (r) => {
        this.#consumed++;
        resolve(r);
      };
    });
  }
  async command(line: string, expect: RegExp): Promise<string> {
    this.#socket.write(`${line}\r\n`);
    const r = await this.next();
    if (!expect.test(r)) throw new Error(`SMTP ${line.split(' ')[0]}: ${r}`);
    return r;
  }

  write(text: string): void {
    this.#socket.write(text, 'latin1');
  }

  destroy(): void {
    this.#socket.destroy();
  }
}

export async function smtpDrop(o: SmtpDropOptions): Promise<SmtpDropResult> {
  const socket = connect({ host: o.host ?? '127.0.0.1', port: o.port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  const c = new Conversation(socket);
  const timer = setTimeout(() => c.destroy(), o.timeoutMs ?? 30_000);
  try {
    const greeting = await c.next();
    if (!/^220/.test(greeting)) throw new Error(`SMTP greeting: ${greeting}`);
    const helo = o.helo ?? 'client.test';
    await c.command(`EHLO ${helo}`, /^250/);
    if (o.client) {
      // Postfix answers XCLIENT with a new greeting; EHLO again after it.
      await c.command(`XCLIENT ADDR=${o.client.addr} NAME=${o.client.name ?? '[UNAVAILABLE]'} HELO=${helo}`, /^220/);
      await c.command(`EHLO ${helo}`, /^250/);
    }
    await c.command(`MAIL FROM:<${o.from}>`, /^250/);
    await c.command(`RCPT TO:<${o.to}>`, /^250/);
    await c.command('DATA', /^354/);
    const body = o.message.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
    if (o.dropAfterDataMs !== undefined) {
      c.write(body.slice(0, Math.floor(body.length / 2)));
      await new Promise((r) => setTimeout(r, o.dropAfterDataMs));
      c.destroy();
      return { replies: c.replies, dropped: true };
    }
    c.write(`${body}${body.endsWith('\r\n') ? '' : '\r\n'}.\r\n`);
    const final = await c.next();
    await c.command('QUIT', /^221|^closed/).catch(() => undefined);
    return { replies: c.replies, dropped: false, final };
  } finally {
    clearTimeout(timer);
    c.destroy();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '25' }, host: { type: 'string', default: '127.0.0.1' }, from: { type: 'string' }, to: { type: 'string' }, client: { type: 'string' }, 'drop-ms': { type: 'string' } },
  });
  if (!values.from || !values.to) throw new Error('--from and --to are needed');
  const from = values.from;
  const r = await smtpDrop({
    host: values.host,
    port: Number(values.port),
    from,
    to: values.to,
    ...(values.client ? { client: { addr: values.client } } : {}),
    message: `From: <${from}>\r\nTo: <${values.to}>\r\nSubject: smtp-drop\r\n\r\nHello.\r\n`,
    ...(values['drop-ms'] ? { dropAfterDataMs: Number(values['drop-ms']) } : {}),
  });
  console.log(r.replies.join('\n'));
  console.log(r.dropped ? '(connection dropped during DATA)' : `final: ${r.final}`);
}

if (import.meta.main) await main();
