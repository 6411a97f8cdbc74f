/**
 * The pure half of a DNS query: build the request bytes, and turn the reply bytes into a
 * `DnsAnswer` (or a `DnsError`). No sockets, timers or logs here, so it is tested with
 * hand-made packets (test/dns/message.test.ts).
 *
 * The wire format comes from `dns-packet`; we only add what it leaves to the caller:
 * name validation, reply validation (id, QR, question — the anti-spoofing basics of
 * RFC 5452 §9), CNAME chain following within the answer (RFC 1034 §4.3.2), negative TTLs
 * from the SOA in the authority section (RFC 2308 §5) and the rcode → error mapping.
 */
import * as dnsPacket from 'dns-packet';
import { DnsError, type DnsAnswer, type DnsErrorCode, type RecordDataByType, type RRType } from './types.ts';

/** Types the answer interpreter understands; also every type `DnsLookup` may ask for. */
export const RR_TYPES = ['A', 'AAAA', 'TXT', 'MX', 'PTR', 'CNAME', 'NS', 'SOA', 'TLSA', 'DS', 'DNSKEY'] as const satisfies readonly RRType[];

/** EDNS0 UDP payload size we advertise: the DNS Flag Day 2020 value, avoids IP fragmentation. */
export const EDNS_UDP_PAYLOAD = 1232;
/** A CNAME chain longer than this within one answer is treated as a loop (BIND uses 16 too). */
export const MAX_CNAME_CHAIN = 16;

export const FLAGS = {
  QR: 1 << 15,
  AA: 1 << 10, // authoritative answer
  TC: 1 << 9, // truncated: retry over TCP (RFC 7766)
  RD: 1 << 8,
  RA: 1 << 7,
  AD: 1 << 5, // authentic data (RFC 4035 §3.2.3)
  CD: 1 << 4,
} as const;
/** The DO bit in the EDNS0 OPT TTL field (RFC 3225). */
export const EDNS_DO = 1 << 15;

/** RFC 1035 §4.1.1 / RFC 2136 §2.2 / RFC 8945 rcodes by number. */
export const RCODES = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  YXDOMAIN: 6,
  YXRRSET: 7,
  NXRRSET: 8,
  NOTAUTH: 9,
  NOTZONE: 10,
} as const;

/** Lower case, no trailing dot; validated against RFC 1035 §2.3.4 limits. Root is `''`. */
export function normalizeName(name: string): string {
  const n = name.trim().toLowerCase().replace(/\.$/, '');
  if (n === '') return '';
  const labels = n.split('.');
  const wireLength = labels.reduce((sum, l) => sum + Buffer.byteLength(l) + 1, 1);
  if (wireLength > 255 || labels.some((l) => l.length === 0 || Buffer.byteLength(l) > 63)) {
    throw new DnsError('MALFORMED', `invalid domain name ${JSON.stringify(name)}`, { name });
  }
  return n;
}

export interface QuerySpec {
  readonly id: number;
  readonly name: string;
  readonly type: RRType;
  readonly recursionDesired: boolean;
  readonly dnssec: boolean;
  /** CD (RFC 4035 §3.2.2): a validating resolver answers without validating (no SERVFAIL for bogus data). */
  readonly checkingDisabled?: boolean;
}

/** The request bytes: one question, EDNS0 OPT with our payload size and DO when asked. */
export function buildQuery(spec: QuerySpec): Buffer {
  const name = normalizeName(spec.name);
  return dnsPacket.encode({
    type: 'query',
    id: spec.id,
    flags: (spec.recursionDesired ? FLAGS.RD : 0) | (spec.checkingDisabled ? FLAGS.CD : 0),
    questions: [{ name: name === '' ? '.' : name, type: spec.type, class: 'IN' }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: EDNS_UDP_PAYLOAD, flags: spec.dnssec ? EDNS_DO : 0 } as dnsPacket.Answer],
  });
}

/** What a reply says before interpretation: the transport needs TC and the id. */
export interface ReplyHeader {
  readonly id: number;
  readonly isResponse: boolean;
  readonly truncated: boolean;
}

export function peekHeader(reply: Buffer): ReplyHeader | undefined {
  if (reply.length < 12) return undefined;
  const flags = reply.readUInt16BE(2);
  return { id: reply.readUInt16BE(0), isResponse: (flags & FLAGS.QR) !== 0, truncated: (flags & FLAGS.TC) !== 0 };
}

/**
 * True when `reply` can be the answer to `spec`: same id, QR set, exactly our question
 * (name case-insensitively, type, class IN). RFC 5452 §9.1: anything else is not a reply
 * to us, and the transports keep waiting for the real one instead of failing the attempt —
 * otherwise a spoofer who guesses the id and port could force a temperror.
 */
export function matchesQuery(spec: QuerySpec, reply: Buffer): boolean {
  const h = peekHeader(reply);
  if (!h || h.id !== spec.id || !h.isResponse) return false;
  let msg: Decoded;
  try {
    msg = dnsPacket.decode(reply);
  } catch {
    // Garbage with our id: not an answer we can use; a real one may still come.
    return false;
  }
  const q = msg.questions?.[0];
  if (msg.questions?.length !== 1 || !q) return false;
  let qname: string;
  try {
    qname = normalizeName(q.name);
  } catch {
    return false;
  }
  return qname === normalizeName(spec.name) && q.type === spec.type && (q.class ?? 'IN') === 'IN';
}

const RCODE_ERRORS: Partial<Record<string, DnsErrorCode>> = {
  SERVFAIL: 'SERVFAIL',
  REFUSED: 'REFUSED',
  FORMERR: 'FORMERR',
  NOTIMP: 'NOTIMP',
  NOTAUTH: 'NOTAUTH',
};

type Decoded = dnsPacket.DecodedPacket;
type Rr = Decoded['answers'] extends (infer R)[] | undefined ? R : never;

export function decodeMessage(reply: Buffer, context: Record<string, unknown>): Decoded {
  try {
    return dnsPacket.decode(reply);
  } catch (err) {
    throw new DnsError('MALFORMED', `undecodable DNS reply: ${(err as Error).message}`, context, { cause: err });
  }
}

/**
 * Interprets a reply to `spec`. NXDOMAIN and NODATA are answers with the negative TTL
 * from the SOA in the authority section (RFC 2308 §5: min(SOA TTL, SOA MINIMUM); 0 when
 * there is no SOA, i.e. do not cache). Failures throw `DnsError` with the server context.
 */
export function interpretReply<T extends RRType>(spec: QuerySpec & { type: T }, reply: Buffer, server: string): DnsAnswer<T> {
  const qname = normalizeName(spec.name);
  const context = { server, name: qname, type: spec.type };
  const msg = decodeMessage(reply, context);
  if (msg.id !== spec.id || msg.type !== 'response') throw new DnsError('MALFORMED', 'reply id or QR flag does not match the query', context);
  const q = msg.questions?.[0];
  if (msg.questions?.length !== 1 || !q || normalizeName(q.name) !== qname || q.type !== spec.type || (q.class ?? 'IN') !== 'IN') {
    // RFC 5452 §9.1: the question must match, else the reply is not ours.
    throw new DnsError('MALFORMED', 'reply question does not match the query', { ...context, replyQuestion: q ? `${q.name} ${q.type}` : null });
  }
  const flags = (msg as { flags?: number }).flags ?? 0;
  const opt = (msg.additionals ?? []).find((a) => a.type === 'OPT') as { extendedRcode?: number } | undefined;
  if (opt?.extendedRcode) {
    // RFC 6891 §6.1.3: the upper 8 bits of a 12-bit rcode (e.g. BADVERS) — never a usable answer.
    throw new DnsError('OTHER', `${server} answered extended rcode ${(opt.extendedRcode << 4) | (flags & 0xf)} for ${qname} ${spec.type}`, { ...context, rcode: (opt.extendedRcode << 4) | (flags & 0xf) });
  }
  const rcode = (msg as { rcode?: string }).rcode ?? 'NOERROR';
  const errorCode = RCODE_ERRORS[rcode];
  if (errorCode) throw new DnsError(errorCode, `${server} answered ${rcode} for ${qname} ${spec.type}`, { ...context, rcode });
  if (rcode !== 'NOERROR' && rcode !== 'NXDOMAIN') throw new DnsError('OTHER', `${server} answered rcode ${rcode} for ${qname} ${spec.type}`, { ...context, rcode });
  if ((flags & FLAGS.TC) !== 0) throw new DnsError('MALFORMED', 'reply is truncated (TC) even over the chosen transport', context);

  const answers = (msg.answers ?? []) as Rr[];
  const chain: string[] = [];
  let current = qname;
  let minTtl = Number.POSITIVE_INFINITY;
  for (;;) {
    if (spec.type === 'CNAME') break; // asking for the CNAME itself: do not follow it
    if (answers.some((a) => a.type === spec.type && normalizeName(a.name) === current)) break;
    const cname = answers.find((a) => a.type === 'CNAME' && normalizeName(a.name) === current);
    if (!cname) break;
    if (chain.length >= MAX_CNAME_CHAIN || chain.includes(current)) throw new DnsError('MALFORMED', `CNAME loop or chain longer than ${MAX_CNAME_CHAIN} at ${current}`, { ...context, chain: [...chain, current] });
    chain.push(current);
    minTtl = Math.min(minTtl, (cname as { ttl?: number }).ttl ?? 0);
    current = normalizeName(String((cname as { data: unknown }).data));
  }
  const matching = answers.filter((a) => a.type === spec.type && normalizeName(a.name) === current && ((a as { class?: string }).class ?? 'IN') === 'IN');
  const records = matching.map((a) => convertData(spec.type, (a as { data: unknown }).data, context)) as RecordDataByType[T][];
  for (const a of matching) minTtl = Math.min(minTtl, (a as { ttl?: number }).ttl ?? 0);

  if (records.length === 0) {
    // NXDOMAIN or NODATA: negative TTL from the SOA in authority (RFC 2308 §5).
    const soa = (msg.authorities ?? []).find((a) => a.type === 'SOA') as { ttl?: number; data: { minimum: number } } | undefined;
    const negTtl = soa ? Math.min(soa.ttl ?? 0, soa.data.minimum) : 0;
    minTtl = Math.min(minTtl, negTtl);
  }
  return {
    name: qname,
    type: spec.type,
    rcode: rcode === 'NXDOMAIN' ? 'NXDOMAIN' : 'NOERROR',
    records,
    ttl: Number.isFinite(minTtl) ? minTtl : 0,
    authenticated: (flags & FLAGS.AD) !== 0,
    authoritative: (flags & FLAGS.AA) !== 0,
    cnameChain: chain,
    canonicalName: current,
  };
}

interface Codec {
  encode(data: unknown, buf?: Buffer, offset?: number): Buffer;
  decode(buf: Buffer, offset?: number): unknown;
  encodingLength(data: unknown): number;
}
/** dns-packet's per-type RDATA codecs (present at runtime, not in its type declarations). */
export function rdataCodec(type: string): Codec {
  return (dnsPacket as unknown as { record(type: string): Codec }).record(type);
}

/** Raw RDATA (without the RDLENGTH prefix) of a decoded record, re-encoded by dns-packet. */
export function rawRdata(type: string, data: unknown): Buffer {
  const buf = rdataCodec(type).encode(data);
  return buf.subarray(2, 2 + buf.readUInt16BE(0));
}

function convertData(type: RRType, data: unknown, context: Record<string, unknown>): RecordDataByType[RRType] {
  const d = data as Record<string, unknown>;
  switch (type) {
    case 'A':
    case 'AAAA':
      return String(data);
    case 'PTR':
    case 'CNAME':
    case 'NS':
      return normalizeName(String(data));
    case 'TXT': {
      const parts = Array.isArray(data) ? data : [data];
      return parts.map((p) => (Buffer.isBuffer(p) ? p.toString('utf8') : String(p)));
    }
    case 'MX':
      return { exchange: normalizeName(String(d.exchange)), priority: Number(d.preference) };
    case 'SOA':
      return {
        mname: normalizeName(String(d.mname)),
        rname: normalizeName(String(d.rname)),
        serial: Number(d.serial),
        refresh: Number(d.refresh),
        retry: Number(d.retry),
        expire: Number(d.expire),
        minimum: Number(d.minimum),
      };
    case 'TLSA':
      return { usage: Number(d.usage), selector: Number(d.selector), matchingType: Number(d.matchingType), data: Buffer.from(d.certificate as Buffer) };
    case 'DS':
    case 'DNSKEY':
      return Buffer.from(rawRdata(type, data));
    default:
      throw new DnsError('MALFORMED', `unsupported record type ${String(type)}`, context);
  }
}
