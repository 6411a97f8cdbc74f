/**
 * One query to one server, returning the whole parsed message (`wire.ts`): every section,
 * RRSIGs included, RDATA as octets. For the checks that must see what a server really
 * serves — a parent's referral, each authoritative server's signatures — where
 * `queryServer` (answers only, typed) is not enough. UDP first, TCP when truncated
 * (RFC 7766 §5); the reply must answer our question (RFC 5452 §9.1).
 */
import { randomInt } from 'node:crypto';
import { formatServer, networkTransport, type DnsTransport } from './transport.ts';
import { DnsError, type DnsAnswer, type DnsServer, type RecordDataByType, type RRType } from './types.ts';
import { CLASS_IN, encodeQuery, FLAG, parseWireMessage, rcodeName, rdataOf, TYPE, typeName, wireName, type WireMessage } from './wire.ts';

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

const TYPE_NUMBERS: Readonly<Record<RRType, number>> = { A: TYPE.A, AAAA: TYPE.AAAA, TXT: TYPE.TXT, MX: TYPE.MX, PTR: TYPE.PTR, CNAME: TYPE.CNAME, NS: TYPE.NS, SOA: TYPE.SOA, TLSA: TYPE.TLSA, DS: TYPE.DS, DNSKEY: TYPE.DNSKEY };
export const typeNumber = (t: RRType): number => TYPE_NUMBERS[t];

function recordData<T extends RRType>(type: T, rdata: Buffer): RecordDataByType[T] {
  switch (type) {
    case 'A':
      return rdataOf.a(rdata) as RecordDataByType[T];
    case 'AAAA':
      return rdataOf.aaaa(rdata) as RecordDataByType[T];
    case 'NS':
    case 'CNAME':
    case 'PTR':
      return rdataOf.name(rdata) as RecordDataByType[T];
    case 'MX':
      return rdataOf.mx(rdata) as RecordDataByType[T];
    case 'TXT':
      return rdataOf.txt(rdata) as unknown as RecordDataByType[T];
    case 'SOA':
      return rdataOf.soa(rdata) as RecordDataByType[T];
    case 'TLSA':
      return rdataOf.tlsa(rdata) as RecordDataByType[T];
    default:
      return Buffer.from(rdata) as RecordDataByType[T];
  }
}

/**
 * The `DnsAnswer` a parsed reply gives for (name, type), as `interpretReply` would build
 * it: CNAMEs in the answer followed (RFC 1034 §4.3.2), negative TTL from the authority
 * SOA (RFC 2308 §5). Throws the rcode as a `DnsError` when it is not NOERROR/NXDOMAIN.
 */
export function toDnsAnswer<T extends RRType>(msg: WireMessage, server: string, name: string, type: T): DnsAnswer<T> {
  const qtype = TYPE_NUMBERS[type];
  const err = rcodeError(msg, server, name, qtype);
  if (err) throw err;
  const chain: string[] = [];
  let current = wireName(name);
  let minTtl = Number.POSITIVE_INFINITY;
  for (;;) {
    if (type === 'CNAME') break;
    const cur = current;
    if (msg.answer.some((a) => a.type === qtype && a.owner.canonical.equals(cur.canonical))) break;
    const cname = msg.answer.find((a) => a.type === TYPE.CNAME && a.owner.canonical.equals(cur.canonical));
    if (!cname) break;
    if (chain.length >= 16 || chain.includes(cur.text)) throw new DnsError('MALFORMED', `${server}: CNAME loop or chain longer than 16 at ${cur.text}`, { server, name });
    chain.push(cur.text);
    minTtl = Math.min(minTtl, cname.ttl);
    current = wireName(rdataOf.name(cname.rdata));
  }
  const cur = current;
  const matching = msg.answer.filter((a) => a.type === qtype && a.class === CLASS_IN && a.owner.canonical.equals(cur.canonical));
  for (const a of matching) minTtl = Math.min(minTtl, a.ttl);
  if (matching.length === 0) {
    const soa = msg.authority.find((a) => a.type === TYPE.SOA);
    minTtl = Math.min(minTtl, soa ? Math.min(soa.ttl, rdataOf.soa(soa.rdata).minimum) : 0);
  }
  return {
    name: wireName(name).text,
    type,
    rcode: msg.rcode === 3 ? 'NXDOMAIN' : 'NOERROR',
    records: matching.map((a) => recordData(type, a.rdata)),
    ttl: Number.isFinite(minTtl) ? minTtl : 0,
    authenticated: (msg.flags & FLAG.AD) !== 0,
    authoritative: (msg.flags & FLAG.AA) !== 0,
    cnameChain: chain,
    canonicalName: current.text,
  };
}
