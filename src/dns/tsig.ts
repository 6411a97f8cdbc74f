/**
 * TSIG (RFC 8945): sign a request with a shared HMAC key and verify the signed reply.
 * Pure: the clock is a parameter. Used by `update.ts` for RFC 2136 updates; the key
 * secret never appears in errors or logs (only the key name and algorithm).
 *
 * Key forms accepted (`parseTsigKey`): `name:algorithm:base64secret` (ours, also what
 * test/support/knot.ts hands out), BIND's `-y` form `[algorithm:]name:secret`, and key
 * files (`loadTsigKey`): BIND `key "name" { algorithm …; secret "…"; };` (tsig-keygen,
 * ddns-confgen) and Knot's `key: - id: name algorithm: … secret: …` (keymgr -t).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as dnsPacket from 'dns-packet';
import { DnsError } from './types.ts';
import { normalizeName } from './message.ts';

export const TSIG_ALGORITHMS = {
  'hmac-sha256': 'sha256',
  'hmac-sha512': 'sha512',
  'hmac-sha384': 'sha384',
  'hmac-sha224': 'sha224',
  'hmac-sha1': 'sha1',
} as const;
export type TsigAlgorithm = keyof typeof TSIG_ALGORITHMS;

export interface TsigKey {
  /** Key name, lower case, no trailing dot. */
  readonly name: string;
  readonly algorithm: TsigAlgorithm;
  readonly secret: Buffer;
}

/** RFC 8945 §5.2 TSIG error field values. */
export const TSIG_ERRORS = { BADSIG: 16, BADKEY: 17, BADTIME: 18, BADTRUNC: 22 } as const;

export const TYPE_TSIG = 250;
export const CLASS_ANY = 255;
/** RFC 8945 §10: 300 s is the recommended fudge. */
export const DEFAULT_FUDGE = 300;

function algorithmOf(text: string, where: string): TsigAlgorithm {
  const a = text.toLowerCase().replace(/\.$/, '');
  if (a in TSIG_ALGORITHMS) return a as TsigAlgorithm;
  throw new DnsError('OTHER', `unsupported TSIG algorithm ${JSON.stringify(text)} in ${where} (use hmac-sha256 or hmac-sha512)`, { where });
}

function secretOf(b64: string, keyName: string): Buffer {
  const s = b64.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(s)) throw new DnsError('OTHER', `TSIG key ${keyName}: secret is not base64`, { key: keyName });
  return Buffer.from(s, 'base64');
}

/** `name:algorithm:secret`, or BIND `-y` style `algorithm:name:secret` / `name:secret` (hmac-sha256). */
export function parseTsigKey(text: string): TsigKey {
  const parts = text.trim().split(':');
  if (parts.length === 2) {
    const [name, secret] = parts as [string, string];
    return { name: normalizeName(name), algorithm: 'hmac-sha256', secret: secretOf(secret, name) };
  }
  if (parts.length !== 3) throw new DnsError('OTHER', 'TSIG key must look like name:algorithm:base64secret', {});
  const [a, b, secret] = parts as [string, string, string];
  const aIsAlg = a.toLowerCase().replace(/\.$/, '') in TSIG_ALGORITHMS;
  const name = aIsAlg ? b : a;
  const algorithm = algorithmOf(aIsAlg ? a : b, 'TSIG key');
  return { name: normalizeName(name), algorithm, secret: secretOf(secret, name) };
}

/** A BIND or Knot key file's text. With several keys, `keyName` picks one (default: the first). */
export function parseTsigKeyFile(text: string, keyName?: string): TsigKey {
  const keys: TsigKey[] = [];
  // BIND: key "name" { algorithm hmac-sha256; secret "base64"; };
  for (const m of text.matchAll(/key\s+"?([^"\s{]+)"?\s*\{([^}]*)\}/g)) {
    const body = m[2]!;
    const alg = /algorithm\s+"?([\w-]+)"?\s*;/.exec(body)?.[1];
    const secret = /secret\s+"([^"]+)"\s*;/.exec(body)?.[1];
    if (alg && secret) keys.push({ name: normalizeName(m[1]!), algorithm: algorithmOf(alg, 'key file'), secret: secretOf(secret, m[1]!) });
  }
  // Knot: key:\n  - id: name\n    algorithm: hmac-sha256\n    secret: base64
  for (const m of text.matchAll(/-\s*id:\s*"?([^"\s]+)"?\s*\n\s*algorithm:\s*"?([\w-]+)"?\s*\n\s*secret:\s*"?([A-Za-z0-9+/=]+)"?/g)) {
    keys.push({ name: normalizeName(m[1]!), algorithm: algorithmOf(m[2]!, 'key file'), secret: secretOf(m[3]!, m[1]!) });
  }
  const key = keyName === undefined ? keys[0] : keys.find((k) => k.name === normalizeName(keyName));
  if (!key) throw new DnsError('OTHER', keyName === undefined ? 'no TSIG key found in key file' : `TSIG key ${keyName} not found in key file`, {});
  return key;
}

/** A key from `name:algorithm:secret` or, when the text names a file (starts with `/` or `.`), from that key file. */
export async function loadTsigKey(spec: string, keyName?: string): Promise<TsigKey> {
  if (spec.startsWith('/') || spec.startsWith('.')) {
    let text: string;
    try {
      text = await readFile(spec, 'utf8');
    } catch (err) {
      throw new DnsError('OTHER', `cannot read TSIG key file ${spec}: ${(err as Error).message}`, { file: spec }, { cause: err });
    }
    return parseTsigKeyFile(text, keyName);
  }
  return parseTsigKey(spec);
}

function wireName(name: string): Buffer {
  const n = normalizeName(name);
  return (dnsPacket as unknown as { name: { encode(s: string): Buffer } }).name.encode(n === '' ? '.' : n);
}

function uint48(seconds: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUIntBE(Math.floor(seconds), 0, 6);
  return b;
}

/** RFC 8945 §4.3.3 "TSIG variables": the TSIG RR fields covered by the MAC. */
function tsigVariables(key: TsigKey, timeSigned: number, fudge: number, error: number, other: Buffer): Buffer {
  const fixed = Buffer.alloc(6);
  fixed.writeUInt16BE(CLASS_ANY, 0);
  fixed.writeUInt32BE(0, 2); // TTL
  const tail = Buffer.alloc(6);
  tail.writeUInt16BE(fudge, 0);
  tail.writeUInt16BE(error, 2);
  tail.writeUInt16BE(other.length, 4);
  return Buffer.concat([wireName(key.name), fixed, wireName(key.algorithm), uint48(timeSigned), tail, other]);
}

function hmac(key: TsigKey, parts: Buffer[]): Buffer {
  const h = createHmac(TSIG_ALGORITHMS[key.algorithm], key.secret);
  for (const p of parts) h.update(p);
  return h.digest();
}

export interface SignedMessage {
  readonly message: Buffer;
  /** The request MAC, needed to verify the reply (RFC 8945 §4.3.1). */
  readonly mac: Buffer;
}

/**
 * Appends a TSIG RR to `message` (ARCOUNT + 1). `nowSec` is Unix time in seconds. With
 * `requestMac`, signs as a reply to that request (RFC 8945 §4.3.1: the MAC also covers
 * the request's MAC) — what a server does; our tests use it to play one.
 */
export function signMessage(message: Buffer, key: TsigKey, nowSec: number, fudge = DEFAULT_FUDGE, requestMac?: Buffer): SignedMessage {
  const prior: Buffer[] = [];
  if (requestMac) {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(requestMac.length, 0);
    prior.push(len, requestMac);
  }
  const mac = hmac(key, [...prior, message, tsigVariables(key, nowSec, fudge, 0, Buffer.alloc(0))]);
  const rdataHead = Buffer.concat([wireName(key.algorithm), uint48(nowSec)]);
  const mid = Buffer.alloc(4);
  mid.writeUInt16BE(fudge, 0);
  mid.writeUInt16BE(mac.length, 2);
  const tail = Buffer.alloc(6);
  tail.writeUInt16BE(message.readUInt16BE(0), 0); // original id
  tail.writeUInt16BE(0, 2); // error
  tail.writeUInt16BE(0, 4); // other len
  const rdata = Buffer.concat([rdataHead, mid, mac, tail]);
  const rrHead = Buffer.alloc(10);
  rrHead.writeUInt16BE(TYPE_TSIG, 0);
  rrHead.writeUInt16BE(CLASS_ANY, 2);
  rrHead.writeUInt32BE(0, 4);
  rrHead.writeUInt16BE(rdata.length, 8);
  const out = Buffer.concat([message, wireName(key.name), rrHead, rdata]);
  out.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return { message: out, mac };
}

/** Offset just past a (possibly compressed) name at `offset`. */
function skipName(buf: Buffer, offset: number): number {
  let o = offset;
  for (let guard = 0; guard < 128; guard++) {
    if (o >= buf.length) throw new Error('name runs past the message');
    const len = buf[o]!;
    if (len === 0) return o + 1;
    if ((len & 0xc0) === 0xc0) return o + 2;
    o += 1 + len;
  }
  throw new Error('name too long');
}

export interface ReplyTsig {
  readonly keyName: string;
  readonly algorithm: string;
  readonly timeSigned: number;
  readonly fudge: number;
  readonly mac: Buffer;
  readonly originalId: number;
  readonly error: number;
  readonly other: Buffer;
  /** The reply without its TSIG RR, ARCOUNT decremented (what the MAC covers). */
  readonly stripped: Buffer;
}

/** Finds the TSIG RR, which must be the last additional record (RFC 8945 §5.1). */
export function extractTsig(reply: Buffer): ReplyTsig | undefined {
  try {
    if (reply.length < 12) return undefined;
    const qd = reply.readUInt16BE(4);
    const rrs = reply.readUInt16BE(6) + reply.readUInt16BE(8) + reply.readUInt16BE(10);
    if (reply.readUInt16BE(10) === 0) return undefined;
    let o = 12;
    for (let i = 0; i < qd; i++) o = skipName(reply, o) + 4;
    let lastStart = -1;
    for (let i = 0; i < rrs; i++) {
      lastStart = o;
      o = skipName(reply, o);
      const rdlen = reply.readUInt16BE(o + 8);
      o += 10 + rdlen;
      if (o > reply.length) return undefined;
    }
    const nameEnd = skipName(reply, lastStart);
    if (reply.readUInt16BE(nameEnd) !== TYPE_TSIG) return undefined;
    const names = (dnsPacket as unknown as { name: { decode(b: Buffer, o: number): string } }).name;
    const keyName = names.decode(reply, lastStart);
    let r = nameEnd + 10;
    const algorithm = names.decode(reply, r);
    r = skipName(reply, r);
    const timeSigned = reply.readUIntBE(r, 6);
    const fudge = reply.readUInt16BE(r + 6);
    const macLen = reply.readUInt16BE(r + 8);
    const mac = reply.subarray(r + 10, r + 10 + macLen);
    r += 10 + macLen;
    const originalId = reply.readUInt16BE(r);
    const error = reply.readUInt16BE(r + 2);
    const otherLen = reply.readUInt16BE(r + 4);
    const other = reply.subarray(r + 6, r + 6 + otherLen);
    const stripped = Buffer.from(reply.subarray(0, lastStart));
    stripped.writeUInt16BE(reply.readUInt16BE(10) - 1, 10);
    stripped.writeUInt16BE(originalId, 0);
    return { keyName: normalizeName(keyName), algorithm: algorithm.toLowerCase(), timeSigned, fudge, mac: Buffer.from(mac), originalId, error, other: Buffer.from(other), stripped };
  } catch {
    return undefined;
  }
}

const ERROR_NAMES: Record<number, 'BADSIG' | 'BADKEY' | 'BADTIME'> = { 16: 'BADSIG', 17: 'BADKEY', 18: 'BADTIME' };

/**
 * Checks the TSIG on a reply to a request we signed with `key` and `requestMac`
 * (RFC 8945 §5.3). Returns the TSIG when the reply is authentic; throws a `DnsError`
 * BADKEY/BADSIG/BADTIME when the server reported one, or when the reply's MAC, key or
 * time does not check out. A reply without TSIG returns undefined: the caller decides
 * (an unsigned error reply such as NOTAUTH/REFUSED is reported by its rcode; an unsigned
 * success must not be trusted).
 */
export function verifyReply(reply: Buffer, key: TsigKey, requestMac: Buffer, nowSec: number, context: Record<string, unknown>): ReplyTsig | undefined {
  const t = extractTsig(reply);
  if (!t) return undefined;
  const ctx = { ...context, key: key.name, algorithm: key.algorithm };
  if (t.error !== 0) {
    const code = ERROR_NAMES[t.error];
    const what = code ?? `TSIG error ${t.error}`;
    const hint = code === 'BADKEY' ? 'the server does not know this key name/algorithm' : code === 'BADSIG' ? 'the secret does not match the server' : code === 'BADTIME' ? 'clocks differ by more than the fudge' : 'see RFC 8945 §5.2';
    throw new DnsError(code ?? 'OTHER', `server rejected our TSIG: ${what} (${hint})`, { ...ctx, tsigError: t.error });
  }
  if (t.keyName !== key.name || t.algorithm !== key.algorithm) throw new DnsError('BADKEY', `reply signed with another key (${t.keyName} ${t.algorithm})`, ctx);
  const macPrefix = Buffer.alloc(2);
  macPrefix.writeUInt16BE(requestMac.length, 0);
  const expected = hmac(key, [macPrefix, requestMac, t.stripped, tsigVariables(key, t.timeSigned, t.fudge, t.error, t.other)]);
  // Truncated MACs (RFC 8945 §5.2.2.1) are not accepted: only full-length ones.
  if (t.mac.length !== expected.length || !timingSafeEqual(t.mac, expected)) throw new DnsError('BADSIG', 'reply TSIG MAC does not verify', ctx);
  if (Math.abs(nowSec - t.timeSigned) > t.fudge) throw new DnsError('BADTIME', `reply signed at ${t.timeSigned}, now ${Math.floor(nowSec)}: outside the fudge of ${t.fudge} s`, ctx);
  return t;
}
