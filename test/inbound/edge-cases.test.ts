/**
 * The inbound filter on hostile and odd input, with real mailauth and Knot: an l= signature
 * with text appended, more signatures than the cap, garbage DKIM-Signature tags, a 16 MB body
 * that is one long line in 64 KB chunks, SPF permerror, a non-ASCII From. Each gets the
 * verdict the RFCs prescribe, never an exception that drops the session. Also the RFC 8463
 * (Ed25519) example message and keys, verified and re-signed by our signer.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { decodeConfig } from '../../src/config/load.ts';
import { BodyHasher, signMessage } from '../../src/auth/dkim/sign.ts';
import { createResolver } from '../../src/dns/resolver.ts';
import { createInboundFilterFactory } from '../../src/inbound/filter.ts';
import { MilterClient, sendMessage, type ClientModification } from '../../src/milter/mta-client.ts';
import { startMilterServer, type MilterServer } from '../../src/milter/server.ts';
import { knotMissing, startKnot, type KnotServer } from '../support/knot.ts';
import { captureLogger } from '../support/logger.ts';
import { splitMessage } from '../support/raw-message.ts';
import { dkimsign, makeKey, type TestKey } from './dkim-keys.ts';

const missing = knotMissing() ?? (existsSync('/usr/bin/dkimsign') ? undefined : 'python3-dkim not installed');
const it = missing ? test.serial.skip : test.serial;
if (missing) test.skip(`inbound edge cases: ${missing}`, () => {});

const ID = 'mx.anchor.test';
const IP = '192.0.2.10';
let dir = '';
let knot: KnotServer;
let server: MilterServer;
let key: TestKey;
const { logger, lines } = captureLogger();

test.before(async () => {
  if (missing) return;
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-edge-'));
  key = makeKey(dir, 'k1', 'rsa-sha256');
  knot = await startKnot({
    zones: [
      { name: 'test', records: '' },
      { name: 'edge.test', records: [`@ IN TXT "v=spf1 -all"`, '_dmarc IN TXT "v=DMARC1; p=none"', `k1._domainkey IN TXT ${key.zoneTxt}`].join('\n') },
      { name: 'broken.test', records: ['@ IN TXT "v=spf1 ip4:192.0.2.0/33 bogus:x -all"'].join('\n') },
      { name: '2.0.192.in-addr.arpa', records: '' },
      // The RFC's names: DMARC's tree walk needs NXDOMAIN up to `com`, not REFUSED (a temperror).
      { name: 'com', records: '' },
      { name: 'example.com', records: '' },
      // RFC 8463 Appendix A.2, the keys of the example
      {
        name: 'football.example.com',
        records: [
          'brisbane._domainkey IN TXT "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="',
          'test._domainkey IN TXT "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB"',
        ].join('\n'),
      },
    ],
  });
  server = await startWith({ max_signatures: 3 }, 500);
});
/** A milter with these inbound settings on the Knot server, with a cache of its own. */
function startWith(inbound: Record<string, unknown>, dnsTimeoutMs = 300): Promise<MilterServer> {
  const { config } = decodeConfig({ inbound: { authserv_id: ID, ...inbound }, outbound: { trusted_networks: [] } });
  return startMilterServer({
    listen: [{ kind: 'tcp', host: '127.0.0.1', port: 0 }],
    factory: createInboundFilterFactory({ config, logger, metrics: new Registry(), dns: createResolver({ servers: [knot.server], timeoutMs: dnsTimeoutMs, attempts: 1 }), evaluations: undefined, keys: { activeKeys: () => [], assertHealthy: () => undefined }, now: Date.now }),
    logger,
  });
}

test.after.always(async () => {
  await server?.close({ drainMs: 100 });
  await knot?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const base = (from: string, body = 'Hello.\r\n'): Buffer =>
  Buffer.from(`From: <${from}>\r\nTo: bob@anchor.test\r\nSubject: edge\r\nDate: Sun, 22 Nov 2026 12:00:00 +0000\r\nMessage-ID: <${Math.random()}@x>\r\n\r\n${body}`, 'latin1');

async function deliver(raw: Buffer, from: string, via: MilterServer = server) {
  const { headers, body } = splitMessage(raw);
  const c = await MilterClient.connect(via.addresses[0]!);
  await c.negotiate();
  const r = await sendMessage(c, { client: { hostname: 'x', address: IP }, helo: 'mail.edge.test', from, rcpts: ['bob@anchor.test'], headers, body, macros: { connect: { j: ID } } });
  c.quit();
  const ar = r.eom?.modifications.find((m): m is Extract<ClientModification, { kind: 'insert-header' }> => m.kind === 'insert-header');
  return { reply: r.eom?.reply, ar: ar?.value ?? '' };
}

/** python3-dkim signs with l= (length=True): the body length is part of the signature. */
function signWithLength(raw: Buffer): Promise<Buffer> {
  const py = `import sys, dkim\nmsg=sys.stdin.buffer.read()\nsig=dkim.sign(msg, b'k1', b'edge.test', open(sys.argv[1],'rb').read(), length=True)\nsys.stdout.buffer.write(sig+msg)`;
  return new Promise((resolve, reject) => {
    const c = execFile('/usr/bin/python3', ['-c', py, key.keyFile], { encoding: 'buffer', env: { PATH: '/usr/bin:/bin' } }, (err, out, errout) => (err ? reject(new Error(errout.toString())) : resolve(out)));
    c.stdin!.end(raw);
  });
}

it('l= signature with text appended: DKIM verifies the signed part, but DMARC does not rest on it', async (t) => {
  const signed = await signWithLength(base('alice@edge.test'));
  const appended = Buffer.concat([signed, Buffer.from('Appended by someone else.\r\n')]);
  const r = await deliver(appended, 'alice@edge.test');
  t.is(r.reply?.kind, 'continue');
  t.regex(r.ar, /dkim=pass/);
  t.regex(r.ar, /dkim=pass \([^)]*l= leaves body bytes unsigned\)/);
  t.regex(r.ar, /dmarc=fail[^;]*reason="[^"]*1 DKIM pass with l= not counted/);
  const whole = await deliver(signed, 'alice@edge.test');
  t.regex(whole.ar, /dmarc=pass/, 'the same signature over the whole body passes');
});

it('more signatures than the cap: the extra ones are not verified and the header says so', async (t) => {
  let raw = base('alice@edge.test');
  for (let i = 0; i < 5; i++) raw = await dkimsign(raw, 'edge.test', key);
  const r = await deliver(raw, 'alice@edge.test');
  t.is([...r.ar.matchAll(/dkim=pass/g)].length, 3);
  t.regex(r.ar, /dkim=policy reason="2 DKIM signatures over the limit not verified"/);
});

it('garbage DKIM-Signature tags: a result, not an exception', async (t) => {
  const raw = Buffer.concat([Buffer.from('DKIM-Signature: v=1; a=rsa-sha999; d=; s=\x01\x02; b===; bh=%%%; h=\r\n'), base('alice@edge.test')]);
  const r = await deliver(raw, 'alice@edge.test');
  t.is(r.reply?.kind, 'continue');
  // The broken signature gets its own result with the reason, beside nothing that passes for it.
  t.is([...r.ar.matchAll(/dkim=permerror reason="[^"]+"/g)].length, 1, r.ar);
  t.notRegex(r.ar, /dkim=none/);
  t.false(lines.some((l) => l['message'] === 'filter failed'));
});

it('a 16 MB body that is one long line, in 64 KB chunks, is verified without stalling', async (t) => {
  const raw = await dkimsign(base('alice@edge.test', `${'x'.repeat(16 * 1024 * 1024)}\r\n`), 'edge.test', key);
  const start = performance.now();
  const r = await deliver(raw, 'alice@edge.test');
  t.log(`16 MiB single-line body: ${(performance.now() - start).toFixed(0)} ms through the milter`);
  t.regex(r.ar, /dkim=pass/);
});

it('SPF syntax error: spf=permerror; a non-ASCII From does not break the header', async (t) => {
  const r = await deliver(base('eve@broken.test'), 'eve@broken.test');
  t.regex(r.ar, /spf=permerror/);
  const utf = Buffer.from('From: =?utf-8?q?J=C3=BCrgen?= <j\xc3\xbcrgen@edge.test>\r\nSubject: caf\xc3\xa9\r\n\r\nx\r\n', 'latin1');
  const u = await deliver(utf, 'j\xc3\xbcrgen@edge.test');
  t.is(u.reply?.kind, 'continue');
  t.regex(u.ar, /^ mx\.anchor\.test;/);
});

const RFC8463_MESSAGE = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'dkim', 'rfc8463-a3.eml'));
/** RFC 8463 A.1: the Ed25519 private key is RFC 8032 §7.1 test 1's secret key (a 32-byte seed). */
const RFC8463_ED25519 = createPrivateKey({
  key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from('nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=', 'base64')]),
  format: 'der',
  type: 'pkcs8',
});

it('RFC 8463 A.3: the example message verifies, Ed25519 and RSA, against the RFC\'s DNS records', async (t) => {
  const r = await deliver(RFC8463_MESSAGE, 'joe@football.example.com');
  t.regex(r.ar, /dkim=pass[^;]*header\.d=football\.example\.com[^;]*header\.i=@football\.example\.com[^;]*header\.s=brisbane[^;]*header\.a=ed25519-sha256/);
  t.regex(r.ar, /dkim=pass[^;]*header\.s=test[^;]*header\.a=rsa-sha256/);
  const tampered = Buffer.from(RFC8463_MESSAGE.toString('latin1').replace('Are you hungry yet?', 'Are you hungry now?'), 'latin1');
  t.notRegex((await deliver(tampered, 'joe@football.example.com')).ar, /dkim=pass/);
});

it('RFC 8463: our signer with the RFC\'s Ed25519 key gives the RFC\'s body hash and a signature that verifies', async (t) => {
  const { headers, body } = splitMessage(RFC8463_MESSAGE);
  const hasher = new BodyHasher('simple');
  hasher.write(body);
  const bh = hasher.digest();
  t.is(bh, '4bLNXImK9drULnmePzZNEBleUanJCX5PIsDIFoH4KTQ=', 'bh= of RFC 8463 A.3');
  const unsigned = headers.filter(([n]) => n.toLowerCase() !== 'dkim-signature');
  const value = await signMessage({
    key: { id: 'rfc8463', domain: 'football.example.com', selector: 'brisbane', algorithm: 'ed25519-sha256', privateKey: RFC8463_ED25519 },
    headers: unsigned,
    bodyHash: bh,
    canonicalization: 'relaxed/simple',
    signHeaders: ['from', 'to', 'subject', 'date', 'message-id'],
    timestamp: 1_795_000_000,
  });
  const raw = Buffer.concat([Buffer.from(`DKIM-Signature: ${value}\r\n${unsigned.map(([n, v]) => `${n}:${v.replace(/\n/g, '\r\n')}\r\n`).join('')}\r\n`, 'latin1'), body]);
  const r = await deliver(raw, 'joe@football.example.com');
  t.regex(r.ar, /dkim=pass[^;]*header\.s=brisbane[^;]*header\.a=ed25519-sha256/);
});


it('several From authors with multiple_from = strictest: each author domain is evaluated, the strictest applies', async (t) => {
  const each = await startWith({ multiple_from: 'strictest' });
  try {
    const raw = Buffer.concat([Buffer.from('From: <mallory@evil.test>\r\n'), base('alice@edge.test')]);
    const r = await deliver(raw, 'alice@edge.test', each);
    t.is(r.reply?.kind, 'continue', 'neither author domain asks for more than p=none');
    t.regex(r.ar, /dmarc=none[^;]*header\.from=evil\.test/);
    t.regex(r.ar, /dmarc=\w+[^;]*header\.from=edge\.test/);
  } finally {
    await each.close({ drainMs: 100 });
  }
});

it('several From authors by default: dmarc=permerror and 550', async (t) => {
  const raw = Buffer.concat([Buffer.from('From: <mallory@evil.test>\r\n'), base('alice@edge.test')]);
  const r = await deliver(raw, 'alice@edge.test');
  t.is(r.reply?.kind, 'replycode');
  t.regex(r.reply?.kind === 'replycode' ? r.reply.text : '', /^550 5\.7\.1 .*several From authors/);
});

it('DNS down with on_temperror = accept: spf, dkim and dmarc say temperror in the header; the mail goes on', async (t) => {
  const accepting = await startWith({ on_temperror: 'accept', iprev: false });
  const signed = await dkimsign(base('alice@edge.test'), 'edge.test', key);
  await knot.freeze();
  try {
    const r = await deliver(signed, 'alice@edge.test', accepting);
    t.is(r.reply?.kind, 'continue');
    t.regex(r.ar, /dkim=temperror/);
    t.regex(r.ar, /spf=temperror/);
    t.regex(r.ar, /dmarc=temperror/);
  } finally {
    await knot.thaw();
    await accepting.close({ drainMs: 100 });
  }
});
