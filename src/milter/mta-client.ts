/**
 * A small MTA-side milter client that speaks the protocol as Postfix does: negotiate,
 * macros before each stage, connect, HELO, MAIL, RCPT, DATA, headers, body chunks, end of
 * message. Used by component tests and the load generator; not part of the product path.
 */
import { createConnection, type Socket } from 'node:net';
import { FrameDecoder, cstrings, encodeFrame, uint32, type Frame } from './codec.ts';
import { SMFIC, SMFIF, SMFIP, SMFIR, MILTER_VERSION } from './constants.ts';
import type { ListenSpec } from '../config/schema.ts';
import { parseListenSpec } from '../config/schema.ts';

/** What Postfix 3.7 offers: every action and every protocol step. */
export const POSTFIX_OFFER = {
  version: MILTER_VERSION,
  actions: 0x1ff,
  protocol: 0x1fffff & ~SMFIP.SKIP,
} as const;

export type ClientReply =
  | { readonly kind: 'continue' | 'accept' | 'reject' | 'tempfail' | 'discard' | 'skip' }
  | { readonly kind: 'replycode'; readonly text: string };

export type ClientModification =
  | { readonly kind: 'add-header'; readonly name: string; readonly value: string }
  | { readonly kind: 'insert-header'; readonly index: number; readonly name: string; readonly value: string }
  | { readonly kind: 'change-header'; readonly index: number; readonly name: string; readonly value: string }
  | { readonly kind: 'quarantine'; readonly reason: string }
  | { readonly kind: 'other'; readonly command: number; readonly payload: Buffer };

export interface EomOutcome {
  readonly reply: ClientReply;
  readonly modifications: readonly ClientModification[];
  readonly progress: number;
}

export interface NegotiationResult {
  readonly version: number;
  readonly actions: number;
  readonly protocol: number;
  readonly macros: ReadonlyMap<number, string>;
}

export class MilterClientError extends Error {}

function decodeReply(f: Frame): ClientReply | undefined {
  switch (f.command) {
    case SMFIR.CONTINUE:
      return { kind: 'continue' };
    case SMFIR.ACCEPT:
      return { kind: 'accept' };
    case SMFIR.REJECT:
      return { kind: 'reject' };
    case SMFIR.TEMPFAIL:
      return { kind: 'tempfail' };
    case SMFIR.DISCARD:
      return { kind: 'discard' };
    case SMFIR.SKIP:
      return { kind: 'skip' };
    case SMFIR.REPLYCODE:
      return { kind: 'replycode', text: f.payload.subarray(0, -1).toString('latin1') };
    default:
      return undefined;
  }
}

function decodeModification(f: Frame): ClientModification {
  const strs = (b: Buffer): string[] => b.toString('latin1').replace(/\0$/, '').split('\0');
  switch (f.command) {
    case SMFIR.ADDHEADER: {
      const [name = '', value = ''] = strs(f.payload);
      return { kind: 'add-header', name, value };
    }
    case SMFIR.INSHEADER: {
      const [name = '', value = ''] = strs(f.payload.subarray(4));
      return { kind: 'insert-header', index: f.payload.readUInt32BE(0), name, value };
    }
    case SMFIR.CHGHEADER: {
      const [name = '', value = ''] = strs(f.payload.subarray(4));
      return { kind: 'change-header', index: f.payload.readUInt32BE(0), name, value };
    }
    case SMFIR.QUARANTINE:
      return { kind: 'quarantine', reason: strs(f.payload)[0] ?? '' };
    default:
      return { kind: 'other', command: f.command, payload: f.payload };
  }
}

export class MilterClient {
  readonly #socket: Socket;
  readonly #decoder = new FrameDecoder(64 * 1024 * 1024);
  readonly #frames: Frame[] = [];
  #waiter: ((f: Frame | Error) => void) | undefined;
  #ended: Error | undefined;
  negotiated: NegotiationResult | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      for (const f of this.#decoder.push(chunk)) this.#deliver(f);
    });
    const fail = (err: Error): void => {
      this.#ended ??= err;
      const w = this.#waiter;
      this.#waiter = undefined;
      w?.(err);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new MilterClientError('milter closed the connection')));
  }

  static connect(target: string | ListenSpec): Promise<MilterClient> {
    const spec = typeof target === 'string' ? parseListenSpec(target) : target;
    if (!spec) throw new MilterClientError(`bad milter address ${String(target)}`);
    return new Promise((resolve, reject) => {
      const socket = spec.kind === 'unix' ? createConnection({ path: spec.path }) : createConnection({ host: spec.host, port: spec.port });
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new MilterClient(socket));
      });
      socket.once('error', reject);
    });
  }

  #deliver(f: Frame): void {
    const w = this.#waiter;
    if (w) {
      this.#waiter = undefined;
      w(f);
    } else this.#frames.push(f);
  }

  /** The next frame from the milter. */
  next(): Promise<Frame> {
    const f = this.#frames.shift();
    if (f) return Promise.resolve(f);
    if (this.#ended) return Promise.reject(this.#ended);
    return new Promise((resolve, reject) => {
      this.#waiter = (x) => (x instanceof Error ? reject(x) : resolve(x));
    });
  }

  /** Raw bytes, for malformed-input tests. */
  writeRaw(bytes: Buffer): void {
    this.#socket.write(bytes);
  }

  send(command: number, payload?: Buffer): void {
    this.#socket.write(encodeFrame(command, payload));
  }

  /** Resolves when the milter closes the connection. */
  closed(): Promise<void> {
    if (this.#socket.destroyed || this.#socket.readableEnded) return Promise.resolve();
    return new Promise((resolve) => this.#socket.once('close', () => resolve()));
  }

  async negotiate(offer: { version: number; actions: number; protocol: number } = POSTFIX_OFFER): Promise<NegotiationResult> {
    this.send(SMFIC.OPTNEG, Buffer.concat([uint32(offer.version), uint32(offer.actions), uint32(offer.protocol)]));
    const f = await this.next();
    if (f.command !== SMFIC.OPTNEG) throw new MilterClientError(`expected OPTNEG reply, got 0x${f.command.toString(16)}`);
    const p = f.payload;
    const macros = new Map<number, string>();
    let off = 12;
    while (off + 4 < p.length) {
      const stage = p.readUInt32BE(off);
      const end = p.indexOf(0, off + 4);
      macros.set(stage, p.subarray(off + 4, end < 0 ? p.length : end).toString('latin1'));
      off = end < 0 ? p.length : end + 1;
    }
    this.negotiated = { version: p.readUInt32BE(0), actions: p.readUInt32BE(4), protocol: p.readUInt32BE(8), macros };
    return this.negotiated;
  }

  /** Sends SMFIC_MACRO for the stage (a SMFIC command byte) — no reply. */
  macros(stage: number, values: Readonly<Record<string, string>>): void {
    const entries = Object.entries(values).flatMap(([k, v]) => [k, v]);
    this.send(SMFIC.MACRO, Buffer.concat([Buffer.from([stage]), entries.length ? cstrings(...entries) : Buffer.alloc(0)]));
  }

  #noReply(bit: number): boolean {
    return ((this.negotiated?.protocol ?? 0) & bit) !== 0;
  }

  #skipped(bit: number): boolean {
    return ((this.negotiated?.protocol ?? 0) & bit) !== 0;
  }

  /** Sends a stage command and reads its reply unless it was negotiated away or no-reply. */
  async #stage(command: number, payload: Buffer, noBit: number, nrBit: number): Promise<ClientReply> {
    if (this.#skipped(noBit)) return { kind: 'continue' };
    this.send(command, payload);
    if (this.#noReply(nrBit)) return { kind: 'continue' };
    for (;;) {
      const f = await this.next();
      if (f.command === SMFIR.PROGRESS) continue;
      const r = decodeReply(f);
      if (!r) throw new MilterClientError(`unexpected frame 0x${f.command.toString(16)} as a stage reply`);
      return r;
    }
  }

  connectInfo(hostname: string, family: '4' | '6' | 'L' | 'U', port: number, address: string): Promise<ClientReply> {
    const payload = family === 'U'
      ? Buffer.concat([Buffer.from(`${hostname}\0`, 'latin1'), Buffer.from('U')])
      : Buffer.concat([Buffer.from(`${hostname}\0`, 'latin1'), Buffer.from(family), Buffer.from([port >> 8, port & 0xff]), Buffer.from(`${address}\0`, 'latin1')]);
    return this.#stage(SMFIC.CONNECT, payload, SMFIP.NOCONNECT, SMFIP.NR_CONN);
  }

  helo(name: string): Promise<ClientReply> {
    return this.#stage(SMFIC.HELO, cstrings(name), SMFIP.NOHELO, SMFIP.NR_HELO);
  }

  mailFrom(sender: string, ...args: string[]): Promise<ClientReply> {
    return this.#stage(SMFIC.MAIL, cstrings(`<${sender}>`, ...args), SMFIP.NOMAIL, SMFIP.NR_MAIL);
  }

  rcptTo(rcpt: string, ...args: string[]): Promise<ClientReply> {
    return this.#stage(SMFIC.RCPT, cstrings(`<${rcpt}>`, ...args), SMFIP.NORCPT, SMFIP.NR_RCPT);
  }

  data(): Promise<ClientReply> {
    return this.#stage(SMFIC.DATA, Buffer.alloc(0), SMFIP.NODATA, SMFIP.NR_DATA);
  }

  /** `value` as on the wire: with SMFIP_HDR_LEADSPC the leading space is part of it. */
  header(name: string, value: string): Promise<ClientReply> {
    const lead = (this.negotiated?.protocol ?? 0) & SMFIP.HDR_LEADSPC;
    const v = lead ? value : value.replace(/^ /, '');
    return this.#stage(SMFIC.HEADER, Buffer.concat([Buffer.from(`${name}\0`, 'latin1'), Buffer.from(`${v}\0`, 'latin1')]), SMFIP.NOHDRS, SMFIP.NR_HDR);
  }

  endOfHeaders(): Promise<ClientReply> {
    return this.#stage(SMFIC.EOH, Buffer.alloc(0), SMFIP.NOEOH, SMFIP.NR_EOH);
  }

  /** Body in chunks of at most 65535 bytes, as Postfix sends it. */
  async body(bytes: Buffer): Promise<ClientReply> {
    for (let i = 0; i < bytes.length; i += 65535) {
      const r = await this.#stage(SMFIC.BODY, bytes.subarray(i, i + 65535), SMFIP.NOBODY, SMFIP.NR_BODY);
      if (r.kind !== 'continue') return r;
    }
    return { kind: 'continue' };
  }

  async endOfMessage(): Promise<EomOutcome> {
    this.send(SMFIC.BODYEOB);
    const modifications: ClientModification[] = [];
    let progress = 0;
    for (;;) {
      const f = await this.next();
      if (f.command === SMFIR.PROGRESS) {
        progress++;
        continue;
      }
      const r = decodeReply(f);
      if (r) return { reply: r, modifications, progress };
      modifications.push(decodeModification(f));
    }
  }

  abort(): void {
    this.send(SMFIC.ABORT);
  }

  quit(): void {
    this.send(SMFIC.QUIT);
    this.#socket.end();
  }

  destroy(): void {
    this.#socket.destroy();
  }
}

export interface SimpleMessage {
  readonly client?: { readonly hostname: string; readonly address: string; readonly port?: number; readonly family?: '4' | '6' };
  readonly helo?: string;
  readonly from: string;
  readonly rcpts: readonly string[];
  /** Header name/value pairs; values as they follow the colon (leading space included). */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Buffer | string;
  readonly macros?: { readonly connect?: Record<string, string>; readonly mail?: Record<string, string>; readonly eom?: Record<string, string> };
}

/** One whole message over an already negotiated client, like Postfix's smtpd would send it. */
export async function sendMessage(c: MilterClient, m: SimpleMessage, opts: { skipConnect?: boolean } = {}): Promise<{ stopped?: ClientReply; eom?: EomOutcome }> {
  const stop = (r: ClientReply): boolean => r.kind !== 'continue';
  if (!opts.skipConnect) {
    const client = m.client ?? { hostname: 'localhost', address: '127.0.0.1' };
    c.macros(SMFIC.CONNECT, { j: 'mx.mailanchor.test', '{daemon_name}': 'smtpd', ...m.macros?.connect });
    let r = await c.connectInfo(client.hostname, client.family ?? (client.address.includes(':') ? '6' : '4'), client.port ?? 25, client.address);
    if (stop(r)) return { stopped: r };
    r = await c.helo(m.helo ?? 'client.mailanchor.test');
    if (stop(r)) return { stopped: r };
  }
  c.macros(SMFIC.MAIL, { i: 'ABC123', ...m.macros?.mail });
  let r = await c.mailFrom(m.from);
  if (stop(r)) return { stopped: r };
  for (const rcpt of m.rcpts) {
    r = await c.rcptTo(rcpt);
    if (stop(r)) return { stopped: r };
  }
  r = await c.data();
  if (stop(r)) return { stopped: r };
  for (const [name, value] of m.headers) {
    r = await c.header(name, value);
    if (stop(r)) return { stopped: r };
  }
  r = await c.endOfHeaders();
  if (stop(r)) return { stopped: r };
  r = await c.body(typeof m.body === 'string' ? Buffer.from(m.body, 'latin1') : m.body);
  if (stop(r)) return { stopped: r };
  c.macros(SMFIC.BODYEOB, { i: 'ABC123', ...m.macros?.eom });
  return { eom: await c.endOfMessage() };
}
