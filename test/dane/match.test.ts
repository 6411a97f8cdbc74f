import test from 'ava';
import { readTlsaSource, type CertChain } from '../../src/dane/cert-input.ts';
import { lintRecords } from '../../src/dane/lint.ts';
import { matchChain } from '../../src/dane/match.ts';
import { recordsFor, tlsaFor } from '../../src/dane/tlsa-compute.ts';
import { makePki } from './make-certs.ts';

const pki = makePki('ec');
const other = makePki('ec');
test.after.always(() => {
  pki.cleanup();
  other.cleanup();
});
const rsa = pki.leaf('rsa', 'mx.example.org', 'rsa');
const ec = pki.leaf('ec', 'mx.example.org', 'ec');
const wrongName = pki.leaf('wrongname', 'other.example.net', 'ec');
const foreign = other.leaf('foreign', 'mx.example.org', 'ec');
const now = Date.now() + 2000;
const chain = async (f: string): Promise<CertChain> => (await readTlsaSource(f, { now })) as CertChain;

test('DANE-EE matches the leaf only; names and dates are not checked', async (t) => {
  const c = await chain(wrongName.chain);
  const ee = tlsaFor(c.certs[0]!, 3, 1, 1);
  const v = matchChain([ee], c.certs, { host: 'mx.example.org', now: now + 10 * 365 * 86_400_000, smtp: true });
  t.true(v.matched);
  const f = await chain(foreign.chain);
  t.false(matchChain([ee], f.certs, { host: 'mx.example.org', now, smtp: true }).matched);
});

test('DANE-TA matches an issuer in the presented chain, then needs a valid chain and the name', async (t) => {
  const c = await chain(ec.chain);
  const ta = tlsaFor(c.certs[1]!, 2, 1, 1);
  t.is(matchChain([ta], c.certs, { host: 'mx.example.org', now, smtp: true }).records[0]!.status, 'match');
  // Name check (RFC 7672 §3.2.3).
  const w = await chain(wrongName.chain);
  const byName = matchChain([ta], w.certs, { host: 'mx.example.org', now, smtp: true }).records[0]!;
  t.is(byName.status, 'no-match');
  t.regex(byName.detail, /names none/);
  // Leaf expired → chain check fails (unlike DANE-EE).
  t.is(matchChain([ta], c.certs, { host: 'mx.example.org', now: now + 400 * 86_400_000, smtp: true }).records[0]!.status, 'no-match');
  // TA not sent by the server → no match.
  t.false(matchChain([ta], [c.certs[0]!], { host: 'mx.example.org', now, smtp: true }).matched);
  // A TA record does not match the leaf itself.
  t.false(matchChain([tlsaFor(c.certs[0]!, 2, 1, 1)], c.certs, { host: 'mx.example.org', now, smtp: true }).matched);
  // Another CA's chain.
  const f = await chain(foreign.chain);
  t.false(matchChain([ta], f.certs, { host: 'mx.example.org', now, smtp: true }).matched);
});

test('PKIX usages are unusable for SMTP; malformed digests are unusable', async (t) => {
  const c = await chain(ec.chain);
  const v = matchChain([tlsaFor(c.certs[0]!, 1, 0, 1)], c.certs, { host: 'mx.example.org', now, smtp: true });
  t.false(v.matched);
  t.false(v.usable);
  t.true(matchChain([tlsaFor(c.certs[0]!, 1, 0, 1)], c.certs, { now, smtp: false }).matched);
  const short = { ...tlsaFor(c.certs[0]!, 3, 1, 1), data: Buffer.alloc(31) };
  t.is(matchChain([short], c.certs, { now, smtp: true }).records[0]!.status, 'unusable');
});

test('lint: PKIX on 25, 3 0 1, uncovered ECDSA chain, no rollover scheme', async (t) => {
  const r = await chain(rsa.chain);
  const e = await chain(ec.chain);
  const codes = (xs: { code: string }[]): string[] => xs.map((x) => x.code).sort();
  // Only the RSA leaf pinned, but RSA and ECDSA chains are served.
  const onlyRsa = recordsFor(r, { usage: 3 });
  t.deepEqual(codes(lintRecords({ port: 25, records: onlyRsa, chains: [r, e], host: 'mx.example.org', now })), ['CHAIN_NOT_COVERED', 'NO_ROLLOVER_SCHEME']);
  t.deepEqual(codes(lintRecords({ port: 25, records: recordsFor(r, { usage: 1, selector: 0 }) })), ['FULL_CERT_LEAF', 'PKIX_USAGE_ON_SMTP']);
  t.deepEqual(codes(lintRecords({ port: 443, records: recordsFor(r, { usage: 1, selector: 0 }) })), ['FULL_CERT_LEAF']);
  // The SMTP default (3 1 1 + 2 1 1) covers both chains issued by the same CA and has a rollover scheme.
  t.deepEqual(lintRecords({ port: 25, records: [...recordsFor(r), ...recordsFor(e)], chains: [r, e], host: 'mx.example.org', now }), []);
});
