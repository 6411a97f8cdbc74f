/**
 * The benchmark corpus: deterministic (seeded) realistic messages, 2 KB – 1 MB, half inbound
 * (signed with real DKIM keys — RSA-2048 and Ed25519 — by sender domains whose keys, SPF and
 * DMARC records the bench DNS server publishes), half outbound (From our domain, to be signed).
 *
 * Determinism: message text and envelopes come from a seeded PRNG; the DKIM keys are made once
 * and kept in `bench/results/keys/` (git-ignored), and RSA PKCS#1 v1.5 and Ed25519 signatures
 * are deterministic for a given key, so the same seed and keys give byte-identical messages.
 *
 * Signing of the inbound half uses mailauth's `dkimSign` (an implementation independent of
 * ours; OpenDKIM and rspamd verifying these signatures in the run is the cross-check).
 *
 * `node bench/corpus.ts [--out DIR] [--count N] [--seed S]` writes the corpus as .eml files.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import { prng } from '../test/support/prng.ts';
import type { HeaderField } from '../src/mail/header.ts';

/** Our own domain: outbound mail is From this domain; inbound mail is addressed to it. */
export const OUR_DOMAIN = 'mailanchor.example';
/** The Authentication-Results authserv-id every peer is configured with. */
export const AUTHSERV_ID = 'mx.mailanchor.example';
export const RSA_SELECTOR = 'rsa2026';
export const ED_SELECTOR = 'ed2026';
/** Sender domains of inbound mail; each has keys, SPF, DMARC (p=reject) and iprev records. */
export const SENDER_DOMAINS = Array.from({ length: 12 }, (_, i) => `sender${String(i + 1).padStart(2, '0')}.example`);
/** A mailing-list domain that re-signs without From alignment (DMARC then rests on SPF or fails). */
export const LIST_DOMAIN = 'lists.bench.example';
/** Inbound clients connect from 198.51.100.0/24 (TEST-NET-2; SPF-authorised for every sender domain). */
export const INBOUND_NET = '198.51.100';
/** Outbound clients: our submission hosts in 10.20.0.0/16, authenticated (`{auth_authen}`). */
export const OUTBOUND_NET = '10.20.0';

export type Direction = 'inbound' | 'outbound';

/** One message as an MTA would hand it to a milter: envelope, client, macros and raw bytes. */
export interface BenchMessage {
  readonly id: string;
  readonly direction: Direction;
  readonly clientAddress: string;
  readonly clientHostname: string;
  readonly helo: string;
  readonly mailFrom: string;
  readonly rcptTo: readonly string[];
  /** Extra macros (beyond `i`, `j`, client macros), e.g. `{auth_authen}` for submission. */
  readonly macros: Readonly<Record<string, string>>;
  /** Header section + CRLF + body, CRLF line ends (as Postfix hands it to milters). */
  readonly raw: Buffer;
  /** Byte offset where the body starts (after the empty line). */
  readonly bodyOffset: number;
}

export interface DomainKeys {
  readonly domain: string;
  readonly rsa: KeyObject;
  readonly ed25519: KeyObject;
}

export interface Corpus {
  readonly messages: readonly BenchMessage[];
  readonly keys: readonly DomainKeys[];
  /** Where the PEM files live (`<domain>.<selector>.key`), for peers that read key files. */
  readonly keysDir: string;
}

/** Keys for every domain, made once and kept as PEM files in `dir`. */
export function loadOrCreateKeys(dir: string): DomainKeys[] {
  mkdirSync(dir, { recursive: true });
  const domains = [OUR_DOMAIN, ...SENDER_DOMAINS, LIST_DOMAIN];
  return domains.map((domain) => {
    const rsaPath = join(dir, `${domain}.${RSA_SELECTOR}.key`);
    const edPath = join(dir, `${domain}.${ED_SELECTOR}.key`);
    if (!existsSync(rsaPath)) {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      writeFileSync(rsaPath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o644 });
    }
    if (!existsSync(edPath)) {
      const { privateKey } = generateKeyPairSync('ed25519');
      writeFileSync(edPath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o644 });
    }
    return { domain, rsa: createPrivateKey(readFileSync(rsaPath)), ed25519: createPrivateKey(readFileSync(edPath)) };
  });
}

/** The DKIM key TXT record value (RFC 6376 §3.6.1; Ed25519 per RFC 8463 §4: raw 32-byte key). */
export function dkimTxt(key: KeyObject): string {
  const pub = createPublicKey(key);
  if (key.asymmetricKeyType === 'ed25519') {
    const der = pub.export({ type: 'spki', format: 'der' });
    return `v=DKIM1; k=ed25519; p=${der.subarray(der.length - 32).toString('base64')}`;
  }
  return `v=DKIM1; k=rsa; p=${pub.export({ type: 'spki', format: 'der' }).toString('base64')}`;
}

// ---------------------------------------------------------------------------------------------
// Text material. 8-bit bodies: UTF-8 in several scripts, sent as Content-Transfer-Encoding: 8bit.

const WORDS_EN = 'the of and to in is for that with on as by this be are from at or an it we will project meeting report invoice attached please review schedule budget quarter update team customer delivery thanks regards'.split(' ');
const WORDS_DE = 'Grüße Änderung Übersicht Bestätigung für über Straße Größe Prüfung Rückmeldung Lösung Angebot Rechnung Termin'.split(' ');
const WORDS_FR = 'réunion été déjà très à propos reçu problème prévu équipe lundi mercredi préférence'.split(' ');
const WORDS_JA = 'こんにちは 会議 資料 確認 よろしく お願いします 添付 ファイル 予定 東京'.split(' ');
const NAMES = ['Alice Martin', 'Bjørn Ødegård', 'Chloé Dubois', 'Dmitri Ivanov', 'Élodie Roux', 'Jürgen Weiß', '山田 太郎', 'Priya Natarajan', 'Sam O\'Neill', 'Zoë Brandt'];

function pick<T>(rand: () => number, list: readonly T[]): T {
  return list[Math.floor(rand() * list.length)] as T;
}

function sentence(rand: () => number): string {
  const pool = rand() < 0.55 ? WORDS_EN : pick(rand, [WORDS_DE, WORDS_FR, WORDS_JA, WORDS_EN]);
  const n = 6 + Math.floor(rand() * 14);
  const words: string[] = [];
  for (let i = 0; i < n; i++) words.push(pick(rand, pool));
  const s = words.join(pool === WORDS_JA ? '' : ' ');
  return s.charAt(0).toUpperCase() + s.slice(1) + (pool === WORDS_JA ? '。' : '.');
}

/** A text body of about `bytes` bytes, lines wrapped under 78 octets, paragraphs, a quoted part. */
function textBody(rand: () => number, bytes: number): string {
  const lines: string[] = [];
  let size = 0;
  let line = '';
  const quoted = rand() < 0.3;
  while (size < bytes) {
    const s = sentence(rand);
    if (Buffer.byteLength(line) + Buffer.byteLength(s) + 1 > 72) {
      const out = quoted && lines.length > 6 && lines.length % 9 > 4 ? `> ${line}` : line;
      lines.push(out);
      size += Buffer.byteLength(out) + 2;
      line = s;
      if (rand() < 0.12) {
        lines.push('');
        size += 2;
      }
    } else line = line ? `${line} ${s}` : s;
  }
  if (line) lines.push(line);
  return lines.join('\r\n') + '\r\n';
}

function htmlBody(text: string): string {
  const paras = text.split('\r\n\r\n').map((p) => `<p>${p.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/\r\n/g, '<br>\r\n')}</p>`);
  return `<!DOCTYPE html>\r\n<html><head><meta charset="utf-8"></head><body>\r\n${paras.join('\r\n')}\r\n</body></html>\r\n`;
}

/** Base64 of `bytes` pseudo-random bytes, 76-column lines (RFC 2045 §6.8). */
function base64Attachment(rand: () => number, bytes: number): string {
  const buf = Buffer.allocUnsafe(bytes);
  for (let i = 0; i < bytes; i += 4) buf.writeUInt32LE((rand() * 4294967296) >>> 0, Math.min(i, bytes - 4));
  const b64 = buf.toString('base64');
  const out: string[] = [];
  for (let i = 0; i < b64.length; i += 76) out.push(b64.slice(i, i + 76));
  return out.join('\r\n') + '\r\n';
}

/** An ASCII mailbox local part from a display name's first word. */
function ascii(name: string): string {
  return (name.split(' ')[0] ?? '').normalize('NFD').replace(/[^a-zA-Z]/g, '').toLowerCase() || 'user';
}

/** RFC 2047 encoded-word for a non-ASCII display name or subject. */
function encodeWord(s: string): string {
  return /^[\x20-\x7e]*$/.test(s) ? s : `=?UTF-8?B?${Buffer.from(s).toString('base64')}?=`;
}

/** Target size: mostly small text mail, a tail of attachments up to 1 MB. */
function targetSize(rand: () => number): number {
  const r = rand();
  if (r < 0.7) return 2048 + Math.floor(rand() * 18 * 1024); // 2–20 KB
  if (r < 0.92) return 20 * 1024 + Math.floor(rand() * 180 * 1024); // 20–200 KB
  return 200 * 1024 + Math.floor(rand() * 824 * 1024); // 200 KB – 1 MB
}

const BASE_DATE = Date.UTC(2026, 10, 2, 8, 0, 0);

interface Draft {
  headers: [string, string][]; // name, value (value includes leading space, may be folded)
  body: string;
}

function makeDraft(rand: () => number, n: number, from: string, fromName: string, to: string, clientIp: string, clientHost: string, direction: Direction): Draft {
  const size = targetSize(rand);
  const date = new Date(BASE_DATE + n * 37_000).toUTCString().replace('GMT', '+0000');
  const subjectText = sentence(rand).slice(0, 60);
  const msgId = `<${n.toString(36)}.${Math.floor(rand() * 1e9).toString(36)}@${from.split('@')[1]}>`;
  const headers: [string, string][] = [];
  if (direction === 'inbound') {
    headers.push(['Received', ` from ${clientHost} (${clientHost} [${clientIp}])\r\n\tby mx.${from.split('@')[1]} with ESMTPS id ${n.toString(16).toUpperCase()}\r\n\tfor <${to}>; ${date}`]);
  }
  headers.push(['From', ` ${encodeWord(fromName)} <${from}>`]);
  headers.push(['To', ` ${to}`]);
  if (rand() < 0.3) headers.push(['Cc', ` ${ascii(pick(rand, NAMES))}@${OUR_DOMAIN},\r\n ${pick(rand, ['ops', 'sales', 'team'])}@${OUR_DOMAIN}`]);
  headers.push(['Subject', ` ${encodeWord(subjectText)}`]);
  headers.push(['Date', ` ${date}`]);
  headers.push(['Message-ID', ` ${msgId}`]);
  headers.push(['MIME-Version', ' 1.0']);
  if (rand() < 0.4) headers.push(['List-Unsubscribe', ` <mailto:unsubscribe@${from.split('@')[1]}?subject=unsubscribe>,\r\n <https://${from.split('@')[1]}/unsubscribe/${n}>`]);
  if (rand() < 0.5) headers.push(['X-Mailer', ` BenchMailer ${1 + Math.floor(rand() * 9)}.${Math.floor(rand() * 20)}`]);

  const boundary = `=_b${n}_${Math.floor(rand() * 1e9).toString(36)}`;
  if (size < 20 * 1024 && rand() < 0.6) {
    headers.push(['Content-Type', ' text/plain; charset=utf-8; format=flowed']);
    headers.push(['Content-Transfer-Encoding', ' 8bit']);
    return { headers, body: textBody(rand, Math.max(1500, size - 900)) };
  }
  const textSize = Math.min(size - 1200, 6 * 1024 + Math.floor(rand() * 10 * 1024));
  const text = textBody(rand, Math.max(600, textSize));
  if (size < 20 * 1024) {
    headers.push(['Content-Type', ` multipart/alternative;\r\n\tboundary="${boundary}"`]);
    const body = [`--${boundary}`, 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '', text, `--${boundary}`, 'Content-Type: text/html; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '', htmlBody(text), `--${boundary}--`, ''].join('\r\n');
    return { headers, body };
  }
  headers.push(['Content-Type', ` multipart/mixed;\r\n\tboundary="${boundary}"`]);
  const parts: string[] = [`--${boundary}`, 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '', text];
  let remaining = size - Buffer.byteLength(text) - 1500;
  let k = 0;
  while (remaining > 1024) {
    const raw = Math.floor((k === 0 && rand() < 0.5 ? remaining : remaining * (0.4 + rand() * 0.6)) * 0.74);
    const name = `${pick(rand, ['report', 'scan', 'Übersicht', 'invoice', 'photo'])}-${n}-${k}.${pick(rand, ['pdf', 'jpg', 'xlsx', 'zip'])}`;
    const b64 = base64Attachment(rand, Math.max(256, raw));
    parts.push(`--${boundary}`, `Content-Type: application/octet-stream;\r\n\tname="${encodeWord(name)}"`, 'Content-Transfer-Encoding: base64', `Content-Disposition: attachment;\r\n\tfilename="${encodeWord(name)}"`, '', b64);
    remaining -= b64.length + 200;
    k++;
  }
  parts.push(`--${boundary}--`, '');
  return { headers, body: parts.join('\r\n') };
}

function render(d: Draft): { raw: Buffer; bodyOffset: number } {
  const head = d.headers.map(([n, v]) => `${n}:${v}\r\n`).join('') + '\r\n';
  const h = Buffer.from(head);
  return { raw: Buffer.concat([h, Buffer.from(d.body)]), bodyOffset: h.length };
}

const SIGNED_HEADERS = ['From', 'To', 'Cc', 'Subject', 'Date', 'Message-ID', 'MIME-Version', 'Content-Type', 'Content-Transfer-Encoding', 'List-Unsubscribe'];

async function sign(raw: Buffer, domain: string, selector: string, key: KeyObject, signTime: Date): Promise<string> {
  const res = await dkimSign(raw, {
    canonicalization: 'relaxed/relaxed',
    headerList: SIGNED_HEADERS.join(':'),
    signTime,
    signatureData: [{ signingDomain: domain, selector, privateKey: key.export({ type: 'pkcs8', format: 'pem' }) }],
  } as unknown as Parameters<typeof dkimSign>[1]);
  if (res.errors.length || !res.signatures) throw new Error(`corpus: signing failed for ${domain}: ${JSON.stringify(res.errors)}`);
  return res.signatures;
}

export interface CorpusOptions {
  /** Number of messages (half inbound, half outbound). */
  readonly count?: number;
  readonly seed?: number;
  readonly keysDir?: string;
}

/**
 * Builds the corpus. Inbound signature mix (seeded): 60% RSA only, 25% RSA + Ed25519,
 * 5% Ed25519 only, 5% re-signed by a non-aligned list domain on top of the author's RSA
 * signature, 5% with a body altered after signing (dkim=fail).
 */
export async function buildCorpus(opts: CorpusOptions = {}): Promise<Corpus> {
  const count = opts.count ?? 400;
  const rand = prng(opts.seed ?? 20261122);
  const keysDir = opts.keysDir ?? join(import.meta.dirname, 'results', 'keys');
  const keys = loadOrCreateKeys(keysDir);
  const keyOf = new Map(keys.map((k) => [k.domain, k]));
  const messages: BenchMessage[] = [];
  for (let n = 0; n < count; n++) {
    const direction: Direction = n % 2 === 0 ? 'inbound' : 'outbound';
    const id = `${direction === 'inbound' ? 'in' : 'out'}-${String(n).padStart(4, '0')}`;
    const person = pick(rand, NAMES);
    const local = ascii(person);
    if (direction === 'inbound') {
      const domain = pick(rand, SENDER_DOMAINS);
      const octet = 10 + Math.floor(rand() * 200);
      const clientIp = `${INBOUND_NET}.${octet}`;
      const clientHost = `mx${octet}.relay.example`; // iprev: PTR and A records in the bench zone
      const from = `${local}@${domain}`;
      const to = `${pick(rand, ['alice', 'bob', 'carol', 'dave', 'erin'])}@${OUR_DOMAIN}`;
      const draft = makeDraft(rand, n, from, person, to, clientIp, clientHost, 'inbound');
      const { raw } = render(draft);
      const k = keyOf.get(domain)!;
      const signTime = new Date(BASE_DATE + n * 37_000);
      const mix = rand();
      let sigs = '';
      if (mix < 0.6) sigs = await sign(raw, domain, RSA_SELECTOR, k.rsa, signTime);
      else if (mix < 0.85) sigs = (await sign(raw, domain, ED_SELECTOR, k.ed25519, signTime)) + (await sign(raw, domain, RSA_SELECTOR, k.rsa, signTime));
      else if (mix < 0.9) sigs = await sign(raw, domain, ED_SELECTOR, k.ed25519, signTime);
      else if (mix < 0.95) {
        const author = await sign(raw, domain, RSA_SELECTOR, k.rsa, signTime);
        const list = keyOf.get(LIST_DOMAIN)!;
        sigs = (await sign(Buffer.concat([Buffer.from(author), raw]), LIST_DOMAIN, RSA_SELECTOR, list.rsa, signTime)) + author;
      } else sigs = await sign(raw, domain, RSA_SELECTOR, k.rsa, signTime);
      let full = Buffer.concat([Buffer.from(sigs), raw]);
      if (mix >= 0.95) full = Buffer.concat([full, Buffer.from('-- \r\nAdded by a forwarder after signing.\r\n')]); // breaks bh=
      const bodyOffset = full.indexOf('\r\n\r\n') + 4;
      messages.push({ id, direction, clientAddress: clientIp, clientHostname: clientHost, helo: clientHost, mailFrom: `bounce-${n}@${domain}`, rcptTo: [to], macros: {}, raw: full, bodyOffset });
    } else {
      const octet = 10 + Math.floor(rand() * 200);
      const clientIp = `${OUTBOUND_NET}.${octet}`;
      const from = `${local}@${OUR_DOMAIN}`;
      const rcpts = [`${pick(rand, ['info', 'support', 'ceo', 'jobs'])}@${pick(rand, SENDER_DOMAINS)}`];
      if (rand() < 0.2) rcpts.push(`team@${pick(rand, SENDER_DOMAINS)}`);
      const draft = makeDraft(rand, n, from, person, rcpts[0]!, clientIp, `ws${octet}.${OUR_DOMAIN}`, 'outbound');
      const { raw, bodyOffset } = render(draft);
      messages.push({ id, direction, clientAddress: clientIp, clientHostname: `ws${octet}.${OUR_DOMAIN}`, helo: `ws${octet}.${OUR_DOMAIN}`, mailFrom: from, rcptTo: rcpts, macros: { '{auth_type}': 'PLAIN', '{auth_authen}': local }, raw, bodyOffset });
    }
  }
  return { messages, keys, keysDir };
}

/** A message of `bytes` bytes (one big base64 attachment), for the peak-RSS-under-a-large-message cell. */
export function bigMessage(direction: Direction, bytes: number, seed = 50): BenchMessage {
  const rand = prng(seed);
  const from = direction === 'inbound' ? `big@${SENDER_DOMAINS[0]}` : `big@${OUR_DOMAIN}`;
  const to = direction === 'inbound' ? `alice@${OUR_DOMAIN}` : `info@${SENDER_DOMAINS[0]}`;
  const boundary = '=_big';
  const head = [`From: Big Sender <${from}>`, `To: ${to}`, 'Subject: large attachment', `Date: ${new Date(BASE_DATE).toUTCString()}`, `Message-ID: <big.${seed}@${from.split('@')[1]}>`, 'MIME-Version: 1.0', `Content-Type: multipart/mixed; boundary="${boundary}"`, '', ''].join('\r\n');
  const att = base64Attachment(rand, Math.floor(bytes * 0.74));
  const body = `--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee attachment.\r\n--${boundary}\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n${att}--${boundary}--\r\n`;
  const h = Buffer.from(head);
  const inbound = direction === 'inbound';
  return {
    id: `big-${direction}`,
    direction,
    clientAddress: inbound ? `${INBOUND_NET}.9` : `${OUTBOUND_NET}.9`,
    clientHostname: inbound ? 'mx9.relay.example' : `ws9.${OUR_DOMAIN}`,
    helo: inbound ? 'mx9.relay.example' : `ws9.${OUR_DOMAIN}`,
    mailFrom: from,
    rcptTo: [to],
    macros: inbound ? {} : { '{auth_type}': 'PLAIN', '{auth_authen}': 'big' },
    raw: Buffer.concat([h, Buffer.from(body)]),
    bodyOffset: h.length,
  };
}

/** `bigMessage`, and for inbound DKIM-signed (RSA-2048) by its sender domain so verifiers hash all of it. */
export async function bigMessageSigned(direction: Direction, bytes: number, keys: readonly DomainKeys[]): Promise<BenchMessage> {
  const m = bigMessage(direction, bytes);
  if (direction === 'outbound') return m;
  const domain = SENDER_DOMAINS[0]!;
  const k = keys.find((x) => x.domain === domain)!;
  const sig = Buffer.from(await sign(m.raw, domain, RSA_SELECTOR, k.rsa, new Date(BASE_DATE)));
  return { ...m, raw: Buffer.concat([sig, m.raw]), bodyOffset: m.bodyOffset + sig.length };
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { out: { type: 'string' }, count: { type: 'string' }, seed: { type: 'string' } } });
  const corpus = await buildCorpus({ count: Number(values.count ?? 400), seed: Number(values.seed ?? 20261122) });
  const sizes = corpus.messages.map((m) => m.raw.length).sort((a, b) => a - b);
  const total = sizes.reduce((a, b) => a + b, 0);
  process.stdout.write(`${corpus.messages.length} messages, ${(total / 1048576).toFixed(1)} MiB, min ${sizes[0]} B, median ${sizes[sizes.length >> 1]} B, max ${sizes.at(-1)} B, mean ${Math.round(total / sizes.length)} B\n`);
  if (values.out) {
    mkdirSync(values.out, { recursive: true });
    for (const m of corpus.messages) writeFileSync(join(values.out, `${m.id}.eml`), m.raw);
    process.stdout.write(`written to ${values.out}\n`);
  }
}

/** A message's header fields as the milter hands them over (LF folding, leading space kept) and its body. */
export function milterFields(m: BenchMessage): { headers: HeaderField[]; body: Buffer } {
  const head = m.raw.subarray(0, m.bodyOffset - 2).toString('latin1');
  const headers: HeaderField[] = [];
  for (const l of head.split('\r\n')) {
    if (l === '') continue;
    if (/^[ \t]/.test(l)) {
      const last = headers.pop()!;
      headers.push({ name: last.name, value: `${last.value}\n${l}` });
    } else {
      const c = l.indexOf(':');
      headers.push({ name: l.slice(0, c), value: l.slice(c + 1) });
    }
  }
  return { headers, body: m.raw.subarray(m.bodyOffset) };
}
