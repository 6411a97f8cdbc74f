/** `mailanchor tlsa` compute form, in process: output, exit codes, errors naming the file, lint on stderr. */
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../src/cli/tlsa.ts';
import { captureIo } from '../support/cli-io.ts';
import { certDer, makePki, opensslSha256, spkiDer } from './make-certs.ts';

const pki = makePki('rsa');
test.after.always(() => pki.cleanup());
const rsa = pki.leaf('rsa', 'mx.example.org', 'rsa');
const ec = pki.leaf('ec', 'mx.example.org', 'ec');
const config = join(pki.dir, 'c.yml');
writeFileSync(config, '# defaults\n');
const later = new Date(Date.now() + 5000).toISOString();

const cli = async (args: string[]) => {
  const io = captureIo();
  const code = await run([...args, '--config', config, '--now', later], io);
  return { code, out: io.out(), err: io.err() };
};

test('the plain case: 3 1 1 for the leaf and 2 1 1 for the issuer', async (t) => {
  const r = await cli(['--host', 'mx.example.org', rsa.chain]);
  t.is(r.code, 0, r.err);
  t.is(r.out, `_25._tcp.mx.example.org. IN TLSA 3 1 1 ${opensslSha256(spkiDer(rsa.cert))}\n_25._tcp.mx.example.org. IN TLSA 2 1 1 ${opensslSha256(spkiDer(pki.caCert))}\n`);
  t.is(r.err, '');
});

test('--usage/--selector/--port/--proto/--format change the rest; lint warns about 3 0 1 and PKIX on 25', async (t) => {
  const r = await cli(['--host', 'www.example.org', '--port', '443', '--usage', '1', '--selector', '0', '--matching', '1', rsa.cert]);
  t.is(r.out, `_443._tcp.www.example.org. IN TLSA 1 0 1 ${opensslSha256(certDer(rsa.cert))}\n`);
  const smtp = await cli(['--host', 'mx.example.org', '--usage', '3', '--selector', '0', rsa.cert]);
  t.regex(smtp.err, /breaks at every renewal/);
  const pkix = await cli(['--host', 'mx.example.org', '--usage', '1', rsa.cert]);
  t.regex(pkix.err, /ignored by SMTP DANE clients/);
  const g = await cli(['--host', 'mx.example.org', '--format', 'generic', rsa.cert]);
  t.regex(g.out, /^_25\._tcp\.mx\.example\.org\. IN TYPE52 \\# 35 030101[0-9a-f]{64}\n$/);
  const u = await cli(['--host', 'mx.example.org', '--proto', 'udp', '--ttl', '300', rsa.cert]);
  t.regex(u.out, /^_25\._udp\.mx\.example\.org\. 300 IN TLSA 3 1 1 /);
});

test('RSA and ECDSA chains: records for both; leaf-only pins are flagged as having no rollover scheme', async (t) => {
  const both = await cli(['--host', 'mx.example.org', rsa.chain, ec.chain]);
  t.is(both.out.split('\n').filter(Boolean).length, 3); // two leaves, one shared issuer record
  t.is(both.err, '');
  const one = await cli(['--host', 'mx.example.org', '--usage', '3', rsa.chain, ec.chain]);
  t.regex(one.err, /only one 3 x x record per chain/);
});

test('bad input exits 65 (EX_DATAERR) with the file named, and prints no record', async (t) => {
  const der = join(pki.dir, 'x.der');
  writeFileSync(der, certDer(rsa.cert));
  const r = await cli(['--host', 'mx.example.org', der]);
  t.is(r.code, 65);
  t.is(r.out, '');
  t.true(r.err.includes(der));
  const k = await cli(['--host', 'mx.example.org', '--key', ec.key, rsa.cert]);
  t.is(k.code, 65);
  t.regex(k.err, /does not belong/);
  t.is(k.out, '', 'no record is printed when the key does not match');
  t.is((await cli(['--usage', '7', rsa.cert])).code, 64);
  t.is((await cli([])).code, 64);
  t.is((await cli(['--host', 'mx.example.org', join(pki.dir, 'missing.pem')])).code, 66, 'EX_NOINPUT');
});
