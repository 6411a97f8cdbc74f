/** RFC 2136 updates signed with TSIG (RFC 8945) against a real Knot DNS; results read back with `queryServer`. */
import test from 'ava';
import { queryServer } from '../../src/dns/client.ts';
import { sendUpdate } from '../../src/dns/update.ts';
import { parseTsigKey, type TsigKey } from '../../src/dns/tsig.ts';
import { DnsError } from '../../src/dns/types.ts';
import { knotMissing, startKnot, type KnotServer } from '../support/knot.ts';

const missing = knotMissing();
let knot: KnotServer | undefined;
let key256: TsigKey;
let key512: TsigKey;

test.before(async () => {
  if (missing) return;
  knot = await startKnot({
    zones: [{ name: 'upd.test', dnssec: true }, { name: 'locked.test', allowUpdate: false }],
    tsigKeys: [
      { name: 'upd-256', algorithm: 'hmac-sha256' },
      { name: 'upd-512', algorithm: 'hmac-sha512' },
    ],
  });
  key256 = parseTsigKey(knot.tsigKeys[0]!.spec);
  key512 = parseTsigKey(knot.tsigKeys[1]!.spec);
});
test.after.always(async () => {
  await knot?.stop();
});

const it = missing ? test.skip : test;
if (missing) test.skip(`update tests against Knot: ${missing}`, () => {});

// An RSA-2048 DKIM record: longer than 255 bytes, so it travels as several strings.
const longDkim = `v=DKIM1; k=rsa; p=${'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA'.padEnd(392, 'A')}`;

it('a TSIG-signed update (hmac-sha256) adds TXT, TLSA and CNAME records, visible via queryServer', async (t) => {
  const k = knot!;
  const r = await sendUpdate(
    k.server,
    {
      zone: 'upd.test',
      prerequisites: [{ kind: 'name-absent', name: 'sel1._domainkey.upd.test' }],
      updates: [
        { op: 'add', name: 'sel1._domainkey.upd.test', type: 'TXT', ttl: 120, data: longDkim },
        { op: 'add', name: '_25._tcp.mx.upd.test', type: 'TLSA', ttl: 300, data: { usage: 3, selector: 1, matchingType: 1, data: Buffer.alloc(32, 0xab) } },
        { op: 'add', name: 'sel1._domainkey.customer.upd.test', type: 'CNAME', ttl: 300, data: 'sel1._domainkey.upd.test' },
      ],
    },
    { key: key256 },
  );
  t.true(r.verified);
  const txt = await queryServer(k.server, 'sel1._domainkey.upd.test', 'TXT', { recursionDesired: false });
  t.is(txt.ttl, 120);
  t.is(txt.records.length, 1);
  t.true(txt.records[0]!.length >= 2);
  t.true(txt.records[0]!.every((s) => Buffer.byteLength(s) <= 255));
  t.is(txt.records[0]!.join(''), longDkim);
  const tlsa = await queryServer(k.server, '_25._tcp.mx.upd.test', 'TLSA');
  t.deepEqual(tlsa.records.map((x) => [x.usage, x.selector, x.matchingType, x.data.toString('hex')]), [[3, 1, 1, 'ab'.repeat(32)]]);
  const viaCname = await queryServer(k.server, 'sel1._domainkey.customer.upd.test', 'TXT');
  t.deepEqual(viaCname.cnameChain, ['sel1._domainkey.customer.upd.test']);
  t.is(viaCname.records[0]!.join(''), longDkim);
});

it('hmac-sha512 works; delete one RR and delete an RRset', async (t) => {
  const k = knot!;
  await sendUpdate(
    k.server,
    {
      zone: 'upd.test',
      updates: [
        { op: 'add', name: 'multi.upd.test', type: 'TXT', ttl: 60, data: ['one'] },
        { op: 'add', name: 'multi.upd.test', type: 'TXT', ttl: 60, data: ['two'] },
        { op: 'add', name: 'gone.upd.test', type: 'A', ttl: 60, data: '192.0.2.7' },
      ],
    },
    { key: key512 },
  );
  t.deepEqual((await queryServer(k.server, 'multi.upd.test', 'TXT')).records.map((r) => r.join('')).sort(), ['one', 'two']);
  await sendUpdate(
    k.server,
    {
      zone: 'upd.test',
      prerequisites: [{ kind: 'rrset-exists', name: 'gone.upd.test', type: 'A' }],
      updates: [
        { op: 'delete', name: 'multi.upd.test', type: 'TXT', data: ['one'] },
        { op: 'delete-rrset', name: 'gone.upd.test', type: 'A' },
      ],
    },
    { key: key512, tcp: false },
  );
  t.deepEqual((await queryServer(k.server, 'multi.upd.test', 'TXT')).records, [['two']]);
  const gone = await queryServer(k.server, 'gone.upd.test', 'A');
  t.is(gone.rcode, 'NXDOMAIN');
});

it('a failed prerequisite is a typed error and changes nothing', async (t) => {
  const k = knot!;
  const err = await t.throwsAsync(
    sendUpdate(k.server, { zone: 'upd.test', prerequisites: [{ kind: 'rrset-exists', name: 'nothing.upd.test', type: 'TXT' }], updates: [{ op: 'add', name: 'nothing.upd.test', type: 'TXT', ttl: 60, data: 'x' }] }, { key: key256 }),
    { instanceOf: DnsError },
  );
  t.is(err.code, 'NXRRSET');
  t.is((await queryServer(k.server, 'nothing.upd.test', 'TXT')).rcode, 'NXDOMAIN');
});

it('a wrong secret is BADSIG, an unknown key BADKEY, a skewed clock BADTIME; nothing is applied', async (t) => {
  const k = knot!;
  const req = { zone: 'upd.test', updates: [{ op: 'add' as const, name: 'evil.upd.test', type: 'TXT' as const, ttl: 60, data: 'x' }] };
  const badSecret: TsigKey = { ...key256, secret: Buffer.alloc(32, 1) };
  const e1 = await t.throwsAsync(sendUpdate(k.server, req, { key: badSecret }), { instanceOf: DnsError });
  t.is(e1.code, 'BADSIG');
  t.is(e1.context.zone, 'upd.test');
  t.is(e1.context.server, k.address);
  const unknown: TsigKey = { name: 'nobody', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 2) };
  const e2 = await t.throwsAsync(sendUpdate(k.server, req, { key: unknown }), { instanceOf: DnsError });
  t.is(e2.code, 'BADKEY');
  const e3 = await t.throwsAsync(sendUpdate(k.server, req, { key: key256, now: () => Date.now() - 3_600_000 }), { instanceOf: DnsError });
  t.is(e3.code, 'BADTIME');
  t.false(JSON.stringify(e1.context).includes(badSecret.secret.toString('base64')));
  t.is((await queryServer(k.server, 'evil.upd.test', 'TXT')).rcode, 'NXDOMAIN');
});

it('an unsigned update, or one to a zone without an update ACL, is refused (NOTAUTH from Knot)', async (t) => {
  const k = knot!;
  const e1 = await t.throwsAsync(sendUpdate(k.server, { zone: 'upd.test', updates: [{ op: 'add', name: 'u.upd.test', type: 'TXT', ttl: 60, data: 'x' }] }), { instanceOf: DnsError });
  // Knot answers NOTAUTH when the ACL does not match (RFC 2136 §3.3 leaves REFUSED or NOTAUTH open).
  t.true(e1.code === 'REFUSED' || e1.code === 'NOTAUTH', e1.message);
  const e2 = await t.throwsAsync(sendUpdate(k.server, { zone: 'locked.test', updates: [{ op: 'add', name: 'u.locked.test', type: 'TXT', ttl: 60, data: 'x' }] }, { key: key256 }), { instanceOf: DnsError });
  // Knot 3.2 reports a key that no ACL of the zone names as a TSIG BADKEY.
  t.true(['REFUSED', 'NOTAUTH', 'BADKEY'].includes(e2.code), e2.message);
  t.is((await queryServer(k.server, 'u.locked.test', 'TXT')).rcode, 'NXDOMAIN');
});

it('a name outside the zone is refused before sending', async (t) => {
  const err = await t.throwsAsync(sendUpdate(knot!.server, { zone: 'upd.test', updates: [{ op: 'delete-name', name: 'example.org' }] }, { key: key256 }), { instanceOf: DnsError });
  t.is(err.code, 'NOTZONE');
});
