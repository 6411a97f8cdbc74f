/**
 * RFC 2136 dynamic UPDATE, signed with TSIG (RFC 8945) — how the keystore and the DANE
 * sidecar publish TXT and TLSA records to a primary server.
 *
 * `buildUpdate` is pure (zone, prerequisites, updates → bytes); `sendUpdate` signs it,
 * sends it over TCP by default (an UPDATE is not idempotent under UDP retransmission in
 * general, and TSIG'd replies can be large), verifies the reply's TSIG and maps the rcode
 * to a typed `DnsError` with the zone and server in its context.
 */
import { randomInt } from 'node:crypto';
import * as dnsPacket from 'dns-packet';
import { DnsError, type DnsErrorCode, type DnsServer, type MxRecord, type TlsaRecord } from './types.ts';
import { normalizeName, rdataCodec, peekHeader } from './message.ts';
import { formatServer, networkTransport, type DnsTransport } from './transport.ts';
import { signMessage, verifyReply, type TsigKey } from './tsig.ts';

/** RR type codes (RFC 1035 §3.2.2, RFC 3596, RFC 6698). */
export const TYPE_CODES = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, TLSA: 52, ANY: 255 } as const;
const CLASS = { IN: 1, NONE: 254, ANY: 255 } as const;
const OPCODE_UPDATE = 5;

/** Record data we can publish, by type. TXT may be one long string: it is split into ≤255-byte strings. */
export interface UpdateDataByType {
  A: string;
  AAAA: string;
  TXT: string | readonly string[];
  CNAME: string;
  PTR: string;
  NS: string;
  MX: MxRecord;
  TLSA: TlsaRecord;
}
export type UpdateType = keyof UpdateDataByType;

type Rr<K extends UpdateType = UpdateType> = { [T in K]: { readonly name: string; readonly type: T; readonly data: UpdateDataByType[T] } }[K];

/** One change in the update section (RFC 2136 §2.5). */
export type UpdateOperation =
  | (Rr & { readonly op: 'add'; readonly ttl: number })
  | (Rr & { readonly op: 'delete' }) // delete one RR (class NONE)
  | { readonly op: 'delete-rrset'; readonly name: string; readonly type: UpdateType } // class ANY
  | { readonly op: 'delete-name'; readonly name: string }; // all RRsets at the name

/** Value-independent prerequisites (RFC 2136 §2.4.1–2.4.5). */
export type Prerequisite =
  | { readonly kind: 'rrset-exists'; readonly name: string; readonly type: UpdateType }
  | { readonly kind: 'rrset-absent'; readonly name: string; readonly type: UpdateType }
  | { readonly kind: 'name-in-use'; readonly name: string }
  | { readonly kind: 'name-absent'; readonly name: string };

export interface UpdateRequest {
  /** The zone apex (the zone section's name). Every name must be inside it. */
  readonly zone: string;
  readonly prerequisites?: readonly Prerequisite[];
  readonly updates: readonly UpdateOperation[];
}

/** Splits a long TXT value into character-strings of at most 255 bytes (RFC 1035 §3.3.14), never inside a UTF-8 character. */
export function splitTxt(value: string): string[] {
  const out: string[] = [];
  let cur = '';
  let curBytes = 0;
  for (const ch of value) {
    const n = Buffer.byteLength(ch);
    if (curBytes + n > 255) {
      out.push(cur);
      cur = '';
      curBytes = 0;
    }
    cur += ch;
    curBytes += n;
  }
  out.push(cur);
  return out;
}

function encodeName(name: string): Buffer {
  const n = normalizeName(name);
  return (dnsPacket as unknown as { name: { encode(s: string): Buffer } }).name.encode(n === '' ? '.' : n);
}

/** RDATA bytes (no RDLENGTH) for the record types we publish. */
export function encodeRdata(rr: Rr): Buffer {
  let packetData: unknown;
  switch (rr.type) {
    case 'TXT': {
      const strings = typeof rr.data === 'string' ? splitTxt(rr.data) : rr.data;
      for (const s of strings) if (Buffer.byteLength(s) > 255) throw new DnsError('OTHER', `TXT string of ${Buffer.byteLength(s)} bytes at ${rr.name} exceeds 255`, { name: rr.name });
      packetData = strings.map((s) => Buffer.from(s, 'utf8'));
      break;
    }
    case 'TLSA':
      packetData = { usage: rr.data.usage, selector: rr.data.selector, matchingType: rr.data.matchingType, certificate: rr.data.data };
      break;
    case 'MX':
      packetData = { preference: rr.data.priority, exchange: normalizeName(rr.data.exchange) };
      break;
    case 'CNAME':
    case 'PTR':
    case 'NS':
      packetData = normalizeName(rr.data);
      break;
    default:
      packetData = rr.data;
  }
  const buf = rdataCodec(rr.type).encode(packetData);
  return buf.subarray(2, 2 + buf.readUInt16BE(0));
}

function rr(name: string, type: number, klass: number, ttl: number, rdata: Buffer): Buffer {
  const head = Buffer.alloc(10);
  head.writeUInt16BE(type, 0);
  head.writeUInt16BE(klass, 2);
  head.writeUInt32BE(ttl, 4);
  head.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([encodeName(name), head, rdata]);
}

function inZone(zone: string, name: string): boolean {
  const z = normalizeName(zone);
  const n = normalizeName(name);
  return z === '' || n === z || n.endsWith(`.${z}`);
}

/** The unsigned UPDATE message (RFC 2136 §2). */
export function buildUpdate(id: number, request: UpdateRequest): Buffer {
  const zone = normalizeName(request.zone);
  const empty = Buffer.alloc(0);
  const check = (name: string) => {
    if (!inZone(zone, name)) throw new DnsError('NOTZONE', `${name} is not inside zone ${zone}`, { zone, name });
  };
  const prereqs = (request.prerequisites ?? []).map((p) => {
    check(p.name);
    switch (p.kind) {
      case 'rrset-exists':
        return rr(p.name, TYPE_CODES[p.type], CLASS.ANY, 0, empty);
      case 'rrset-absent':
        return rr(p.name, TYPE_CODES[p.type], CLASS.NONE, 0, empty);
      case 'name-in-use':
        return rr(p.name, TYPE_CODES.ANY, CLASS.ANY, 0, empty);
      case 'name-absent':
        return rr(p.name, TYPE_CODES.ANY, CLASS.NONE, 0, empty);
    }
  });
  const updates = request.updates.map((u) => {
    check(u.name);
    switch (u.op) {
      case 'add':
        if (!Number.isInteger(u.ttl) || u.ttl < 0 || u.ttl > 0x7fffffff) throw new DnsError('OTHER', `invalid TTL ${u.ttl} for ${u.name}`, { name: u.name });
        return rr(u.name, TYPE_CODES[u.type], CLASS.IN, u.ttl, encodeRdata(u));
      case 'delete':
        return rr(u.name, TYPE_CODES[u.type], CLASS.NONE, 0, encodeRdata(u));
      case 'delete-rrset':
        return rr(u.name, TYPE_CODES[u.type], CLASS.ANY, 0, empty);
      case 'delete-name':
        return rr(u.name, TYPE_CODES.ANY, CLASS.ANY, 0, empty);
    }
  });
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(OPCODE_UPDATE << 11, 2);
  header.writeUInt16BE(1, 4); // ZOCOUNT
  header.writeUInt16BE(prereqs.length, 6); // PRCOUNT
  header.writeUInt16BE(updates.length, 8); // UPCOUNT
  header.writeUInt16BE(0, 10); // ADCOUNT
  const zoneSection = Buffer.concat([encodeName(zone), Buffer.from([0, TYPE_CODES.SOA, 0, CLASS.IN])]);
  const msg = Buffer.concat([header, zoneSection, ...prereqs, ...updates]);
  if (msg.length > 65535 - 512) throw new DnsError('OTHER', `update of ${msg.length} bytes is too large for one message`, { zone });
  return msg;
}

export interface SendUpdateOptions {
  /** TSIG key; without it the update goes unsigned (only for servers that allow that by address). */
  readonly key?: TsigKey | undefined;
  readonly timeoutMs?: number;
  /** Default true: TCP. */
  readonly tcp?: boolean;
  readonly signal?: AbortSignal | undefined;
  readonly transport?: DnsTransport;
  /** Clock for TSIG time signed/checked, ms since epoch. Default `Date.now`. */
  readonly now?: () => number;
  readonly randomId?: () => number;
}

export interface UpdateResult {
  readonly server: string;
  readonly zone: string;
  /** Whether the reply carried a TSIG that verified (always true when a key was given). */
  readonly verified: boolean;
}

const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'] as const;
const RCODE_CODES: Partial<Record<string, DnsErrorCode>> = {
  FORMERR: 'FORMERR',
  SERVFAIL: 'SERVFAIL',
  NOTIMP: 'NOTIMP',
  REFUSED: 'REFUSED',
  YXDOMAIN: 'YXDOMAIN',
  YXRRSET: 'YXRRSET',
  NXRRSET: 'NXRRSET',
  NOTAUTH: 'NOTAUTH',
  NOTZONE: 'NOTZONE',
};
const RCODE_HINTS: Partial<Record<string, string>> = {
  REFUSED: 'the server does not allow this update (check its ACL for the key and zone)',
  NOTAUTH: 'the server is not authoritative for the zone, or refused the key',
  NOTZONE: 'a name is outside the zone',
  YXDOMAIN: 'prerequisite failed: a name that must be absent exists',
  YXRRSET: 'prerequisite failed: an RRset that must be absent exists',
  NXRRSET: 'prerequisite failed: an RRset that must exist does not',
  NXDOMAIN: 'prerequisite failed: a name that must be in use does not exist',
};

/** Sends one UPDATE to the zone's primary and resolves when it was applied (NOERROR, TSIG verified). */
export async function sendUpdate(server: DnsServer, request: UpdateRequest, options: SendUpdateOptions = {}): Promise<UpdateResult> {
  const id = (options.randomId ?? (() => randomInt(0, 65536)))();
  const now = options.now ?? Date.now;
  const zone = normalizeName(request.zone);
  const where = formatServer(server);
  const context = { server: where, zone, ...(options.key ? { key: options.key.name } : {}) };
  const unsigned = buildUpdate(id, request);
  const signed = options.key ? signMessage(unsigned, options.key, Math.floor(now() / 1000)) : undefined;
  const reply = await (options.transport ?? networkTransport)(server, signed?.message ?? unsigned, {
    tcp: options.tcp ?? true,
    timeoutMs: options.timeoutMs ?? 10_000,
    signal: options.signal,
  });
  const h = peekHeader(reply);
  if (!h || h.id !== id || !h.isResponse || ((reply.readUInt16BE(2) >> 11) & 0xf) !== OPCODE_UPDATE) throw new DnsError('MALFORMED', `reply from ${where} is not a reply to our UPDATE`, context);
  const rcode = RCODE_NAMES[reply.readUInt16BE(2) & 0xf] ?? `rcode ${reply.readUInt16BE(2) & 0xf}`;
  // TSIG first: a BADKEY/BADSIG/BADTIME comes back as NOTAUTH with the TSIG error set.
  const tsig = options.key && signed ? verifyReply(reply, options.key, signed.mac, now() / 1000, context) : undefined;
  if (rcode !== 'NOERROR') {
    const code = rcode === 'NXDOMAIN' ? 'NXRRSET' : (RCODE_CODES[rcode] ?? 'OTHER');
    const hint = RCODE_HINTS[rcode];
    throw new DnsError(code, `update of ${zone} at ${where} failed: ${rcode}${hint ? ` (${hint})` : ''}`, { ...context, rcode });
  }
  if (options.key && !tsig) throw new DnsError('BADSIG', `${where} accepted the update but did not sign its reply`, context);
  return { server: where, zone, verified: tsig !== undefined };
}
