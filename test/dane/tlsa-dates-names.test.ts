/**
 * The two DANE fixes found by independent vectors:
 *  - a certificate with an empty subject (`openssl req -x509 … -subj /`) crashed `tlsa`
 *    with a TypeError (Node reports the empty DN as `undefined`);
 *  - an expired (or not yet valid) certificate was refused, although DANE-EE ignores a
 *    certificate's names and dates (RFC 7672 §3.1.1): `3 x x` is now produced with a
 *    warning, while DANE-TA and PKIX usages, whose clients check dates, are still refused.
 * Record values are checked against openssl, the independent oracle.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../src/cli/tlsa.ts';
import { certName, parseTlsaSource, readTlsaSource } from '../../src/dane/cert-input.ts';
import { DaneError } from '../../src/dane/errors.ts';
import { computeRecords } from '../../src/dane/tlsa-compute.ts';
import { captureIo } from '../support/cli-io.ts';
import { forgeSelfSigned, makePki, opensslSha256, spkiDer } from './make-certs.ts';

const pki = makePki('ec');
test.after.always(() => pki.cleanup());
const leaf = pki.leaf('leaf', 'mx.example.org', 'ec', { days: 90 });
const config = join(pki.dir, 'c.yml');
writeFileSync(config, '# defaults\n');
const DAY = 86_400_000;

/** Self-signed, empty subject: exactly the command from the report. */
function emptySubject(name: string, san?: string): string {
  const key = join(pki.dir, `${name}.key`);
  const cert = join(pki.dir, `${name}.pem`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '30', '-subj', '/', ...(san ? ['-addext', `subjectAltName=${san}`] : [])], { stdio: 'ignore' });
  return cert;
}

const cli = async (args: string[], now = new Date(Date.now() + 5000)) => {
  const io = captureIo();
  const code = await run([...args, '--config', config, '--now', now.toISOString()], io);
  return { code, out: io.out(), err: io.err() };
};

test('empty subject: tlsa prints the record instead of crashing, in every output format', async (t) => {
  const bare = emptySubject('empty');
  const withSan = emptySubject('empty-san', 'DNS:mx.example.org');
  for (const file of [bare, withSan]) {
    const zone = await cli(['--host', 'mx.example.org', file]);
    t.is(zone.code, 0, zone.err);
    t.is(zone.out, `_25._tcp.mx.example.org. IN TLSA 3 1 1 ${opensslSha256(spkiDer(file))}\n`);
    const json = await cli(['--host', 'mx.example.org', '--format', 'json', file]);
    t.is(json.code, 0, json.err);
    const [rec] = JSON.parse(json.out) as { subject: string }[];
    t.is(rec!.subject, file === bare ? '(empty subject)' : '(empty subject; DNS:mx.example.org)');
  }
  // Library level: the name helper and the parse never throw on it.
  const src = await readTlsaSource(bare, { now: Date.now() });
  t.is(src.kind === 'chain' ? certName(src.certs[0]!) : '', '(empty subject)');
});

test('empty subject inside a chain: chain-order errors name it instead of crashing', (t) => {
  const file = emptySubject('empty-order');
  const text = execFileSync('cat', [file, pki.caCert]).toString();
  const err = t.throws(() => parseTlsaSource('chain.pem', Buffer.from(text), { now: Date.now() }), { instanceOf: DaneError });
  t.is(err.code, 'CHAIN_ORDER');
  t.regex(err.message, /\(empty subject\)/);
});

test('expired leaf: 3 1 1 with a warning citing RFC 7672 §3.1.1; the default 2 1 1 is left out', async (t) => {
  const after = new Date(Date.now() + 100 * DAY); // leaf valid 90 days, the CA 10 years
  const r = await cli(['--host', 'mx.example.org', leaf.chain], after);
  t.is(r.code, 0, r.err);
  t.is(r.out, `_25._tcp.mx.example.org. IN TLSA 3 1 1 ${opensslSha256(spkiDer(leaf.cert))}\n`);
  t.regex(r.err, /^warning: .*expired on .*RFC 7672 §3\.1\.1/m);
  t.regex(r.err, /^warning: .*no 2 x x record: DANE-TA checks the leaf's dates/m);
  // DANE-TA and PKIX-EE, asked for explicitly, are refused: their clients check dates.
  for (const usage of ['2', '1', '0']) {
    const refused = await cli(['--host', 'mx.example.org', '--usage', usage, leaf.chain], after);
    t.is(refused.code, 65, `usage ${usage}: EX_DATAERR`);
    t.is(refused.out, '');
    t.regex(refused.err, /expired on/);
  }
  // --usage 3 works and warns.
  const ee = await cli(['--host', 'mx.example.org', '--usage', '3', leaf.chain], after);
  t.is(ee.code, 0);
  t.regex(ee.err, /RFC 7672 §3\.1\.1/);
});

test('not yet valid leaf: the same rules', async (t) => {
  const before = new Date(Date.now() - DAY);
  const src = await readTlsaSource(leaf.chain, { now: before.getTime() });
  if (src.kind !== 'chain') return t.fail();
  t.deepEqual(src.validity.map((p) => [p.kind, p.index]), [['not-yet-valid', 0], ['not-yet-valid', 1]]);
  const { records, warnings } = computeRecords(src);
  t.deepEqual(records.map((r) => [r.usage, r.selector, r.matchingType]), [[3, 1, 1]]);
  t.deepEqual(warnings.map((w) => w.code), ['LEAF_DATES_IGNORED', 'TA_RECORD_OMITTED']);
  const err = t.throws(() => computeRecords(src, { usage: 2 }), { instanceOf: DaneError });
  t.is(err.code, 'NOT_YET_VALID');
});

test('a certificate that really expired a month ago (not a shifted clock) gives its 3 1 1', async (t) => {
  const file = join(pki.dir, 'old.pem');
  writeFileSync(file, forgeSelfSigned('old.example.org', new Date(Date.now() - 400 * DAY), new Date(Date.now() - 30 * DAY)));
  const io = captureIo();
  const code = await run(['--host', 'old.example.org', '--config', config, file], io);
  t.is(code, 0, io.err());
  t.is(io.out(), `_25._tcp.old.example.org. IN TLSA 3 1 1 ${opensslSha256(spkiDer(file))}\n`);
  t.regex(io.err(), /expired on .*RFC 7672 §3\.1\.1/);
});

test('a valid chain: no warning, both records (unchanged behaviour)', async (t) => {
  const r = await cli(['--host', 'mx.example.org', leaf.chain]);
  t.is(r.code, 0);
  t.is(r.err, '');
  t.is(r.out.split('\n').filter(Boolean).length, 2);
});
