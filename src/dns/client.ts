/**
 * One query to one server: UDP first, TCP when the reply is truncated (TC, RFC 7766 §5)
 * or when asked for TCP only. No cache, no retries, no server rotation — the resolver
 * (`resolver.ts`) and the authoritative checks (`authoritative.ts`) build on this.
 */
import { randomInt } from 'node:crypto';
import { buildQuery, interpretReply, matchesQuery, type QuerySpec } from './message.ts';
import { formatServer, networkTransport, type DnsTransport } from './transport.ts';
import { DnsError, type DnsAnswer, type DnsServer, type RRType } from './types.ts';

export interface QueryServerOptions {
  /** RD bit; set `false` to query an authoritative server directly. Default true. */
  readonly recursionDesired?: boolean;
  /** DO bit via EDNS0 (RFC 3225), so a validating resolver reports AD. Default false. */
  readonly dnssec?: boolean;
  /** CD bit (RFC 4035 §3.2.2): the resolver skips validation. Default false. */
  readonly checkingDisabled?: boolean;
  /**
   * For the whole query: the TCP retry after a truncated UDP reply gets what is left of it,
   * not a fresh timeout, so one query never takes longer than this. Default 5000 ms.
   */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal | undefined;
  /** Skip UDP and ask over TCP straight away. Default false. */
  readonly tcpOnly?: boolean;
  /** Replies larger than this are refused as MALFORMED. Default 65535. */
  readonly maxResponseBytes?: number;
  /** The wire; tests pass a fake. Default: real UDP/TCP sockets. */
  readonly transport?: DnsTransport;
  /** Query id source; tests pin it. Default: crypto-random 16 bits (RFC 5452 §4.3). */
  readonly randomId?: () => number;
  /** Clock in ms for the overall deadline; tests inject one. Default `performance.now`. */
  readonly now?: () => number;
}

export const DEFAULT_TIMEOUT_MS = 5000;

export async function queryServer<T extends RRType>(server: DnsServer, name: string, type: T, options: QueryServerOptions = {}): Promise<DnsAnswer<T>> {
  const transport = options.transport ?? networkTransport;
  const spec: QuerySpec & { type: T } = {
    id: (options.randomId ?? (() => randomInt(0, 65536)))(),
    name,
    type,
    recursionDesired: options.recursionDesired ?? true,
    dnssec: options.dnssec ?? false,
    ...(options.checkingDisabled ? { checkingDisabled: true } : {}),
  };
  const request = buildQuery(spec);
  const now = options.now ?? (() => performance.now());
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const deadline = now() + timeoutMs;
  const exchange = {
    signal: options.signal,
    // Replies for another question are not ours: the transport keeps waiting (RFC 5452 §9.1).
    accept: (reply: Buffer) => matchesQuery(spec, reply),
    ...(options.maxResponseBytes === undefined ? {} : { maxResponseBytes: options.maxResponseBytes }),
  };
  let reply = await transport(server, request, { ...exchange, timeoutMs, tcp: options.tcpOnly ?? false });
  if (!options.tcpOnly && (reply.readUInt16BE(2) & (1 << 9)) !== 0) {
    // RFC 7766 §5: truncated over UDP → ask again over TCP, within the same deadline.
    const left = Math.floor(deadline - now());
    if (left <= 0) {
      throw new DnsError('TIMEOUT', `no time left for the TCP retry to ${formatServer(server)} after a truncated reply (${timeoutMs} ms in all)`, { server: formatServer(server), name, type, timeoutMs });
    }
    reply = await transport(server, request, { ...exchange, timeoutMs: left, tcp: true });
  }
  return interpretReply(spec, reply, formatServer(server));
}
