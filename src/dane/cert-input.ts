/**
 * Reads what `mailanchor tlsa` is given: PEM certificate chains (leaf first, then its
 * issuers — the order Postfix's `smtpd_tls_chain_files` and certbot's fullchain.pem use),
 * optionally with the private key in the same file, or a bare public/private key (the
 * next key of a rollover). Every defect is a `DaneError` naming the file; nothing here
 * guesses, so a wrong input can never become a wrong record.
 */
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { DaneError } from './errors.ts';

export interface CertChain {
  readonly kind: 'chain';
  readonly file: string;
  /** Leaf first, each followed by its issuer. */
  readonly certs: readonly X509Certificate[];
  /** The private key found in the same file, already checked against the leaf. */
  readonly hasPrivateKey: boolean;
  /**
   * Certificates outside their validity period at `ParseOptions.now`. Not an input error:
   * DANE-EE (usage 3) ignores names and dates (RFC 7672 §3.1.1), so `tlsa-compute.ts`
   * still derives `3 x x` from an expired leaf and decides what the other usages allow.
   */
  readonly validity: readonly ValidityProblem[];
}

/** A certificate of a chain that is expired or not yet valid. */
export interface ValidityProblem {
  readonly kind: 'expired' | 'not-yet-valid';
  /** Index in the chain (0 = leaf). */
  readonly index: number;
  /** One-line subject (see `certName`). */
  readonly subject: string;
  /** notAfter for `expired`, notBefore for `not-yet-valid`. */
  readonly at: Date;
}

export interface BareKey {
  readonly kind: 'key';
  readonly file: string;
  /** SubjectPublicKeyInfo, DER. */
  readonly spki: Buffer;
}

export type TlsaSource = CertChain | BareKey;

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

export interface PemBlock {
  readonly label: string;
  readonly der: Buffer;
  readonly text: string;
}

export function pemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    out.push({ label: m[1]!, der: Buffer.from(m[2]!.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64'), text: m[0] });
  }
  return out;
}

/** DER starts with a SEQUENCE tag; PEM is ASCII. Used only to name the mistake. */
function looksLikeDer(bytes: Buffer): boolean {
  return bytes.length > 2 && bytes[0] === 0x30 && (bytes[1]! & 0x80) !== 0 && bytes.subarray(0, 64).some((b) => b > 0x7e || (b < 0x09));
}

export interface ParseOptions {
  /** Clock in ms for the validity check (reported in `CertChain.validity`). */
  readonly now: number;
}

/** Parses one file's bytes; `file` names it in every error. */
export function parseTlsaSource(file: string, bytes: Buffer, options: ParseOptions): TlsaSource {
  if (looksLikeDer(bytes)) {
    throw new DaneError('DER_NOT_PEM', `${file}: this is DER (binary), not PEM; convert it with \`openssl x509 -inform DER -in ${file} -out ${file}.pem\``, { file });
  }
  const blocks = pemBlocks(bytes.toString('latin1'));
  const certBlocks = blocks.filter((b) => b.label === 'CERTIFICATE' || b.label === 'TRUSTED CERTIFICATE');
  const keyBlocks = blocks.filter((b) => b.label.endsWith('PRIVATE KEY') || b.label.endsWith('PUBLIC KEY'));
  if (certBlocks.length === 0) {
    if (keyBlocks.length === 0) throw new DaneError('NOT_CERTIFICATE', `${file}: no PEM certificate or key found`, { file });
    if (keyBlocks.length > 1) throw new DaneError('NOT_CERTIFICATE', `${file}: ${keyBlocks.length} keys and no certificate; give one key per file`, { file });
    return { kind: 'key', file, spki: spkiOf(file, keyBlocks[0]!) };
  }
  const certs = certBlocks.map((b, i) => {
    try {
      return new X509Certificate(b.der);
    } catch (err) {
      throw new DaneError('NOT_CERTIFICATE', `${file}: certificate #${i + 1} does not parse: ${(err as Error).message}`, { file, index: i }, { cause: err });
    }
  });
  checkOrder(file, certs);
  const privates = keyBlocks.filter((b) => b.label.endsWith('PRIVATE KEY'));
  if (privates.length > 1) throw new DaneError('KEY_MISMATCH', `${file}: more than one private key in a chain file`, { file });
  if (privates[0]) checkKeyMatches(file, certs[0]!, privateKeyOf(file, privates[0]));
  return { kind: 'chain', file, certs, hasPrivateKey: privates.length === 1, validity: validityProblems(certs, options.now) };
}

export async function readTlsaSource(file: string, options: ParseOptions): Promise<TlsaSource> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new DaneError('UNREADABLE', `${file}: ${(err as Error).message}`, { file }, { cause: err });
  }
  return parseTlsaSource(file, bytes, options);
}

/** A separate key file (`--key`) must belong to the chain's leaf. */
export function checkKeyMatches(file: string, leaf: X509Certificate, key: KeyObject): void {
  const ok = key.type === 'private' ? leaf.checkPrivateKey(key) : leaf.publicKey.equals(key);
  if (!ok) throw new DaneError('KEY_MISMATCH', `${file}: the key does not belong to the certificate ${certName(leaf)}`, { file });
}

function privateKeyOf(file: string, b: PemBlock): KeyObject {
  try {
    return createPrivateKey(b.text);
  } catch (err) {
    throw new DaneError('NOT_CERTIFICATE', `${file}: the ${b.label} does not parse (encrypted keys are not supported): ${(err as Error).message}`, { file }, { cause: err });
  }
}

function spkiOf(file: string, b: PemBlock): Buffer {
  try {
    // createPublicKey accepts a private key too and derives its public half.
    const pub = b.label.endsWith('PRIVATE KEY') ? createPublicKey(privateKeyOf(file, b)) : createPublicKey(b.text);
    return pub.export({ type: 'spki', format: 'der' });
  } catch (err) {
    if (err instanceof DaneError) throw err;
    throw new DaneError('NOT_CERTIFICATE', `${file}: the ${b.label} does not parse: ${(err as Error).message}`, { file }, { cause: err });
  }
}

/** Which certificates are outside their dates at `now` (leaf first). */
export function validityProblems(certs: readonly X509Certificate[], now: number): ValidityProblem[] {
  const out: ValidityProblem[] = [];
  certs.forEach((c, index) => {
    if (c.validToDate.getTime() < now) out.push({ kind: 'expired', index, subject: certName(c), at: c.validToDate });
    else if (c.validFromDate.getTime() > now) out.push({ kind: 'not-yet-valid', index, subject: certName(c), at: c.validFromDate });
  });
  return out;
}

/** RFC 8446 §4.4.2 / RFC 5246: the sender's certificate first, each following one certifying the one before. */
function checkOrder(file: string, certs: readonly X509Certificate[]): void {
  for (let i = 0; i + 1 < certs.length; i++) {
    const child = certs[i]!;
    const parent = certs[i + 1]!;
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) {
      const hint = certs.some((p, j) => j !== i + 1 && j > 0 && child.checkIssued(p)) ? ' (its issuer is elsewhere in the file: reorder leaf first, then issuers)' : '';
      throw new DaneError(
        'CHAIN_ORDER',
        `${file}: certificate #${i + 2} (${certName(parent)}) did not issue certificate #${i + 1} (${certName(child)}); expected leaf first, each followed by its issuer${hint}`,
        { file, index: i + 1 },
      );
    }
  }
}

/**
 * A distinguished name on one line. Node gives `undefined` for an empty DN (RFC 5280
 * §4.1.2.6 allows an empty subject when the names are in subjectAltName, e.g.
 * `openssl req -x509 -subj /`), so that is a value here, never a crash.
 */
export const oneLine = (dn: string | undefined): string => (dn === undefined || dn === '' ? '' : dn.split('\n').join(', '));

/** How a certificate is named in messages and output: its subject, or its SAN when the subject is empty. */
export function certName(cert: X509Certificate): string {
  const subject = oneLine(cert.subject);
  if (subject !== '') return subject;
  const san = cert.subjectAltName;
  return san ? `(empty subject; ${san})` : '(empty subject)';
}
