/** TSIG (RFC 8945): key parsing, sign/verify, and agreement with an independent signer (Knot's kdig). */
import test from 'ava';
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractTsig, loadTsigKey, parseTsigKey, parseTsigKeyFile, signMessage, verifyReply, type TsigKey } from '../../src/dns/tsig.ts';
import { buildUpdate } from '../../src/dns/update.ts';
import { DnsError } from '../../src/dns/types.ts';

const SECRET = 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=';

test('key forms: name:alg:secret, alg:name:secret, name:secret, BIND and Knot key files', async (t) => {
  const want = { name: 'upd-key', algorithm: 'hmac-sha512', secret: Buffer.from(SECRET, 'base64') };
  t.deepEqual(parseTsigKey(`Upd-Key.:hmac-sha512:${SECRET}`), want);
  t.deepEqual(parseTsigKey(`hmac-sha512:upd-key:${SECRET}`), want);
  t.like(parseTsigKey(`upd-key:${SECRET}`), { algorithm: 'hmac-sha256' });
  const bind = `key "other" {\n\talgorithm hmac-sha256;\n\tsecret "${SECRET}";\n};\nkey "upd-key" {\n\talgorithm hmac-sha512;\n\tsecret "${SECRET}";\n};\n`;
  t.is(parseTsigKeyFile(bind).name, 'other');
  t.deepEqual(parseTsigKeyFile(bind, 'upd-key'), want);
  const knot = `# hmac-sha512:upd-key:${SECRET}\nkey:\n  - id: upd-key\n    algorithm: hmac-sha512\n    secret: ${SECRET}\n`;
  t.deepEqual(parseTsigKeyFile(knot), want);
  const dir = await mkdtemp(join(tmpdir(), 'tsig-'));
  try {
    await writeFile(join(dir, 'k.key'), bind);
    t.deepEqual(await loadTsigKey(join(dir, 'k.key'), 'upd-key'), want);
    await t.throwsAsync(loadTsigKey(join(dir, 'missing.key')), { instanceOf: DnsError });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  t.throws(() => parseTsigKey(`k:hmac-md5:${SECRET}`), { instanceOf: DnsError });
  t.throws(() => parseTsigKey('k:hmac-sha256:not base64!'), { instanceOf: DnsError });
  t.throws(() => parseTsigKeyFile('nothing here'), { instanceOf: DnsError });
  // The secret never appears in an error message.
  const err = t.throws(() => parseTsigKey(`k:hmac-md5:${SECRET}`));
  t.false(err.message.includes(SECRET));
});

/** A reply to `request`, signed by the "server" as RFC 8945 §4.3.1 says (over the request MAC). */
function signedReply(request: Buffer, requestMac: Buffer, key: TsigKey, nowSec: number, tamper = false): Buffer {
  // Header (same id, QR + opcode UPDATE) and the zone section copied from the request.
  const zoneEnd = request.indexOf(0, 12) + 5;
  const body = Buffer.from(request.subarray(0, zoneEnd));
  body.writeUInt16BE(0x8000 | (5 << 11), 2);
  body.writeUInt16BE(1, 4);
  body.writeUInt16BE(0, 6);
  body.writeUInt16BE(0, 8);
  body.writeUInt16BE(0, 10);
  const out = signMessage(body, key, nowSec, 300, requestMac).message;
  if (tamper) out[out.length - 10] = out.at(-10)! ^ 1; // a MAC byte
  return out;
}

test('a signed reply verifies; a tampered MAC, another key or a stale time does not', (t) => {
  const key = parseTsigKey(`k:hmac-sha256:${SECRET}`);
  const req = signMessage(buildUpdate(77, { zone: 'example.test', updates: [{ op: 'delete-name', name: 'x.example.test' }] }), key, 1_800_000_000);
  t.truthy(extractTsig(req.message));
  const good = signedReply(req.message, req.mac, key, 1_800_000_010);
  t.truthy(verifyReply(good, key, req.mac, 1_800_000_020, {}));
  t.is(t.throws(() => verifyReply(signedReply(req.message, req.mac, key, 1_800_000_010, true), key, req.mac, 1_800_000_020, {}), { instanceOf: DnsError }).code, 'BADSIG');
  const other = parseTsigKey(`k:hmac-sha256:${Buffer.alloc(32, 9).toString('base64')}`);
  t.is(t.throws(() => verifyReply(good, other, req.mac, 1_800_000_020, {}), { instanceOf: DnsError }).code, 'BADSIG');
  t.is(t.throws(() => verifyReply(good, key, req.mac, 1_800_001_000, {}), { instanceOf: DnsError }).code, 'BADTIME');
  // A reply without TSIG is left to the caller (undefined), never "verified".
  t.is(verifyReply(req.message.subarray(0, 12), key, req.mac, 1_800_000_020, {}), undefined);
});

const kdig = ['/usr/bin/kdig', '/bin/kdig'].find((p) => existsSync(p));
(kdig ? test : test.skip)('our MAC over a request equals the MAC kdig (Knot) puts on it', async (t) => {
  for (const alg of ['hmac-sha256', 'hmac-sha512'] as const) {
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const port = sock.address().port;
    const got = new Promise<Buffer>((resolve) => sock.once('message', (m) => resolve(m)));
    const child = execFile(kdig!, ['-y', `${alg}:kdig-key:${SECRET}`, '+retry=0', '+time=1', `@127.0.0.1`, '-p', String(port), 'example.test', 'TXT'], () => undefined);
    const request = await got;
    sock.close();
    child.kill();
    const tsig = extractTsig(request);
    t.truthy(tsig);
    t.is(tsig!.keyName, 'kdig-key');
    t.is(tsig!.algorithm, alg);
    const ours = signMessage(tsig!.stripped, parseTsigKey(`kdig-key:${alg}:${SECRET}`), tsig!.timeSigned, tsig!.fudge);
    t.is(ours.mac.toString('hex'), tsig!.mac.toString('hex'));
  }
});
