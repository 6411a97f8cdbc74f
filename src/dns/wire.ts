/**
 * DNS messages at the octet level, for callers that need more than `interpretReply` gives:
 * every section (a referral's NS in authority, glue in additional), RRSIGs beside the
 * records they cover, and each record's RDATA with its names decompressed — in the original
 * case and in the canonical form DNSSEC signs (RFC 4034 §6.2, as amended by RFC 6840 §5.1).
 * `dns-packet` decodes RDATA into objects and re-encodes some of them differently (NSEC type
 * bitmaps, unknown types), which would break signature checks; this parser keeps the bytes.
 *
 * Pure: bytes in, values out. Every length is checked before it is used; a reply that does
 * not parse is a `DnsError('MALFORMED')`, never a partial answer.
 */
import { DnsError } from './types.ts';

/** Type numbers (IANA "Resource Record (RR) TYPEs") of the records this project reads. */
export const TYPE = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  OPT: 41,
  DS: 43,
  RRSIG: 46,
  NSEC: 47,
  DNSKEY: 48,
  NSEC3: 50,
  TLSA: 52,
  CDS: 59,
  CDNSKEY: 60,
} as const;

export const TYPE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(TYPE).map(([k, v]) => [v, k]));

/** `MX`, or `TYPE65534` for a type without a name here (RFC 3597 §5). */
export const typeName = (t: number): string => TYPE_NAMES[t] ?? `TYPE${t}`;

export const CLASS_IN = 1;

/** A domain name: its labels (raw octets) and two printable forms. */
export interface WireName {
  /** Presentation form, lower case, no trailing dot, `\DDD`/`\.` escapes; root is `''`. */
  readonly text: string;
  /** Uncompressed wire form in lower case: the canonical form (RFC 4034 §6.2). */
  readonly canonical: Buffer;
  /** Label count, not counting the root (what RRSIG `labels` is compared with). */
  readonly labelCount: number;
  /** True when the leftmost label is `*` (a wildcard owner, RFC 4034 §3.1.3). */
  readonly wildcard: boolean;
}

export interface WireRecord {
  readonly owner: WireName;
  readonly type: number;
  readonly class: number;
  readonly ttl: number;
  /** RDATA with every embedded name decompressed, original case. */
  readonly rdata: Buffer;
  /** RDATA in canonical form: names lower-cased where RFC 4034 §6.2 / RFC 6840 §5.1 say so. */
  readonly canonicalRdata: Buffer;
}

export interface WireQuestion {
  readonly name: WireName;
  readonly type: number;
  readonly class: number;
}

export interface WireMessage {
  readonly id: number;
  /** The 16-bit flags word (QR, opcode, AA, TC, RD, RA, AD, CD, rcode). */
  readonly flags: number;
  /** Full rcode: the header's 4 bits plus the OPT record's extended bits (RFC 6891 §6.1.3). */
  readonly rcode: number;
  readonly questions: readonly WireQuestion[];
  readonly answer: readonly WireRecord[];
  readonly authority: readonly WireRecord[];
  /** Without the OPT pseudo-record (see `edns`). */
  readonly additional: readonly WireRecord[];
  /** From the OPT record, when the reply has one. */
  readonly edns?: { readonly udpPayload: number; readonly dnssecOk: boolean; readonly version: number };
}

export const FLAG = { QR: 0x8000, AA: 0x0400, TC: 0x0200, RD: 0x0100, RA: 0x0080, AD: 0x0020, CD: 0x0010 } as const;

export const RCODE_NAMES: Readonly<Record<number, string>> = { 0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED', 9: 'NOTAUTH', 10: 'NOTZONE', 16: 'BADVERS' };
export const rcodeName = (rcode: number): string => RCODE_NAMES[rcode] ?? `RCODE${rcode}`;

/** Largest name on the wire (RFC 1035 §2.3.4) and the label limit. */
const MAX_NAME = 255;
const MAX_LABEL = 63;

class Reader {
  readonly buf: Buffer;
  pos: number;
  constructor(buf: Buffer, pos = 0) {
    this.buf = buf;
    this.pos = pos;
  }
  need(n: number, what: string): void {
    if (this.pos + n > this.buf.length) throw malformed(`${what} runs past the end of the message (offset ${this.pos}, ${n} octets, message ${this.buf.length})`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  bytes(n: number, what: string): Buffer {
    this.need(n, what);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
}

const malformed = (message: string): DnsError => new DnsError('MALFORMED', `malformed DNS message: ${message}`, {});

/** One label in presentation form (RFC 4343 §2.1 escapes), lower case. */
function labelText(label: Buffer): string {
  let out = '';
  for (const c of label) {
    const lc = c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
    if (lc === 0x2e || lc === 0x5c) out += `\\${String.fromCharCode(lc)}`;
    else if (lc <= 0x20 || lc >= 0x7f) out += `\\${String(lc).padStart(3, '0')}`;
    else out += String.fromCharCode(lc);
  }
  return out;
}

/** ASCII upper case → lower case only (RFC 4034 §6.2: "US-ASCII letters"). */
function lowerAscii(b: Buffer): Buffer {
  const out = Buffer.from(b);
  for (let i = 0; i < out.length; i++) if (out[i]! >= 0x41 && out[i]! <= 0x5a) out[i] = out[i]! + 0x20;
  return out;
}

function makeName(labels: readonly Buffer[]): { name: WireName; wire: Buffer } {
  const parts: Buffer[] = [];
  for (const l of labels) parts.push(Buffer.from([l.length]), l);
  parts.push(Buffer.from([0]));
  const wire = Buffer.concat(parts);
  return {
    wire,
    name: {
      text: labels.map(labelText).join('.'),
      canonical: lowerAscii(wire),
      labelCount: labels.length,
      wildcard: labels.length > 0 && labels[0]!.length === 1 && labels[0]![0] === 0x2a,
    },
  };
}

/**
 * Reads a possibly compressed name at r.pos (RFC 1035 §4.1.4). Pointers must point
 * strictly backwards from where they are found, so no chain can loop; the expanded name
 * is bounded by 255 octets. Returns the name and its uncompressed wire form (original case).
 */
function readName(r: Reader): { name: WireName; wire: Buffer } {
  const labels: Buffer[] = [];
  let length = 1;
  let pos = r.pos;
  let jumped = false;
  let limit = r.pos; // a pointer must go below the lowest offset seen so far
  for (;;) {
    if (pos >= r.buf.length) throw malformed(`name at offset ${pos} runs past the end`);
    const len = r.buf[pos]!;
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= r.buf.length) throw malformed(`compression pointer at offset ${pos} is cut off`);
      const target = ((len & 0x3f) << 8) | r.buf[pos + 1]!;
      if (target >= limit) throw malformed(`compression pointer at offset ${pos} does not point backwards`);
      if (!jumped) r.pos = pos + 2;
      jumped = true;
      limit = target;
      pos = target;
      continue;
    }
    if ((len & 0xc0) !== 0) throw malformed(`unsupported label type 0x${len.toString(16)} at offset ${pos}`);
    if (len === 0) {
      if (!jumped) r.pos = pos + 1;
      return makeName(labels);
    }
    if (len > MAX_LABEL) throw malformed(`label of ${len} octets`);
    if (pos + 1 + len > r.buf.length) throw malformed(`label at offset ${pos} runs past the end`);
    length += len + 1;
    if (length > MAX_NAME) throw malformed(`name longer than ${MAX_NAME} octets`);
    labels.push(r.buf.subarray(pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
}

/**
 * RDATA layouts with embedded names: what to decompress, and whether the canonical form
 * lower-cases them. RFC 4034 §6.2 lists the types whose names are lower-cased; RFC 6840
 * §5.1 removed NSEC (and HINFO, which holds no name) from that list. `n` = a name,
 * a number = that many fixed octets, `rest` = the remainder as is.
 */
type Part = 'n' | number | 'rest';
const LAYOUTS: Readonly<Record<number, { readonly parts: readonly Part[]; readonly lower: boolean }>> = {
  2: { parts: ['n'], lower: true }, // NS
  3: { parts: ['n'], lower: true }, // MD
  4: { parts: ['n'], lower: true }, // MF
  5: { parts: ['n'], lower: true }, // CNAME
  6: { parts: ['n', 'n', 20], lower: true }, // SOA
  7: { parts: ['n'], lower: true }, // MB
  8: { parts: ['n'], lower: true }, // MG
  9: { parts: ['n'], lower: true }, // MR
  12: { parts: ['n'], lower: true }, // PTR
  14: { parts: ['n', 'n'], lower: true }, // MINFO
  15: { parts: [2, 'n'], lower: true }, // MX
  17: { parts: ['n', 'n'], lower: true }, // RP
  18: { parts: [2, 'n'], lower: true }, // AFSDB
  21: { parts: [2, 'n'], lower: true }, // RT
  26: { parts: [2, 'n', 'n'], lower: true }, // PX
  33: { parts: [6, 'n'], lower: true }, // SRV
  36: { parts: [2, 'n'], lower: true }, // KX
  39: { parts: ['n'], lower: true }, // DNAME
  46: { parts: [18, 'n', 'rest'], lower: true }, // RRSIG: the signer's name
  47: { parts: ['n', 'rest'], lower: false }, // NSEC: next owner, case kept (RFC 6840 §5.1)
};

function readRdata(r: Reader, type: number, rdlength: number): { rdata: Buffer; canonicalRdata: Buffer } {
  const end = r.pos + rdlength;
  r.need(rdlength, 'RDATA');
  const layout = LAYOUTS[type];
  if (!layout) {
    const raw = r.bytes(rdlength, 'RDATA');
    return { rdata: Buffer.from(raw), canonicalRdata: Buffer.from(raw) };
  }
  const orig: Buffer[] = [];
  const canon: Buffer[] = [];
  const sub = new Reader(r.buf.subarray(0, end), r.pos);
  for (const part of layout.parts) {
    if (part === 'n') {
      const { name, wire } = readName(sub);
      orig.push(wire);
      canon.push(layout.lower ? name.canonical : wire);
    } else if (part === 'rest') {
      const rest = sub.bytes(end - sub.pos, 'RDATA');
      orig.push(rest);
      canon.push(rest);
    } else {
      const fixed = sub.bytes(part, 'RDATA');
      orig.push(fixed);
      canon.push(fixed);
    }
  }
  if (sub.pos !== end) throw malformed(`${typeName(type)} RDATA has ${end - sub.pos} octets left over`);
  r.pos = end;
  return { rdata: Buffer.concat(orig), canonicalRdata: Buffer.concat(canon) };
}

function readRecord(r: Reader): WireRecord {
  const { name: owner } = readName(r);
  const type = r.u16('record type');
  const klass = r.u16('record class');
  const ttl = r.u32('record TTL');
  const rdlength = r.u16('RDLENGTH');
  const { rdata, canonicalRdata } = readRdata(r, type, rdlength);
  return { owner, type, class: klass, ttl, rdata, canonicalRdata };
}

/** The smallest record: root owner (1) + type, class, TTL, RDLENGTH (10). */
const MIN_RECORD = 11;

/** Parses a whole message; throws `DnsError('MALFORMED')` on any defect. */
export function parseWireMessage(buf: Buffer): WireMessage {
  const r = new Reader(buf);
  if (buf.length < 12) throw malformed(`${buf.length} octets, shorter than a header`);
  const id = r.u16('id');
  const flags = r.u16('flags');
  const counts = [r.u16('QDCOUNT'), r.u16('ANCOUNT'), r.u16('NSCOUNT'), r.u16('ARCOUNT')] as const;
  // Bound the counts by the octets left before building any array from them.
  const least = counts[0] * 5 + (counts[1] + counts[2] + counts[3]) * MIN_RECORD;
  if (least > buf.length - 12) throw malformed(`header announces more records than ${buf.length} octets can hold`);
  const questions: WireQuestion[] = [];
  for (let i = 0; i < counts[0]; i++) {
    const { name } = readName(r);
    questions.push({ name, type: r.u16('question type'), class: r.u16('question class') });
  }
  const section = (n: number): WireRecord[] => {
    const out: WireRecord[] = [];
    for (let i = 0; i < n; i++) out.push(readRecord(r));
    return out;
  };
  const answer = section(counts[1]);
  const authority = section(counts[2]);
  const additionalAll = section(counts[3]);
  if (r.pos !== buf.length) throw malformed(`${buf.length - r.pos} octets after the last record`);
  const opts = additionalAll.filter((a) => a.type === TYPE.OPT);
  if (opts.length > 1) throw malformed('more than one OPT record (RFC 6891 §6.1.1)');
  const opt = opts[0];
  let rcode = flags & 0x0f;
  let edns: WireMessage['edns'];
  if (opt) {
    // OPT: CLASS = UDP payload size, TTL = extended rcode (8) | version (8) | DO (1) | Z (15).
    rcode |= (opt.ttl >>> 24) << 4;
    edns = { udpPayload: opt.class, version: (opt.ttl >>> 16) & 0xff, dnssecOk: (opt.ttl & 0x8000) !== 0 };
  }
  return { id, flags, rcode, questions, answer, authority, additional: additionalAll.filter((a) => a.type !== TYPE.OPT), ...(edns ? { edns } : {}) };
}

/** Wire form of a presentation-form name (`\.` and `\DDD` escapes understood); throws on bad names. */
export function encodeName(text: string): Buffer {
  const t = text.replace(/\.$/, '');
  if (t === '') return Buffer.from([0]);
  const labels: Buffer[] = [];
  let cur: number[] = [];
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c === 0x5c) {
      const m = /^\d{3}/.exec(t.slice(i + 1));
      if (m) {
        const v = Number(m[0]);
        if (v > 255) throw new DnsError('MALFORMED', `invalid escape in name ${JSON.stringify(text)}`, { name: text });
        cur.push(v);
        i += 3;
      } else if (i + 1 < t.length) {
        cur.push(t.charCodeAt(++i));
      } else {
        throw new DnsError('MALFORMED', `trailing backslash in name ${JSON.stringify(text)}`, { name: text });
      }
    } else if (c === 0x2e) {
      labels.push(Buffer.from(cur));
      cur = [];
    } else {
      if (c > 0x7f) throw new DnsError('MALFORMED', `name ${JSON.stringify(text)} is not ASCII (use the A-label form)`, { name: text });
      cur.push(c);
    }
  }
  labels.push(Buffer.from(cur));
  const parts: Buffer[] = [];
  let length = 1;
  for (const l of labels) {
    if (l.length === 0 || l.length > MAX_LABEL) throw new DnsError('MALFORMED', `invalid label in name ${JSON.stringify(text)}`, { name: text });
    length += l.length + 1;
    parts.push(Buffer.from([l.length]), l);
  }
  if (length > MAX_NAME) throw new DnsError('MALFORMED', `name ${JSON.stringify(text)} is longer than ${MAX_NAME} octets`, { name: text });
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/** `WireName` of a presentation-form name. */
export function wireName(text: string): WireName {
  const wire = encodeName(text);
  const labels: Buffer[] = [];
  for (let i = 0; wire[i]! !== 0; i += wire[i]! + 1) labels.push(wire.subarray(i + 1, i + 1 + wire[i]!));
  return makeName(labels).name;
}

export interface WireQuerySpec {
  readonly id: number;
  readonly name: string;
  readonly type: number;
  /** RD: false to ask an authoritative server directly. */
  readonly recursionDesired: boolean;
  /** CD (RFC 4035 §3.2.2): a validating resolver returns data it could not validate instead of SERVFAIL. */
  readonly checkingDisabled?: boolean;
  /** DO (RFC 3225): ask for RRSIGs (and, from a validating resolver, the AD bit). */
  readonly dnssec: boolean;
  /** Advertised EDNS0 UDP payload; default 1232 (DNS Flag Day 2020). */
  readonly udpPayload?: number;
}

/** The query bytes: one question, class IN, an OPT record with our payload size (and DO). */
export function encodeQuery(spec: WireQuerySpec): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(spec.id & 0xffff, 0);
  header.writeUInt16BE((spec.recursionDesired ? FLAG.RD : 0) | (spec.checkingDisabled ? FLAG.CD : 0), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(1, 10);
  const q = Buffer.alloc(4);
  q.writeUInt16BE(spec.type, 0);
  q.writeUInt16BE(CLASS_IN, 2);
  const opt = Buffer.alloc(11);
  opt.writeUInt16BE(TYPE.OPT, 1);
  opt.writeUInt16BE(spec.udpPayload ?? 1232, 3);
  opt.writeUInt32BE(spec.dnssec ? 0x8000 : 0, 5);
  return Buffer.concat([header, encodeName(spec.name), q, opt]);
}

/** RDATA readers for the types callers compare or display. Each throws MALFORMED on a bad length. */
export const rdataOf = {
  a(rdata: Buffer): string {
    if (rdata.length !== 4) throw malformed(`A RDATA of ${rdata.length} octets`);
    return [...rdata].join('.');
  },
  aaaa(rdata: Buffer): string {
    if (rdata.length !== 16) throw malformed(`AAAA RDATA of ${rdata.length} octets`);
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(rdata.readUInt16BE(i).toString(16));
    // Compress the longest run of zero groups (RFC 5952 §4.2).
    let best = -1;
    let bestLen = 1;
    for (let i = 0; i < 8; ) {
      if (groups[i] !== '0') {
        i++;
        continue;
      }
      let j = i;
      while (j < 8 && groups[j] === '0') j++;
      if (j - i > bestLen) {
        best = i;
        bestLen = j - i;
      }
      i = j;
    }
    if (best < 0) return groups.join(':');
    return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
  },
  /** A name-only RDATA (NS, CNAME, PTR, DNAME): its presentation form, lower case. */
  name(rdata: Buffer): string {
    const r = new Reader(rdata);
    const { name } = readName(r);
    if (r.pos !== rdata.length) throw malformed('name RDATA has trailing octets');
    return name.text;
  },
  mx(rdata: Buffer): { priority: number; exchange: string } {
    const r = new Reader(rdata);
    const priority = r.u16('MX preference');
    const { name } = readName(r);
    return { priority, exchange: name.text };
  },
  txt(rdata: Buffer): string[] {
    const r = new Reader(rdata);
    const out: string[] = [];
    while (r.pos < rdata.length) {
      const len = r.u8('TXT string length');
      out.push(r.bytes(len, 'TXT string').toString('utf8'));
    }
    return out;
  },
  soa(rdata: Buffer): { mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number } {
    const r = new Reader(rdata);
    const mname = readName(r).name.text;
    const rname = readName(r).name.text;
    return { mname, rname, serial: r.u32('serial'), refresh: r.u32('refresh'), retry: r.u32('retry'), expire: r.u32('expire'), minimum: r.u32('minimum') };
  },
  tlsa(rdata: Buffer): { usage: number; selector: number; matchingType: number; data: Buffer } {
    if (rdata.length < 3) throw malformed('TLSA RDATA shorter than 3 octets');
    return { usage: rdata[0]!, selector: rdata[1]!, matchingType: rdata[2]!, data: Buffer.from(rdata.subarray(3)) };
  },
};

/** A record's data in presentation form, for comparison across servers and for messages. */
export function rdataText(rec: Pick<WireRecord, 'type' | 'rdata'>): string {
  switch (rec.type) {
    case TYPE.A:
      return rdataOf.a(rec.rdata);
    case TYPE.AAAA:
      return rdataOf.aaaa(rec.rdata);
    case TYPE.NS:
    case TYPE.CNAME:
    case TYPE.PTR:
      return `${rdataOf.name(rec.rdata)}.`;
    case TYPE.MX: {
      const mx = rdataOf.mx(rec.rdata);
      return `${mx.priority} ${mx.exchange}.`;
    }
    case TYPE.TXT:
      return rdataOf.txt(rec.rdata).map((s) => JSON.stringify(s)).join(' ');
    case TYPE.SOA: {
      const s = rdataOf.soa(rec.rdata);
      return `${s.mname}. ${s.rname}. ${s.serial} ${s.refresh} ${s.retry} ${s.expire} ${s.minimum}`;
    }
    case TYPE.TLSA: {
      const t = rdataOf.tlsa(rec.rdata);
      return `${t.usage} ${t.selector} ${t.matchingType} ${t.data.toString('hex')}`;
    }
    default:
      // RFC 3597 §5 generic form.
      return `\\# ${rec.rdata.length}${rec.rdata.length ? ` ${rec.rdata.toString('hex')}` : ''}`;
  }
}
