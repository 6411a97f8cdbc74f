/**
 * Drives a chain of milters as Postfix does (MILTER_README; milter8.c, cleanup_milter.c):
 * smtpd sends connect/helo/mail/rcpt/data to every milter in order; cleanup then sends the
 * content (headers, end of headers, body, end of message) to one milter after the other,
 * applying each one's header edits before the next sees the message — which is how OpenDMARC
 * reads the Authentication-Results header that OpenDKIM added.
 *
 * Lean by design (it shares two cores with the milter under test): frames for the message
 * body are slices of the corpus buffer, written with one cork per stage. Protocol facts: see
 * /work/shared/notes/milter-protocol.md. Written for the benchmark because the milter
 * engineer's `bench/loadgen.ts` (one milter, not a chain) was not there when this was needed.
 */
import { connect, type Socket } from 'node:net';
import type { BenchMessage } from './corpus.ts';

/** Protocol flags (SMFIP_*) and commands, libmilter names. */
const P = {
  NOCONNECT: 0x1, NOHELO: 0x2, NOMAIL: 0x4, NORCPT: 0x8, NOBODY: 0x10, NOHDRS: 0x20, NOEOH: 0x40,
  NR_HDR: 0x80, NODATA: 0x200, SKIP: 0x400, NR_CONN: 0x1000, NR_HELO: 0x2000, NR_MAIL: 0x4000,
  NR_RCPT: 0x8000, NR_DATA: 0x10000, NR_EOH: 0x40000, NR_BODY: 0x80000, HDR_LEADSPC: 0x100000,
} as const;
/** What we offer, as Postfix 3.7 does: all actions, all protocol steps and no-reply bits. */
const OFFER_ACTIONS = 0x1ff;
const OFFER_PROTOCOL = 0x1fffff;
const MAX_CHUNK = 65535;

export interface MilterEndpoint {
  readonly host: string;
  readonly port: number;
}

/** One milter frame: length, command letter, payload (MTA → milter). */
export function frame(cmd: string, ...parts: (Buffer | string)[]): Buffer {
  const bufs = parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p));
  const len = bufs.reduce((a, b) => a + b.length, 1);
  const head = Buffer.allocUnsafe(5);
  head.writeUInt32BE(len, 0);
  head[4] = cmd.charCodeAt(0);
  return Buffer.concat([head, ...bufs]);
}

/** A NUL-terminated string, as milter payloads carry them. */
export const z = (s: string): Buffer => Buffer.from(`${s}\0`, 'utf8');

/** An SMFIC_MACRO frame for `stage`. */
export function macros(stage: string, m: Record<string, string>): Buffer {
  const parts: Buffer[] = [Buffer.from(stage)];
  for (const [k, v] of Object.entries(m)) parts.push(z(k), z(v));
  return frame('D', ...parts);
}

interface Reply {
  readonly cmd: string;
  readonly data: Buffer;
}

/** One milter connection: frame reader with a queue of waiting readers. */
class MilterConn {
  readonly socket: Socket;
  private buf: Buffer = Buffer.alloc(0);
  private readonly replies: Reply[] = [];
  private waiter: ((r: Reply) => void) | undefined;
  private failure: Error | undefined;
  private failWaiter: ((e: Error) => void) | undefined;
  protocol = 0;

  constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => this.fail(new Error('milter closed the connection')));
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    const fw = this.failWaiter;
    this.waiter = undefined;
    this.failWaiter = undefined;
    fw?.(e);
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    while (this.buf.length >= 5) {
      const len = this.buf.readUInt32BE(0);
      if (this.buf.length < 4 + len) break;
      const r: Reply = { cmd: String.fromCharCode(this.buf[4]!), data: this.buf.subarray(5, 4 + len) };
      this.buf = this.buf.subarray(4 + len);
      const w = this.waiter;
      if (w) {
        this.waiter = undefined;
        this.failWaiter = undefined;
        w(r);
      } else this.replies.push(r);
    }
  }

  next(): Promise<Reply> {
    const r = this.replies.shift();
    if (r) return Promise.resolve(r);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.failWaiter = reject;
    });
  }

  /** Waits for the stage's final reply, skipping progress frames. */
  async reply(): Promise<Reply> {
    for (;;) {
      const r = await this.next();
      if (r.cmd !== 'p') return r;
    }
  }

  close(): void {
    this.socket.end(frame('Q'));
  }
}

async function open(ep: MilterEndpoint): Promise<MilterConn> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect(ep.port, ep.host);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
  const c = new MilterConn(socket);
  const o = Buffer.allocUnsafe(12);
  o.writeUInt32BE(6, 0);
  o.writeUInt32BE(OFFER_ACTIONS, 4);
  o.writeUInt32BE(OFFER_PROTOCOL, 8);
  socket.write(frame('O', o));
  const r = await c.next();
  if (r.cmd !== 'O' || r.data.length < 12) throw new Error(`negotiation failed: ${r.cmd}`);
  c.protocol = r.data.readUInt32BE(8);
  return c;
}

/** Final stage replies that end the message (the MTA stops talking to the chain about it). */
const FINAL_STOP = new Set(['r', 't', 'd', 'y', 'a']);

export interface MessageOutcome {
  /** The final reply of the last milter consulted: 'c' continue/accept, 'r' reject, … */
  readonly verdict: string;
  /** Headers added or inserted by the chain (name: value), for checking the peers did the work. */
  readonly added: readonly string[];
}

interface Header {
  name: string;
  value: string; // with the leading space and folding CRLFs, as in the message
}

/** Splits the message into headers (name, raw value) and the body slice. */
export function splitMessage(m: BenchMessage): { headers: Header[]; body: Buffer } {
  const text = m.raw.subarray(0, m.bodyOffset - 2).toString('utf8');
  const headers: Header[] = [];
  for (const line of text.split(/\r\n(?![ \t])/)) {
    if (!line) continue;
    const i = line.indexOf(':');
    headers.push({ name: line.slice(0, i), value: line.slice(i + 1) });
  }
  return { headers, body: m.raw.subarray(m.bodyOffset) };
}

let queueSeq = 0;

/**
 * Sends one message through the chain on fresh milter connections (one SMTP session, one
 * message, as an MX mostly sees it) and returns the outcome.
 */
export async function sendThroughChain(chain: readonly MilterEndpoint[], m: BenchMessage, prepared = splitMessage(m)): Promise<MessageOutcome> {
  const conns = await Promise.all(chain.map(open));
  try {
    const qid = `B${(++queueSeq).toString(16).toUpperCase().padStart(9, '0')}`;
    const family = m.clientAddress.includes(':') ? '6' : '4';
    const port = Buffer.alloc(2);
    port.writeUInt16BE(40000 + (queueSeq % 20000));
    const stages: [number, number, () => Buffer[]][] = [
      [P.NOCONNECT, P.NR_CONN, () => [macros('C', { j: 'mx.mailanchor.example', '{daemon_name}': 'smtpd', '{daemon_addr}': '127.0.0.1', v: 'Postfix 3.7', _: `${m.clientHostname} [${m.clientAddress}]`, '{client_addr}': m.clientAddress, '{client_name}': m.clientHostname, '{client_ptr}': m.clientHostname }), frame('C', z(m.clientHostname), family, port, z(m.clientAddress))]],
      [P.NOHELO, P.NR_HELO, () => [frame('H', z(m.helo))]],
      [P.NOMAIL, P.NR_MAIL, () => [macros('M', { i: qid, '{mail_addr}': m.mailFrom, '{mail_mailer}': 'smtp', ...m.macros }), frame('M', z(`<${m.mailFrom}>`))]],
    ];
    for (const r of m.rcptTo) stages.push([P.NORCPT, P.NR_RCPT, () => [macros('R', { i: qid, '{rcpt_addr}': r, '{rcpt_mailer}': 'local' }), frame('R', z(`<${r}>`))]]);
    stages.push([P.NODATA, P.NR_DATA, () => [macros('T', { i: qid }), frame('T')]]);
    // smtpd: envelope stages to every milter in order.
    const stopped = new Set<number>();
    for (const [off, nr, build] of stages) {
      for (let k = 0; k < conns.length; k++) {
        const c = conns[k]!;
        if (stopped.has(k) || c.protocol & off) continue;
        c.socket.write(Buffer.concat(build()));
        if (c.protocol & nr) continue;
        const r = await c.reply();
        if (r.cmd === 'a') stopped.add(k);
        else if (FINAL_STOP.has(r.cmd)) return { verdict: r.cmd, added: [] };
      }
    }
    // cleanup: content to each milter in turn, edits applied between them.
    const headers = prepared.headers.slice();
    const added: string[] = [];
    let verdict = 'c';
    for (let k = 0; k < conns.length; k++) {
      if (stopped.has(k)) continue;
      const c = conns[k]!;
      // One header per frame, waiting for each reply as Postfix does (milter8.c) unless the
      // milter asked for no reply (SMFIP_NR_HDR). Pipelining them instead would make libmilter
      // write several small replies back to back and stall on Nagle + delayed ACK.
      const noHdrReply = (c.protocol & P.NR_HDR) !== 0;
      if (!(c.protocol & P.NOHDRS)) {
        const leadspc = (c.protocol & P.HDR_LEADSPC) !== 0;
        const pending: Buffer[] = [];
        for (const h of headers) {
          const f = frame('L', z(h.name), z(leadspc || !h.value.startsWith(' ') ? h.value : h.value.slice(1)));
          if (noHdrReply) {
            pending.push(f);
            continue;
          }
          c.socket.write(f);
          const r = await c.reply();
          if (FINAL_STOP.has(r.cmd)) {
            verdict = r.cmd;
            break;
          }
        }
        if (pending.length) c.socket.write(Buffer.concat(pending));
      }
      if (verdict === 'c' && !(c.protocol & P.NOEOH)) {
        c.socket.write(Buffer.concat([macros('N', { i: qid }), frame('N')]));
        if (!(c.protocol & P.NR_EOH)) {
          const r = await c.reply();
          if (FINAL_STOP.has(r.cmd)) verdict = r.cmd;
        }
      }
      if (verdict !== 'c') return { verdict, added };
      if (!(c.protocol & P.NOBODY)) {
        const body = prepared.body;
        for (let off = 0; off < body.length; off += MAX_CHUNK) {
          const chunk = body.subarray(off, Math.min(body.length, off + MAX_CHUNK));
          const head = Buffer.allocUnsafe(5);
          head.writeUInt32BE(chunk.length + 1, 0);
          head[4] = 0x42; // 'B'
          c.socket.cork();
          c.socket.write(head);
          c.socket.write(chunk);
          c.socket.uncork();
          if (!(c.protocol & P.NR_BODY)) {
            const r = await c.reply();
            if (r.cmd === 's') break; // SMFIR_SKIP
            if (FINAL_STOP.has(r.cmd)) return { verdict: r.cmd, added };
          }
        }
      }
      c.socket.write(Buffer.concat([macros('E', { i: qid }), frame('E')]));
      for (;;) {
        const r = await c.next();
        if (r.cmd === 'p') continue;
        if (r.cmd === 'h' || r.cmd === 'i' || r.cmd === 'm') {
          let d = r.data;
          let index = 0;
          if (r.cmd !== 'h') {
            index = d.readUInt32BE(0);
            d = d.subarray(4);
          }
          const nul = d.indexOf(0);
          const name = d.subarray(0, nul).toString('utf8');
          let value = d.subarray(nul + 1, d.indexOf(0, nul + 1)).toString('utf8');
          if (!(c.protocol & P.HDR_LEADSPC)) value = ` ${value}`;
          if (r.cmd === 'h') headers.push({ name, value });
          else if (r.cmd === 'i') headers.splice(Math.min(index, headers.length), 0, { name, value });
          else {
            let seen = 0;
            const at = headers.findIndex((h) => h.name.toLowerCase() === name.toLowerCase() && ++seen === index);
            if (at >= 0) {
              if (value.trim() === '') headers.splice(at, 1);
              else headers[at] = { name, value };
            }
          }
          if (r.cmd !== 'm') added.push(`${name}:${value}`);
          continue;
        }
        if (r.cmd === 'c' || r.cmd === 'a') break;
        if (FINAL_STOP.has(r.cmd)) return { verdict: r.cmd, added };
        // other modifications (body, recipients, quarantine): accepted and ignored
      }
    }
    return { verdict, added };
  } finally {
    for (const c of conns) c.close();
  }
}

/**
 * Opens one SMTP session's milter connections and runs the envelope stages (connect, helo,
 * mail from), then leaves them open: an idle session as a slow client holds it. The returned
 * function closes it.
 */
export async function holdSession(chain: readonly MilterEndpoint[], m: BenchMessage): Promise<() => void> {
  const conns = await Promise.all(chain.map(open));
  const port = Buffer.alloc(2);
  port.writeUInt16BE(40000 + (++queueSeq % 20000));
  const qid = `I${queueSeq.toString(16).toUpperCase().padStart(9, '0')}`;
  for (const c of conns) {
    const steps: [number, number, Buffer][] = [
      [P.NOCONNECT, P.NR_CONN, Buffer.concat([macros('C', { j: 'mx.mailanchor.example', _: `${m.clientHostname} [${m.clientAddress}]` }), frame('C', z(m.clientHostname), '4', port, z(m.clientAddress))])],
      [P.NOHELO, P.NR_HELO, frame('H', z(m.helo))],
      [P.NOMAIL, P.NR_MAIL, Buffer.concat([macros('M', { i: qid, ...m.macros }), frame('M', z(`<${m.mailFrom}>`))])],
    ];
    for (const [off, nr, buf] of steps) {
      if (c.protocol & off) continue;
      c.socket.write(buf);
      if (!(c.protocol & nr)) await c.reply();
    }
  }
  return () => {
    for (const c of conns) c.close();
  };
}
