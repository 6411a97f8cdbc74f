/**
 * Moves one DNS message to one server and back: UDP (RFC 1035 §4.2.1) or TCP with the
 * two-byte length prefix (RFC 1035 §4.2.2, RFC 7766). It knows nothing of questions or
 * answers; `client.ts` decides what to send and how to read the reply.
 *
 * Anti-spoofing basics (RFC 5452): the UDP socket is connected to the server, so the
 * kernel drops datagrams from other addresses, and we re-check the source anyway; a
 * datagram with another id, without QR, or (with `accept`) for another question is ignored
 * (we keep waiting, as resolvers do), so a blind spoofer must guess the 16-bit random id
 * and our random source port — and even then cannot end the attempt early. Over TCP (our
 * own connection, one query) a reply that does not match is a broken server: MALFORMED.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, isIP, type Socket } from 'node:net';
import { lookup } from 'node:dns/promises';
import { DnsError, type DnsServer } from './types.ts';
import { peekHeader } from './message.ts';

/** The largest DNS message either transport can carry (TCP length prefix is 16 bits). */
export const MAX_MESSAGE_BYTES = 65535;

export interface ExchangeOptions {
  readonly tcp: boolean;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
  /** Replies longer than this are refused as MALFORMED before they are buffered further. */
  readonly maxResponseBytes?: number;
  /**
   * Whether a message with the right id is the reply to our question (RFC 5452 §9.1). Over
   * UDP one that is not is ignored and the exchange keeps waiting; over TCP it is MALFORMED.
   */
  readonly accept?: (reply: Buffer) => boolean;
}

/** Sends `request`, resolves with the first reply carrying the same id (and QR set). */
export type DnsTransport = (server: DnsServer, request: Buffer, options: ExchangeOptions) => Promise<Buffer>;

export function formatServer(server: DnsServer): string {
  return isIP(server.host) === 6 ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}

/** The real network transport. */
export const networkTransport: DnsTransport = async (server, request, options) => {
  const address = await serverAddress(server);
  if (options.signal?.aborted) throw new DnsError('ABORTED', `query to ${formatServer(server)} aborted`, { server: formatServer(server) }, { cause: options.signal.reason });
  return options.tcp ? exchangeTcp(address, request, options) : exchangeUdp(address, request, options);
};

/**
 * A server given by host name (a configured hidden primary, say) is turned into an
 * address with the system resolver (getaddrinfo: /etc/hosts, then DNS) — once per
 * exchange, so the answer's source address can be checked against it.
 */
async function serverAddress(server: DnsServer): Promise<DnsServer> {
  // IPv6 in canonical (compressed, lower-case) form, as the kernel reports reply sources.
  if (isIP(server.host) === 6 && !server.host.includes('%')) return { host: new URL(`http://[${server.host}]/`).hostname.slice(1, -1), port: server.port };
  if (isIP(server.host) !== 0) return server;
  try {
    const { address } = await lookup(server.host);
    return { host: address, port: server.port };
  } catch (err) {
    throw new DnsError('NETWORK', `cannot resolve DNS server name ${server.host}: ${(err as Error).message}`, { server: formatServer(server) }, { cause: err });
  }
}

interface Pending {
  finish(err: Error | undefined, value?: Buffer): void;
}

function guard(server: DnsServer, options: ExchangeOptions, cleanup: () => void, resolve: (b: Buffer) => void, reject: (e: Error) => void): Pending {
  let done = false;
  const where = { server: formatServer(server), transport: options.tcp ? 'tcp' : 'udp' };
  const timer = setTimeout(() => p.finish(new DnsError('TIMEOUT', `no reply from ${where.server} (${where.transport}) within ${options.timeoutMs} ms`, { ...where, timeoutMs: options.timeoutMs })), options.timeoutMs);
  const onAbort = () => p.finish(new DnsError('ABORTED', `query to ${where.server} aborted`, where, { cause: options.signal?.reason }));
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const p: Pending = {
    finish(err, value) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      cleanup();
      if (err) reject(err);
      else resolve(value!);
    },
  };
  if (options.signal?.aborted) onAbort();
  return p;
}

function exchangeUdp(server: DnsServer, request: Buffer, options: ExchangeOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const family = isIP(server.host);
    const socket: UdpSocket = createSocket(family === 6 ? 'udp6' : 'udp4');
    const p = guard(server, options, () => socket.close(), resolve, reject);
    const id = request.readUInt16BE(0);
    const max = Math.min(options.maxResponseBytes ?? MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES);
    socket.on('error', (err) => p.finish(new DnsError('NETWORK', `UDP error talking to ${formatServer(server)}: ${err.message}`, { server: formatServer(server) }, { cause: err })));
    socket.on('message', (msg, rinfo) => {
      if (rinfo.address !== server.host || rinfo.port !== server.port) return; // not from the server
      const h = peekHeader(msg);
      if (!h || h.id !== id || !h.isResponse) return; // not a reply to us: keep waiting
      if (msg.length > max) return p.finish(new DnsError('MALFORMED', `reply of ${msg.length} bytes exceeds ${max}`, { server: formatServer(server) }));
      if (options.accept && !options.accept(msg)) return; // our id, another question: a spoof or a stray; keep waiting
      p.finish(undefined, msg);
    });
    socket.connect(server.port, server.host, () => {
      socket.send(request, (err) => {
        if (err) p.finish(new DnsError('NETWORK', `cannot send to ${formatServer(server)}: ${err.message}`, { server: formatServer(server) }, { cause: err }));
      });
    });
  });
}

function exchangeTcp(server: DnsServer, request: Buffer, options: ExchangeOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host: server.host, port: server.port });
    const p = guard(server, options, () => socket.destroy(), resolve, reject);
    const max = Math.min(options.maxResponseBytes ?? MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES);
    const id = request.readUInt16BE(0);
    let buffered = Buffer.alloc(0);
    let received = 0;
    socket.on('error', (err) => p.finish(new DnsError('NETWORK', `TCP error talking to ${formatServer(server)}: ${err.message}`, { server: formatServer(server) }, { cause: err })));
    socket.on('close', () => p.finish(new DnsError('NETWORK', `${formatServer(server)} closed the TCP connection before a full reply`, { server: formatServer(server), received })));
    socket.on('data', (chunk) => {
      received += chunk.length;
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      if (buffered.length < 2) return;
      const expected = buffered.readUInt16BE(0);
      // Check the announced size before buffering the rest of it.
      if (expected > max) return p.finish(new DnsError('MALFORMED', `reply of ${expected} bytes exceeds ${max}`, { server: formatServer(server) }));
      if (buffered.length < 2 + expected) return;
      const msg = buffered.subarray(2, 2 + expected);
      // Over TCP nobody can inject a message blind: on our own connection, where we sent one
      // query, a reply to anything else means a broken server, and waiting will not help.
      const h = peekHeader(msg);
      if (!h || h.id !== id || !h.isResponse || (options.accept && !options.accept(msg))) {
        return p.finish(new DnsError('MALFORMED', `TCP reply from ${formatServer(server)} does not match the query (id or question)`, { server: formatServer(server) }));
      }
      p.finish(undefined, msg);
    });
    const framed = Buffer.alloc(2 + request.length);
    framed.writeUInt16BE(request.length, 0);
    request.copy(framed, 2);
    socket.write(framed);
  });
}
