/**
 * `tlsa check` against real things: a DNSSEC-signed zone in Knot behind a validating
 * Unbound (trust anchor for the test zone), the same records in an unsigned zone, and a
 * STARTTLS server on loopback presenting a chain made in the test.
 */
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { run } from '../../src/cli/tlsa.ts';
import { readTlsaSource, type CertChain } from '../../src/dane/cert-input.ts';
import { recordsFor, tlsaFor } from '../../src/dane/tlsa-compute.ts';
import { tlsaText } from '../../src/dane/tlsa-params.ts';
import { knotMissing, startKnot, type KnotServer } from '../support/knot.ts';
import { startUnbound, unboundMissing, type UnboundServer } from '../support/unbound.ts';
import { captureIo } from '../support/cli-io.ts';
import { makePki } from './make-certs.ts';
import { startSmtp, type TestSmtp } from './smtp-server.ts';

const missing = knotMissing() ?? unboundMissing();
const it = missing ? test.skip : test;
if (missing) test.skip(`tlsa check needs Knot and Unbound: ${missing}`, () => {});

const pki = makePki('ec');
const otherPki = makePki('ec');
const leaf = pki.leaf('mx', 'mx.signed.test', 'ec');
const rsaLeaf = pki.leaf('mx-rsa', 'mx.signed.test', 'rsa');
const stranger = otherPki.leaf('stranger', 'mx.signed.test', 'ec');
const configFile = join(pki.dir, 'mailanchor.yml');
writeFileSync(configFile, '# test: all defaults\n');

let knot: KnotServer | undefined;
let unbound: UnboundServer | undefined;
let smtp: TestSmtp | undefined;
let dual: TestSmtp | undefined;
let https: Server | undefined;
let httpsPort = 0;

test.before(async () => {
  if (missing) return;
  const now = Date.now() + 2000;
  const chain = (await readTlsaSource(leaf.chain, { now })) as CertChain;
  const strangerChain = (await readTlsaSource(stranger.chain, { now })) as CertChain;
  smtp = await startSmtp([{ key: readFileSync(leaf.key, 'utf8'), cert: readFileSync(leaf.chain, 'utf8') }]);
  // RSA and ECDSA side by side, as with two smtpd_tls_chain_files.
  dual = await startSmtp([
    { key: readFileSync(leaf.key, 'utf8'), cert: readFileSync(leaf.chain, 'utf8') },
    { key: readFileSync(rsaLeaf.key, 'utf8'), cert: readFileSync(rsaLeaf.chain, 'utf8') },
  ]);
  const rsaChain = (await readTlsaSource(rsaLeaf.chain, { now })) as CertChain;
  // Direct TLS (as on 443): no SMTP dialogue.
  https = createServer({ key: readFileSync(leaf.key, 'utf8'), cert: readFileSync(leaf.chain, 'utf8') }, (s) => s.end());
  await new Promise<void>((resolve) => https!.listen(0, '127.0.0.1', resolve));
  httpsPort = (https.address() as AddressInfo).port;
  const [ee, ta] = recordsFor(chain).map(tlsaText);
  const wrong = tlsaText(tlsaFor(strangerChain.certs[0]!, 3, 1, 1));
  const p = smtp.port;
  const records = [
    `_${p}._tcp.mx 300 IN TLSA ${ee}`,
    `_${p}._tcp.mx 300 IN TLSA ${ta}`,
    `_${p}._tcp.eeonly 300 IN TLSA ${ee}`,
    `_${p}._tcp.wrong 300 IN TLSA ${wrong}`,
    `_${httpsPort}._tcp.www 300 IN TLSA ${tlsaText(tlsaFor(chain.certs[0]!, 3, 0, 1))}`,
    `_${dual.port}._tcp.ecpinned 300 IN TLSA ${ee}`,
    `_${dual.port}._tcp.bothpinned 300 IN TLSA ${ee}`,
    `_${dual.port}._tcp.bothpinned 300 IN TLSA ${tlsaText(tlsaFor(rsaChain.certs[0]!, 3, 1, 1))}`,
    `_${p}._tcp.pkix 300 IN TLSA ${tlsaText(tlsaFor(chain.certs[0]!, 1, 0, 1))}`,
  ].join('\n');
  knot = await startKnot({ zones: [{ name: 'signed.test', records, dnssec: true }, { name: 'plain.test', records }] });
  unbound = await startUnbound({
    stubs: [
      { zone: 'signed.test', servers: [knot.server], trustAnchors: await knot.ds('signed.test') },
      { zone: 'plain.test', servers: [knot.server] },
    ],
  });
});
test.after.always(async () => {
  await Promise.all([smtp?.close(), dual?.close(), new Promise((resolve) => (https ? https.close(resolve) : resolve(undefined))), unbound?.stop(), knot?.stop()]);
  pki.cleanup();
  otherPki.cleanup();
});

const check = async (host: string, port: number, extra: string[] = []) => {
  const io = captureIo();
  const code = await run(['check', host, '--port', String(port), '--starttls', 'smtp', '--connect', '127.0.0.1', '--dns', `127.0.0.1:${unbound!.server.port}`, '--config', configFile, '--timeout', '5000', ...extra], io);
  return { code, out: io.out(), err: io.err() };
};

it('signed zone, validating resolver: AD=1, both 3 1 1 and 2 1 1 match the STARTTLS chain → exit 0', async (t) => {
  const r = await check('mx.signed.test', smtp!.port);
  t.log(r.out);
  t.is(r.code, 0, r.out + r.err);
  t.regex(r.out, /AD=1/);
  t.is((r.out.match(/^ {2}match /gm) ?? []).length, 2);
  t.regex(r.out, /DANE-TA: trust anchor at depth 1, chain and name verified/);
});

it('json output of the same check', async (t) => {
  const r = await check('mx.signed.test', smtp!.port, ['--json']);
  const j = JSON.parse(r.out) as { status: string; exit: number; authenticated: boolean; records: { status: string }[]; presented: unknown[] };
  t.is(j.status, 'ok');
  t.true(j.authenticated);
  t.deepEqual(j.records.map((x) => x.status), ['match', 'match']);
  t.is(j.presented.length, 2);
});

it('same records from an unsigned zone: not validated, DANE does not apply → exit 2', async (t) => {
  const r = await check('mx.plain.test', smtp!.port);
  t.is(r.code, 2, r.out);
  t.regex(r.out, /not DNSSEC-validated/);
  t.regex(r.out, /DANE does not apply/);
});

it('a wrong record: mismatch → exit 1', async (t) => {
  const r = await check('wrong.signed.test', smtp!.port);
  t.is(r.code, 1, r.out);
  t.regex(r.out, /no-match/);
});

it('only PKIX usages on SMTP: no usable record → exit 1', async (t) => {
  const r = await check('pkix.signed.test', smtp!.port);
  t.is(r.code, 1, r.out);
  t.regex(r.out, /unusable/);
});

it('no TLSA records and an unreachable server both exit 2', async (t) => {
  t.is((await check('nothing.signed.test', smtp!.port)).code, 2);
  // Records validate, but nothing listens on the owner's port.
  const closed = await check('mx.signed.test', smtp!.port, ['--connect', '127.0.0.2']);
  t.true(closed.code === 2, closed.out);
});

it('DANE-EE only: the leaf matches although the name check would not apply', async (t) => {
  const r = await check('eeonly.signed.test', smtp!.port);
  t.is(r.code, 0, r.out);
});

it('direct TLS (no STARTTLS, as on 443): 3 0 1 matches the presented leaf', async (t) => {
  const io = captureIo();
  const code = await run(['check', 'www.signed.test', '--port', String(httpsPort), '--starttls', 'none', '--connect', '127.0.0.1', '--dns', `127.0.0.1:${unbound!.server.port}`, '--config', configFile], io);
  t.is(code, 0, io.out() + io.err());
  t.regex(io.out(), /match {5}3 0 1/);
});

it('RSA + ECDSA server: a record for the ECDSA leaf only is a mismatch for the RSA chain; both pinned → ok', async (t) => {
  const one = await check('ecpinned.signed.test', dual!.port);
  t.is(one.code, 1, one.out);
  t.regex(one.out, /ec chain: matches/);
  t.regex(one.out, /rsa chain: NO MATCH/);
  const both = await check('bothpinned.signed.test', dual!.port, ['--json']);
  t.is(both.code, 0, both.out);
  const j = JSON.parse(both.out) as { chains: { keyType: string; matched: boolean }[] };
  t.deepEqual(j.chains.map((c) => [c.keyType, c.matched]).sort(), [['ec', true], ['rsa', true]]);
});
