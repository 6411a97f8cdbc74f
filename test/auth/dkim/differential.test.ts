/**
 * Differential test (issue 17): a generated corpus — signed by our signer, by mailauth's
 * dkimSign and by python3-dkim's dkim.sign; re-folded, whitespace-changed, truncated,
 * tampered, appended to, with replayed header fields; l=, rsa-sha1, i=, x=; keys as SPKI and
 * PKCS#1, 512/1024/2048/4096-bit RSA, Ed25519, revoked, t=s, t=y, h=sha1, missing, DNS down —
 * verified by DkimVerifier, by mailauth 7 in strict mode (devDependency oracle) and by
 * python3-dkim. Verdicts must agree; every difference is listed below with the RFC text that
 * decides it, and the test fails on a difference that is not listed (or a listed one that no
 * longer occurs, so the list stays true).
 *
 * Verdict classes: mailauth's strict mode reports a signature it cannot process as `neutral`
 * (RFC 8601 §2.7.1 allows either word for "contained syntax errors or were not otherwise able
 * to be processed"); we say `permerror`, so neutral counts as permerror. python3-dkim only says
 * valid or not: valid must be our pass.
 */
import test from 'ava';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import { BodyHasher, signMessage, type Canonicalization } from '../../../src/auth/dkim/sign.ts';
import { decodeConfig } from '../../../src/config/load.ts';
import type { DkimSignatureCheck } from '../../../src/auth/results.ts';
import { fakeLookup, type FakeName } from '../../support/fake-dns.ts';
import { keyRecord, mailauthStrict, signRaw, verifyMessage } from '../../support/dkim-run.ts';
import { pythonDkimSignBatch, pythonDkimVerifyBatch, type PythonSignJob } from '../../support/dkim-verifiers.ts';
import { splitMessage } from '../../support/raw-message.ts';

const pythonMissing = existsSync('/usr/bin/python3') && existsSync('/usr/lib/python3/dist-packages/dkim') ? undefined : 'python3-dkim not installed';

const NOW = Date.now();
const T = Math.floor(NOW / 1000) - 3600;
const DOMAIN = 'sender.example';

const rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
const rsa4096 = generateKeyPairSync('rsa', { modulusLength: 4096 }).privateKey;
const rsa512 = generateKeyPairSync('rsa', { modulusLength: 512 }).privateKey;
const ed = generateKeyPairSync('ed25519').privateKey;

/** Selectors of sender.example: the key that signs, and what DNS serves (undefined: NXDOMAIN). */
const SELECTORS: Record<string, { key: KeyObject; record: string | undefined | 'SERVFAIL' }> = {
  r2048: { key: rsa2048, record: keyRecord(rsa2048) },
  pkcs1: { key: rsa2048, record: keyRecord(rsa2048, '', { pkcs1: true }) },
  r1024: { key: rsa1024, record: keyRecord(rsa1024) },
  r4096: { key: rsa4096, record: keyRecord(rsa4096) },
  r512: { key: rsa512, record: keyRecord(rsa512) },
  ed: { key: ed, record: keyRecord(ed) },
  revoked: { key: rsa2048, record: 'v=DKIM1; k=rsa; p=' },
  strict: { key: rsa2048, record: keyRecord(rsa2048, 't=s') },
  testing: { key: rsa2048, record: keyRecord(rsa2048, 't=y') },
  hsha1: { key: rsa2048, record: keyRecord(rsa2048, 'h=sha1') },
  rsarecord: { key: ed, record: keyRecord(rsa2048) }, // an Ed25519 signature, an RSA key
  gone: { key: rsa2048, record: undefined },
  down: { key: rsa2048, record: 'SERVFAIL' },
};

function zone(): ReturnType<typeof fakeLookup> {
  const z: Record<string, FakeName> = {};
  for (const [sel, { record }] of Object.entries(SELECTORS)) {
    if (record === 'SERVFAIL') z[`${sel}._domainkey.${DOMAIN}`] = { TXT: { error: 'SERVFAIL' } };
    else if (record !== undefined) z[`${sel}._domainkey.${DOMAIN}`] = { TXT: [record] };
  }
  return fakeLookup(z);
}
const pythonRecords = Object.fromEntries(Object.entries(SELECTORS).filter(([, s]) => s.record !== undefined).map(([sel, s]) => [`${sel}._domainkey.${DOMAIN}`, s.record === 'SERVFAIL' ? '!SERVFAIL' : s.record!]));

const head = (extra = '') =>
  `From: Alice Example <alice@${DOMAIN}>\r\nTo: Bob <bob@example.net>,\r\n Carol <carol@example.net>\r\nSubject: a quarterly report\r\nDate: Tue, 01 Dec 2026 09:00:00 +0000\r\nMessage-ID: <m1@${DOMAIN}>\r\nMIME-Version: 1.0\r\n${extra}`;
const MESSAGES: Record<string, string> = {
  plain: `${head()}\r\nHello Bob,\r\n\r\nthe report is attached.\r\n`,
  spaced: `${head('Content-Type: text/plain;  charset=us-ascii\r\n')}\r\n  indented   line\t with\ttabs  \r\n\r\n\r\nlast\r\n\r\n\r\n`,
  eightbit: Buffer.from(`${head('Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n').replace('a quarterly report', 'Grüße aus Köln')}\r\nZürich, Łódź, 東京.\r\n`, 'utf8').toString('latin1'),
  empty: `${head()}\r\n`,
  nofinal: `${head()}\r\nno final line break`,
  multipart: `${head('Content-Type: multipart/alternative; boundary="b1"\r\n')}\r\n--b1\r\nContent-Type: text/plain\r\n\r\ntext part\r\n--b1\r\nContent-Type: text/html\r\n\r\n<p>html part</p>\r\n--b1--\r\n`,
  duplicated: `${head().replace('Subject:', 'Subject: first\r\nSubject:')}\r\nTwo Subject fields.\r\n`,
};

const SIGN_HEADERS = ['from', 'to', 'cc', 'subject', 'date', 'message-id', 'mime-version', 'content-type'];
const OVERSIGN = decodeConfig({}).config.outbound.oversign;

type Signer = 'ours' | 'mailauth' | 'python';
type Canon2 = 'relaxed/relaxed' | 'simple/simple' | 'relaxed/simple';

interface SignSpec {
  readonly signer: Signer;
  readonly selector: string;
  readonly canon: Canon2;
  readonly algorithm?: 'rsa-sha1';
  /** l=: `true` = the whole body (python), a number = that many octets (mailauth). */
  readonly length?: boolean | number;
  readonly identity?: string;
  /** Seconds after t= (x=), negative for an expired signature. */
  readonly expiresIn?: number;
}

function algorithmOf(s: SignSpec): 'rsa-sha256' | 'rsa-sha1' | 'ed25519-sha256' {
  return s.algorithm ?? (SELECTORS[s.selector]!.key.asymmetricKeyType === 'ed25519' ? 'ed25519-sha256' : 'rsa-sha256');
}

async function signOurs(raw: Buffer, s: SignSpec): Promise<Buffer> {
  const { headers, body } = splitMessage(raw);
  const h = new BodyHasher(s.canon.split('/')[1] as 'simple' | 'relaxed');
  h.write(body);
  const timestamp = s.expiresIn !== undefined && s.expiresIn < 0 ? T - 7200 : T;
  const value = await signMessage({
    key: { id: s.selector, domain: DOMAIN, selector: s.selector, algorithm: algorithmOf(s) as 'rsa-sha256' | 'ed25519-sha256', privateKey: SELECTORS[s.selector]!.key },
    headers,
    bodyHash: h.digest(),
    canonicalization: s.canon as Canonicalization,
    signHeaders: SIGN_HEADERS,
    oversignHeaders: OVERSIGN,
    timestamp,
    ...(s.expiresIn !== undefined ? { expiresInSec: s.expiresIn < 0 ? 3600 : s.expiresIn } : {}),
  });
  return Buffer.concat([Buffer.from(`DKIM-Signature: ${value}\r\n`, 'latin1'), raw]);
}

async function signMailauth(raw: Buffer, s: SignSpec): Promise<Buffer> {
  const expired = s.expiresIn !== undefined && s.expiresIn < 0;
  const signTime = new Date((expired ? T - 7200 : T) * 1000);
  const res = await dkimSign(raw, {
    canonicalization: s.canon,
    signTime,
    headerList: SIGN_HEADERS.join(':'),
    ...(s.algorithm ? { algorithm: s.algorithm } : {}),
    ...(typeof s.length === 'number' ? { maxBodyLength: s.length } : {}),
    ...(s.identity ? { identity: s.identity } : {}),
    ...(s.expiresIn !== undefined ? { expires: new Date(signTime.getTime() + (expired ? 3600 : s.expiresIn) * 1000) } : {}),
    signatureData: [{ signingDomain: DOMAIN, selector: s.selector, privateKey: SELECTORS[s.selector]!.key.export({ type: 'pkcs8', format: 'pem' }) }],
  } as unknown as Parameters<typeof dkimSign>[1]);
  if (!res.signatures) throw new Error(`mailauth did not sign: ${JSON.stringify(res.errors)}`);
  return Buffer.concat([Buffer.from(res.signatures, 'latin1'), raw]);
}

function pythonJob(raw: Buffer, s: SignSpec): PythonSignJob {
  const key = SELECTORS[s.selector]!.key;
  const privateKey =
    key.asymmetricKeyType === 'ed25519'
      ? Buffer.from(key.export({ format: 'jwk' }).d!, 'base64url').toString('base64')
      : (key.export({ type: 'pkcs1', format: 'pem' }) as string);
  return { message: raw, selector: s.selector, domain: DOMAIN, privateKey, algorithm: algorithmOf(s), canonicalization: s.canon, headers: SIGN_HEADERS, ...(s.identity ? { identity: s.identity } : {}), ...(s.length === true ? { length: true } : {}) };
}

// ---------------------------------------------------------------------------------------------
// What happens to a message after signing.

const text = (b: Buffer) => b.toString('latin1');
const buf = (s: string) => Buffer.from(s, 'latin1');
/** Index of the first header field after the DKIM-Signature fields on top. */
function afterSignatures(s: string): number {
  let i = 0;
  while (/^DKIM-Signature:/i.test(s.slice(i))) {
    const m = /\r\n(?![ \t])/.exec(s.slice(i));
    i += m!.index + 2;
  }
  return i;
}
const TRANSFORMS: Record<string, (m: Buffer) => Buffer> = {
  none: (m) => m,
  // Header folding and spacing changed (relaxed header canonicalisation absorbs it).
  refold: (m) => buf(text(m).replace(/\r\nSubject: ([^\r\n]+?) /, '\r\nSubject:  $1\r\n\t ')),
  // The DKIM-Signature field itself re-folded at a tag boundary.
  refoldsig: (m) => buf(text(m).replace(/^(DKIM-Signature:[^;]*;) ?/, '$1\r\n\t ')),
  // A space in the body doubled (relaxed body canonicalisation absorbs it).
  bodyws: (m) => {
    const s = text(m);
    const b = s.indexOf('\r\n\r\n') + 4;
    const sp = s.indexOf(' ', b);
    // An empty body gets a line of spaces (a body always ends in CRLF after SMTP).
    return sp < 0 ? buf(`${s.slice(0, b)}  \r\n${s.slice(b)}`) : buf(`${s.slice(0, sp)}\t ${s.slice(sp + 1)}`);
  },
  truncate: (m) => {
    const s = text(m);
    const b = s.indexOf('\r\n\r\n') + 4;
    const body = s.slice(b).replace(/(?:\r\n)+$/, '');
    const cut = body.lastIndexOf('\r\n');
    return buf(s.slice(0, b) + (cut < 0 ? '' : `${body.slice(0, cut)}\r\n`));
  },
  tamperbody: (m) => {
    const s = text(m);
    const b = s.indexOf('\r\n\r\n') + 4;
    return buf(`${s.slice(0, b)}X${s.slice(b)}`);
  },
  tamperheader: (m) => buf(text(m).replace('Message-ID: <m1@', 'Message-ID: <m2@')),
  appendbody: (m) => Buffer.concat([m, buf('\r\nAppended after signing.\r\n')]),
  // Replay: a field prepended above the original ones (bottom-up selection ignores it unless oversigned).
  prependsubject: (m) => {
    const s = text(m);
    const i = afterSignatures(s);
    return buf(`${s.slice(0, i)}Subject: replayed offer\r\n${s.slice(i)}`);
  },
  prependto: (m) => {
    const s = text(m);
    const i = afterSignatures(s);
    return buf(`${s.slice(0, i)}To: victim@example.org\r\n${s.slice(i)}`);
  },
  // A second From below the original: bottom-up selection takes it.
  appendfrom: (m) => buf(text(m).replace('\r\n\r\n', '\r\nFrom: mallory@evil.example\r\n\r\n')),
};

// ---------------------------------------------------------------------------------------------
// The corpus.

interface Case {
  readonly id: string;
  readonly raw: Buffer;
}

let corpus: Promise<Case[]> | undefined;
/** Built once for both tests. */
function buildCorpus(): Promise<Case[]> {
  corpus ??= makeCorpus();
  return corpus;
}

async function makeCorpus(): Promise<Case[]> {
  const specs: Array<{ id: string; msg: string; spec: SignSpec; transforms: string[] }> = [];
  const all = Object.keys(TRANSFORMS);
  for (const signer of ['ours', 'mailauth', 'python'] as const) {
    for (const canon of ['relaxed/relaxed', 'simple/simple'] as const) {
      for (const msg of Object.keys(MESSAGES)) {
        for (const selector of ['r2048', 'ed']) specs.push({ id: `${signer}/${selector}/${canon}/${msg}`, msg, spec: { signer, selector, canon }, transforms: all });
        for (const selector of ['pkcs1', 'r1024', 'r4096']) specs.push({ id: `${signer}/${selector}/${canon}/${msg}`, msg, spec: { signer, selector, canon }, transforms: ['none', 'tamperbody'] });
      }
    }
    // Keys with flags, missing keys, DNS down, weak keys.
    for (const selector of ['revoked', 'strict', 'testing', 'hsha1', 'rsarecord', 'gone', 'down', 'r512']) {
      specs.push({ id: `${signer}/${selector}/relaxed/simple/plain`, msg: 'plain', spec: { signer, selector, canon: 'relaxed/simple' }, transforms: ['none', 'tamperbody'] });
    }
  }
  for (const signer of ['mailauth', 'python'] as const) {
    // rsa-sha1 (RFC 8301 §3.1).
    specs.push({ id: `${signer}/sha1/plain`, msg: 'plain', spec: { signer, selector: 'r2048', canon: 'relaxed/relaxed', algorithm: 'rsa-sha1' }, transforms: ['none', 'tamperbody'] });
    // i= below d=: fine, except with a t=s key; i= at d= with t=s is fine.
    for (const selector of ['r2048', 'strict']) {
      specs.push({ id: `${signer}/isub-${selector}/plain`, msg: 'plain', spec: { signer, selector, canon: 'relaxed/relaxed', identity: `alice@mail.${DOMAIN}` }, transforms: ['none'] });
      specs.push({ id: `${signer}/iself-${selector}/plain`, msg: 'plain', spec: { signer, selector, canon: 'relaxed/relaxed', identity: `alice@${DOMAIN}` }, transforms: ['none'] });
    }
  }
  // l=: python over the whole body, mailauth over its first 20 octets.
  specs.push({ id: 'python/lfull/plain', msg: 'plain', spec: { signer: 'python', selector: 'r2048', canon: 'relaxed/simple', length: true }, transforms: ['none', 'appendbody', 'truncate', 'tamperbody'] });
  specs.push({ id: 'mailauth/l20/plain', msg: 'plain', spec: { signer: 'mailauth', selector: 'r2048', canon: 'relaxed/relaxed', length: 20 }, transforms: ['none', 'appendbody', 'truncate', 'tamperbody'] });
  // x=: expired, and still valid.
  for (const signer of ['ours', 'mailauth'] as const) {
    specs.push({ id: `${signer}/expired/plain`, msg: 'plain', spec: { signer, selector: 'r2048', canon: 'relaxed/relaxed', expiresIn: -1 }, transforms: ['none', 'tamperbody'] });
    specs.push({ id: `${signer}/expires/plain`, msg: 'plain', spec: { signer, selector: 'ed', canon: 'relaxed/relaxed', expiresIn: 86400 }, transforms: ['none'] });
  }

  const cases: Case[] = [];
  const python: Array<{ id: string; transforms: string[]; job: PythonSignJob }> = [];
  for (const s of specs) {
    const raw = buf(MESSAGES[s.msg]!);
    if (s.spec.signer === 'python') {
      python.push({ id: s.id, transforms: s.transforms, job: pythonJob(raw, s.spec) });
      continue;
    }
    const signed = s.spec.signer === 'ours' ? await signOurs(raw, s.spec) : await signMailauth(raw, s.spec);
    for (const tr of s.transforms) cases.push({ id: `${s.id}/${tr}`, raw: TRANSFORMS[tr]!(signed) });
  }
  if (!pythonMissing) {
    const signed = await pythonDkimSignBatch(python.map((p) => p.job));
    for (const [i, p] of python.entries()) for (const tr of p.transforms) cases.push({ id: `${p.id}/${tr}`, raw: TRANSFORMS[tr]!(signed[i]!) });
  }

  // Hand-made signatures (test/support/dkim-run.ts signRaw) for what no signer writes.
  const plain = buf(MESSAGES.plain!);
  const tags = (extra: string, h = 'from:to:subject') => `v=1; a=rsa-sha256; c=relaxed/relaxed; d=${DOMAIN}; s=r2048; t=${T}; h=${h}${extra}`;
  const hand: Array<[string, Buffer]> = [
    ['hand/no-v', signRaw(plain, tags('').replace('v=1; ', ''), rsa2048)],
    ['hand/v2', signRaw(plain, tags('').replace('v=1', 'v=2'), rsa2048)],
    ['hand/from-not-signed', signRaw(plain, tags('', 'to:subject'), rsa2048)],
    ['hand/i-outside-d', signRaw(plain, tags('; i=@other.example'), rsa2048)],
    ['hand/x-before-t', signRaw(plain, tags(`; x=${T - 1}`), rsa2048)],
    ['hand/unknown-algorithm', signRaw(plain, tags(''), rsa2048, { mutate: (v) => v.replace('a=rsa-sha256', 'a=rsa-sha512') })],
    ['hand/q-unknown', signRaw(plain, tags('; q=https/well-known'), rsa2048)],
    ['hand/l0', signRaw(plain, tags('; l=0'), rsa2048)],
    ['hand/l-over-body', signRaw(plain, tags('; l=100000'), rsa2048)],
    ['hand/garbage-field', Buffer.concat([buf('DKIM-Signature: this is = not ; a tag list\r\n'), plain])],
    ['hand/dup-tag', signRaw(plain, tags(`; t=${T}`), rsa2048)],
    ['hand/b-not-base64', signRaw(plain, tags(''), rsa2048, { mutate: (v) => v.replace(/b=[A-Za-z0-9+/]{4}/, 'b=!!!!') })],
    // The outer signature's h= names dkim-signature once more than there are other ones.
    ['hand/h-own-signature', signRaw(signRaw(plain, tags(''), rsa2048), tags('', 'dkim-signature:dkim-signature:from'), rsa2048)],
  ];
  for (const [id, raw] of hand) cases.push({ id, raw });
  // Several signatures on one message: ours RSA + ours Ed25519 + mailauth RSA-1024.
  let multi = await signOurs(plain, { signer: 'ours', selector: 'r2048', canon: 'relaxed/relaxed' });
  multi = await signOurs(multi, { signer: 'ours', selector: 'ed', canon: 'relaxed/relaxed' });
  multi = await signMailauth(multi, { signer: 'mailauth', selector: 'r1024', canon: 'simple/simple' });
  cases.push({ id: 'multi/none', raw: multi }, { id: 'multi/tamperbody', raw: TRANSFORMS.tamperbody!(multi) });
  return cases;
}

// ---------------------------------------------------------------------------------------------
// Every difference, and the RFC text that decides it.

type Verdict = 'pass' | 'fail' | 'policy' | 'permerror' | 'temperror';

interface Difference {
  readonly cases: RegExp;
  readonly ours: Verdict;
  readonly theirs: Verdict | boolean;
  readonly rfc: string;
}

const MAILAUTH_DIFFERENCES: readonly Difference[] = [
  {
    cases: /\/sha1\/plain\/tamperbody$/,
    ours: 'policy',
    theirs: 'fail',
    rfc: 'RFC 8301 §3.1: "rsa-sha1 MUST NOT be used for signing or verifying." We do not compute an rsa-sha1 body hash at all; mailauth compares it first and says fail.',
  },
  {
    cases: /\/(gone|revoked|rsarecord|hsha1)\/relaxed\/simple\/plain\/tamperbody$/,
    ours: 'permerror',
    theirs: 'fail',
    rfc: 'RFC 6376 §6.1: the key is retrieved and checked (§6.1.2: no key, key revoked, inappropriate key or hash algorithm, t=s) before the hashes are computed (§6.1.3). mailauth compares the body hash first.',
  },
  {
    cases: /\/down\/relaxed\/simple\/plain\/tamperbody$/,
    ours: 'temperror',
    theirs: 'fail',
    rfc: 'RFC 6376 §6.1.2 step 2: a key query that fails to respond is "TEMPFAIL (key unavailable)", and the key step comes before the body hash (§6.1.3); a DNS failure is never a permanent verdict here.',
  },
  {
    cases: /\/r512\/relaxed\/simple\/plain\/tamperbody$/,
    ours: 'policy',
    theirs: 'fail',
    rfc: 'RFC 8301 §3.2: "Verifiers MUST NOT consider signatures using RSA keys of less than 1024 bits as valid signatures" — decided on the key (§6.1.2), before the body hash (§6.1.3).',
  },
  {
    cases: /\/expired\/plain\/none$/,
    ours: 'policy',
    theirs: 'permerror',
    rfc: 'RFC 6376 §3.5 x=: "Signatures MAY be considered invalid if the verification time at the Verifier is past the expiration date." We report it as policy (RFC 8601 §2.7.1: "some aspect of the signature … was not acceptable"); mailauth as neutral.',
  },
  {
    cases: /\/expired\/plain\/tamperbody$/,
    ours: 'policy',
    theirs: 'fail',
    rfc: 'RFC 6376 §6.1.1: an expired signature is decided with the signature\'s own tags, before key and hashes ("Verifiers MAY ignore the DKIM-Signature header field and return PERMFAIL (signature expired)"); mailauth compares the body hash first.',
  },
  {
    cases: /^hand\/l-over-body$/,
    ours: 'fail',
    theirs: 'pass',
    rfc: 'RFC 6376 §3.5 l=: "This value MUST NOT be larger than the actual number of octets in the canonicalized message body." mailauth hashes what there is and passes.',
  },
  {
    cases: /^hand\/b-not-base64$/,
    ours: 'permerror',
    theirs: 'fail',
    rfc: 'RFC 6376 §3.5: b= is a base64string (§2.4); a value outside that alphabet is a syntax error of the signature, a PERMFAIL before any key or hash (§6.1.1). mailauth decodes what it can and reports the failed verification.',
  },
  {
    cases: /^hand\/h-own-signature$/,
    ours: 'pass',
    theirs: 'fail',
    rfc: 'RFC 6376 §3.5 h=: the list "MUST NOT include the DKIM-Signature header field that is being created or verified"; the outer signature\'s second dkim-signature entry matched nothing when it was signed. mailauth selects the field under verification for it.',
  },
];

const PYTHON_DIFFERENCES: readonly Difference[] = [
  {
    cases: /\/sha1\/plain\/none$/,
    ours: 'policy',
    theirs: true,
    rfc: 'RFC 8301 §3.1: rsa-sha1 "MUST NOT be used for … verifying"; python3-dkim 1.1 still verifies it.',
  },
  {
    cases: /\/hsha1\/relaxed\/simple\/plain\/none$/,
    ours: 'permerror',
    theirs: true,
    rfc: 'RFC 6376 §6.1.2 step 6: "If the "h=" tag exists in the public-key record and the hash algorithm implied by the "a=" tag in the DKIM-Signature header field is not included in the contents of the "h=" tag, the Verifier MUST ignore the key record and return PERMFAIL (inappropriate hash algorithm)"; python3-dkim does not read the key\'s h=.',
  },
  {
    cases: /^python\/isub-strict\/plain\/none$/,
    ours: 'permerror',
    theirs: true,
    rfc: 'RFC 6376 §3.6.1 key t=s: "Any DKIM-Signature header fields using the "i=" tag MUST have the same domain value on the right-hand side of the "@" in the "i=" tag and the value of the "d=" tag. That is, the "i=" domain MUST NOT be a subdomain of "d="." python3-dkim does not apply t=s.',
  },
  {
    cases: /\/expired\/plain\/none$/,
    ours: 'policy',
    theirs: true,
    rfc: 'RFC 6376 §3.5 x=: "Signatures MAY be considered invalid if the verification time at the Verifier is past the expiration date." python3-dkim allows 10 hours past x= for clock skew; we take the signer\'s x= as written.',
  },
  {
    cases: /^hand\/from-not-signed$/,
    ours: 'permerror',
    theirs: true,
    rfc: 'RFC 6376 §5.4: "The From header field MUST be signed"; §6.1.1: if h= does not include From, "the Verifier MUST ... return PERMFAIL (From field not signed)". python3-dkim does not check it when verifying.',
  },
  {
    cases: /^hand\/x-before-t$/,
    ours: 'permerror',
    theirs: true,
    rfc: 'RFC 6376 §3.5 x=: "The value of the "x=" tag MUST be greater than the value of the "t=" tag if both are present." python3-dkim only checks that x= is not in the past.',
  },
  {
    cases: /^hand\/l-over-body$/,
    ours: 'fail',
    theirs: true,
    rfc: 'RFC 6376 §3.5 l=: "This value MUST NOT be larger than the actual number of octets in the canonicalized message body."',
  },
  {
    cases: /^hand\/h-own-signature$/,
    ours: 'pass',
    theirs: false,
    rfc: 'RFC 6376 §3.5 h=: "The field MUST NOT include the DKIM-Signature header field that is being created or verified"; python3-dkim selects it for the extra dkim-signature entry.',
  },
];

function ourClass(c: DkimSignatureCheck): Verdict {
  return c.result === 'neutral' ? 'permerror' : c.result;
}
function mailauthClass(result: string): Verdict {
  if (result === 'neutral') return 'permerror';
  if (result === 'pass' || result === 'fail' || result === 'policy' || result === 'permerror' || result === 'temperror') return result;
  throw new Error(`mailauth said ${result}`);
}

test('DkimVerifier agrees with mailauth (strict) and python3-dkim over the generated corpus; every difference is listed', async (t) => {
  const started = performance.now();
  const cases = await buildCorpus();
  const built = performance.now();
  const dns = zone();
  const ours = new Map<string, DkimSignatureCheck[]>();
  const theirs = new Map<string, Verdict[]>();
  for (const c of cases) {
    ours.set(c.id, (await verifyMessage(c.raw, { dns, now: NOW, chunk: 4096 })).checks);
    theirs.set(c.id, (await mailauthStrict(c.raw, { dns, now: NOW })).map((s) => mailauthClass(s.result)));
  }
  const python = pythonMissing ? undefined : await pythonDkimVerifyBatch(cases.map((c) => c.raw), pythonRecords);
  t.log(`${cases.length} messages: built in ${((built - started) / 1000).toFixed(1)} s, verified by all three in ${((performance.now() - built) / 1000).toFixed(1)} s`);

  const unlisted: string[] = [];
  const used = new Set<Difference>();
  const tally = new Map<string, number>();
  for (const [i, c] of cases.entries()) {
    const mine = ours.get(c.id)!;
    const other = theirs.get(c.id)!;
    if (mine.length !== other.length) {
      unlisted.push(`${c.id}: ${mine.length} results, mailauth ${other.length}`);
      continue;
    }
    for (const [k, check] of mine.entries()) {
      const v = ourClass(check);
      tally.set(v, (tally.get(v) ?? 0) + 1);
      if (v !== other[k]) {
        const d = MAILAUTH_DIFFERENCES.find((x) => x.cases.test(c.id) && x.ours === v && x.theirs === other[k]);
        if (d) used.add(d);
        else unlisted.push(`${c.id} #${k}: ours ${v} (${check.reason}), mailauth ${other[k]}`);
      }
      const py = python?.[i]?.[k];
      if (py !== undefined && py !== (v === 'pass')) {
        const d = PYTHON_DIFFERENCES.find((x) => x.cases.test(c.id) && x.ours === v && x.theirs === py);
        if (d) used.add(d);
        else unlisted.push(`${c.id} #${k}: ours ${v} (${check.reason}), python3-dkim ${py ? 'valid' : 'invalid'}`);
      }
    }
  }
  t.log(`our verdicts: ${JSON.stringify(Object.fromEntries(tally))}`);
  t.deepEqual(unlisted, [], 'differences not listed with their RFC text');
  const stale = [...MAILAUTH_DIFFERENCES, ...(python ? PYTHON_DIFFERENCES : [])].filter((d) => !used.has(d));
  t.deepEqual(stale.map((d) => d.cases.source), [], 'listed differences that no longer occur');
  // The corpus exercises every verdict (the comparison is not between two empty lists).
  for (const v of ['pass', 'fail', 'policy', 'permerror', 'temperror']) t.true((tally.get(v) ?? 0) > 0, v);
});

test('our own verdicts on the transforms, whoever signed (what the agreement above is about)', async (t) => {
  const cases = await buildCorpus();
  const dns = zone();
  const expect = (id: string): Verdict | undefined => {
    const m = /^(ours|mailauth|python)\/(r2048|ed|pkcs1|r1024|r4096)\/(relaxed\/relaxed|simple\/simple)\/(\w+)\/(\w+)$/.exec(id);
    if (!m) return undefined;
    const [, signer, , canon, msg, tr] = m;
    const [hc, bc] = canon!.split('/');
    switch (tr) {
      case 'none':
        return 'pass';
      case 'truncate':
        return msg === 'empty' ? 'pass' : 'fail'; // nothing to cut
      case 'refold':
      case 'refoldsig':
        return hc === 'relaxed' ? 'pass' : 'fail';
      case 'bodyws':
        return bc === 'relaxed' ? 'pass' : 'fail';
      case 'prependsubject':
      case 'prependto':
        // Oversigned by our signer; mailauth and python3-dkim sign each field once.
        return signer === 'ours' ? 'fail' : 'pass';
      default:
        return 'fail';
    }
  };
  const wrong: string[] = [];
  let checked = 0;
  for (const c of cases) {
    const want = expect(c.id);
    if (!want) continue;
    const { checks } = await verifyMessage(c.raw, { dns, now: NOW });
    checked++;
    if (checks.length !== 1 || checks[0]!.result !== want) wrong.push(`${c.id}: ${checks.map((x) => `${x.result} (${x.reason})`).join(', ')}, expected ${want}`);
  }
  t.log(`${checked} messages checked against the expected verdict`);
  t.deepEqual(wrong, []);
  t.true(checked > 500);
});
