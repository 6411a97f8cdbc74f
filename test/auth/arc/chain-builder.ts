/**
 * Test messages with real ARC chains, sealed by our sealer with throw-away keys, and a
 * one-call verifier. Keys are generated once per process (RSA is slow to generate).
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { seal, ARC_SEAL_BODY_HASH, type SealOutcome } from '../../../src/auth/arc/seal.ts';
import { ArcVerifier, type ArcVerifierOptions } from '../../../src/auth/arc/verify.ts';
import { BodyHashSet } from '../../../src/auth/dkim/body-hash.ts';
import { KeyParseCache } from '../../../src/auth/dkim/key-lookup.ts';
import type { DnsLookup } from '../../../src/dns/types.ts';
import type { SigningKey } from '../../../src/keys/signing-keys.ts';
import type { HeaderField } from '../../../src/mail/header.ts';
import type { ArcCheck } from '../../../src/auth/results.ts';
import { fakeLookup, type FakeName } from '../../support/fake-dns.ts';

export interface TestKey {
  readonly signing: SigningKey;
  readonly publicKey: KeyObject;
  /** `v=DKIM1; k=rsa; p=…` */
  readonly record: string;
  /** `selector._domainkey.domain` */
  readonly name: string;
}

const pairs = new Map<string, { privateKey: KeyObject; publicKey: KeyObject }>();

/** `slot` picks a different key pair of the same size (a wrong key, a second sealer). */
export function rsaKey(domain: string, selector: string, bits = 1024, slot = 0): TestKey {
  let pair = pairs.get(`${bits}/${slot}`);
  if (!pair) pairs.set(`${bits}/${slot}`, (pair = generateKeyPairSync('rsa', { modulusLength: bits })));
  const p = pair.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  return {
    signing: { id: `${selector}.${domain}`, domain, selector, algorithm: 'rsa-sha256', privateKey: pair.privateKey },
    publicKey: pair.publicKey,
    record: `v=DKIM1; k=rsa; p=${p}`,
    name: `${selector}._domainkey.${domain}`,
  };
}

/** A fake DNS with the keys' records, plus any extra names. */
export function keyDns(keys: readonly TestKey[], extra: Record<string, FakeName> = {}) {
  return fakeLookup({ ...Object.fromEntries(keys.map((k) => [k.name, { TXT: [k.record] }])), ...extra });
}

export const baseHeaders = (): HeaderField[] => [
  { name: 'Received', value: ' from mail.origin.test (mail.origin.test [192.0.2.1]) by mx.example.org' },
  { name: 'From', value: ' Alice <alice@origin.test>' },
  { name: 'To', value: ' list@lists.example.org' },
  { name: 'Subject', value: ' Hello\n there' },
  { name: 'Date', value: ' Thu, 1 Jan 2026 10:00:00 +0000' },
  { name: 'Message-ID', value: ' <1@origin.test>' },
  { name: 'MIME-Version', value: ' 1.0' },
];

export const baseBody = (): Buffer => Buffer.from('Hello,\r\n\r\nthis is a  test.\r\n\r\n\r\n');

export async function verifyChain(headers: readonly HeaderField[], body: Buffer, dns: DnsLookup, options: Partial<ArcVerifierOptions> = {}): Promise<ArcCheck> {
  const v = new ArcVerifier({ dns, keyCache: new KeyParseCache(), now: () => Date.UTC(2026, 0, 1), minKeyBits: 1024, ...options });
  const set = new BodyHashSet();
  v.start(headers, set);
  set.write(body);
  set.end();
  return v.finish();
}

export interface HopOptions {
  readonly key: TestKey;
  readonly authservId?: string;
  readonly chain: ArcCheck;
  readonly timestamp?: number;
  readonly signedHeaders?: readonly string[];
  readonly oversignedHeaders?: readonly string[];
}

export async function sealHop(headers: readonly HeaderField[], body: Buffer, o: HopOptions): Promise<SealOutcome> {
  const set = new BodyHashSet();
  const handle = set.request(ARC_SEAL_BODY_HASH);
  set.write(body);
  set.end();
  const id = o.authservId ?? `mx.${o.key.signing.domain}`;
  return seal({
    headers,
    bodyHash: set.result(handle).digest,
    authservId: id,
    authenticationResults: `${id};\n\tspf=pass smtp.mailfrom=origin.test;\n\tdkim=pass header.d=origin.test;\n\tdmarc=pass header.from=origin.test;\n\tarc=${o.chain.result}`,
    chain: o.chain,
    key: o.key.signing,
    timestamp: o.timestamp ?? 1_767_261_600,
    signedHeaders: o.signedHeaders ?? ['from', 'to', 'subject', 'date', 'message-id', 'mime-version', 'dkim-signature'],
    oversignedHeaders: o.oversignedHeaders ?? ['from', 'subject'],
  });
}

/** Verifies what arrived, seals on top (the body as passed on: `sealedBody` when the hop changed it), returns the sealed header list. */
export async function addHop(headers: readonly HeaderField[], body: Buffer, key: TestKey, dns: DnsLookup, sealedBody: Buffer = body): Promise<HeaderField[]> {
  const chain = await verifyChain(headers, body, dns);
  const out = await sealHop(headers, sealedBody, { key, chain });
  if (out.kind !== 'sealed') throw new Error(`not sealed: ${out.reason}`);
  return [...out.fields, ...headers];
}
