/**
 * One query to one server, returning the whole parsed message (`wire.ts`): every section,
 * RRSIGs included, RDATA as octets. For the checks that must see what a server really
 * serves — a parent's referral, each authoritative server's signatures — where
 * `queryServer` (answers only, typed) is not enough. UDP first, TCP when truncated
 * (RFC 7766 §5); the reply must answer our question (RFC 5452 §9.1).
 */
import { randomInt } from 'node:crypto';
import { formatServer, networkTransport, type DnsTransport } from './transport.ts';
import { DnsError, type DnsServer } from './types.ts';
import { encodeQuery, FLAG, parseWireMessage, rcodeName, typeName, wireName, type WireMessage } from './wire.ts';

export interface WireQueryOptions {
  readonly recursionDesired?: boolean;
  readonly dnssec?: boolean;
  readonly checkingDisabled?: boolean;
  /** Per exchange. Default 3000 ms. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal | undefined;
  readonly tcpOnly?: boolean;
  readonly maxResponseBytes?: number;
  readonly transport?: DnsTransport;
  readonly randomId?: () => number;
}

/**
 * Sends the query; resolves with the parsed reply whatever its rcode (REFUSED, NXDOMAIN …
 * are for the caller to judge). Throws `DnsError` for no reply (TIMEOUT, NETWORK, ABORTED)
 * and for a reply that is not ours or does not parse (MALFORMED).
 */
export async function queryWire(server: DnsServer, name: string, type: number, options: WireQueryOptions = {}): Promise<WireMessage> {
  const transport = options.transport ?? networkTransport;
  const id = (options.randomId ?? (() => randomInt(0, 65536)))();
  const request = encodeQuery({ id, name, type, recursionDesired: options.recursionDesired ?? false, checkingDisabled: options.checkingDisabled ?? false, dnssec: options.dnssec ?? false });
  const exchange = { timeoutMs: options.timeoutMs ?? 3000, signal: options.signal, ...(options.maxResponseBytes === undefined ? {} : { maxResponseBytes: options.maxResponseBytes }) };
  const where = formatServer(server);
  let raw = await transport(server, request, { ...exchange, tcp: options.tcpOnly ?? false });
  if (!options.tcpOnly && raw.length >= 4 && (raw.readUInt16BE(2) & FLAG.TC) !== 0) raw = await transport(server, request, { ...exchange, tcp: true });
  let msg: WireMessage;
  try {
    msg = parseWireMessage(raw);
  } catch (err) {
    throw new DnsError('MALFORMED', `${where}: ${(err as Error).message} (${name} ${typeName(type)})`, { server: where, name, type: typeName(type) }, { cause: err });
  }
  const q = msg.questions[0];
  const asked = wireName(name);
  if (msg.id !== id || (msg.flags & FLAG.QR) === 0 || msg.questions.length !== 1 || !q || !q.name.canonical.equals(asked.canonical) || q.type !== type) {
    throw new DnsError('MALFORMED', `${where}: the reply does not answer ${name} ${typeName(type)}`, { server: where, name, type: typeName(type) });
  }
  if ((msg.flags & FLAG.TC) !== 0) throw new DnsError('MALFORMED', `${where}: reply truncated even over TCP`, { server: where, name, type: typeName(type) });
  return msg;
}

/** The rcode as a `DnsError` code when it means "no usable answer" (SERVFAIL, REFUSED …); undefined for NOERROR/NXDOMAIN. */
export function rcodeError(msg: WireMessage, server: string, name: string, type: number): DnsError | undefined {
  if (msg.rcode === 0 || msg.rcode === 3) return undefined;
  const label = rcodeName(msg.rcode);
  const code = label === 'SERVFAIL' || label === 'REFUSED' || label === 'FORMERR' || label === 'NOTIMP' || label === 'NOTAUTH' ? label : 'OTHER';
  return new DnsError(code, `${server} answered ${label} for ${name} ${typeName(type)}`, { server, name, type: typeName(type), rcode: label });
}
