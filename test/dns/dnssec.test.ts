/**
 * RRSIG verification (src/dns/dnssec.ts over src/dns/wire.ts) against signatures made by
 * two independent signers: Knot's automatic signing and ldns-signzone, for every
 * algorithm Node can verify; ldns-verify-zone is the oracle for expired and tampered zones.
 */
import test from 'ava';
import { dsMatches, dsRecordText, parseDnskey, parseDs, rrsets, verifyRrset, type Dnskey } from '../../src/dns/dnssec.ts';
import { queryWire } from '../../src/dns/wire-query.ts';
import { TYPE, wireName, type WireRecord } from '../../src/dns/wire.ts';
import { createResolver } from '../../src/dns/resolver.ts';
import { DnsError } from '../../src/dns/types.ts';
import { knotMissing, startKnot, type KnotServer } from '../support/knot.ts';
import { startUnbound, unboundMissing } from '../support/unbound.ts';
import { ldnsMissing, ldnsVerify, makeZoneKeys, signZone, type LdnsAlgorithm, type ZoneKeys } from '../support/ldns-sign.ts';

const missing = knotMissing() ?? ldnsMissing();
const it = missing ? test.skip : test;
if (missing) test.skip(`DNSSEC verification needs Knot and ldns: ${missing}`, () => {});

const RECORDS = [
  '@ MX 10 mx',
  'mx A 127.0.0.25',
  'mx AAAA ::1',
  '@ TXT "v=spf1 ip4:192.0.2.0/24" " -all"',
  'MiXeD TXT "case in the owner"',
  '*.wild TXT "from a wildcard"',
  'alias CNAME mx',
  '_25._tcp.mx TLSA 3 1 1 0000000000000000000000000000000000000000000000000000000000000000',
].join('\n');

const ALGS: readonly LdnsAlgorithm[] = ['RSASHA256', 'RSASHA512', 'ECDSAP256SHA256', 'ECDSAP384SHA384', 'ED25519', 'ED448'];
const DAY = 86_400_000;

let knot: KnotServer | undefined;
const keys = new Map<string, ZoneKeys>();
const signedText = new Map<string, string>();

test.before(async () => {
  if (missing) return;
  const zones: { name: string; records?: string; dnssec?: boolean }[] = [{ name: 'knot.example', records: RECORDS, dnssec: true }];
  const add = (name: string, alg: LdnsAlgorithm, o: { inception?: Date; expiration?: Date; tamper?: boolean } = {}) => {
    const k = makeZoneKeys(name, alg);
    keys.set(name, k);
    let text = signZone(k, { records: RECORDS, ...o });
    if (o.tamper) text = text.replace(/(\tMX\t10 )mx\.tampered\.example\./, '$1evil.example.');
    signedText.set(name, text);
    zones.push({ name, records: text });
  };
  for (const alg of ALGS) add(`${alg.toLowerCase()}.example`, alg);
  add('expired.example', 'ECDSAP256SHA256', { inception: new Date(Date.now() - 60 * DAY), expiration: new Date(Date.now() - 30 * DAY) });
  add('future.example', 'ED25519', { inception: new Date(Date.now() + 30 * DAY), expiration: new Date(Date.now() + 60 * DAY) });
  add('tampered.example', 'RSASHA256', { tamper: true });
  knot = await startKnot({ zones });
});
test.after.always(async () => {
  await knot?.stop();
  for (const k of keys.values()) k.cleanup();
});

async function ask(name: string, type: number) {
  return queryWire(knot!.server, name, type, { dnssec: true });
}

async function zoneKeys(zone: string): Promise<{ keys: Dnskey[]; set: WireRecord[]; sigs: WireRecord[] }> {
  const m = await ask(zone, TYPE.DNSKEY);
  const set = m.answer.filter((r) => r.type === TYPE.DNSKEY);
  return { keys: set.map((r) => parseDnskey(r.rdata)!), set, sigs: m.answer.filter((r) => r.type === TYPE.RRSIG) };
}

/** Status of every RRset (answer and authority) for each query, keyed `name TYPE`. */
async function verdicts(zone: string, now = Date.now()): Promise<Map<string, string>> {
  const { keys: ks, set, sigs } = await zoneKeys(zone);
  const out = new Map<string, string>();
  out.set(`${zone} DNSKEY`, verifyRrset(set, sigs, ks, zone, now).status);
  const queries: [string, number][] = [
    [zone, TYPE.SOA],
    [zone, TYPE.MX],
    [zone, TYPE.TXT],
    [`mx.${zone}`, TYPE.A],
    [`mx.${zone}`, TYPE.AAAA],
    [`mixed.${zone}`, TYPE.TXT],
    [`anything.wild.${zone}`, TYPE.TXT],
    [`alias.${zone}`, TYPE.A],
    [`_25._tcp.mx.${zone}`, TYPE.TLSA],
    [`nonexistent.${zone}`, TYPE.A],
  ];
  for (const [name, type] of queries) {
    const m = await ask(name, type);
    for (const section of [m.answer, m.authority]) {
      const sigsHere = section.filter((r) => r.type === TYPE.RRSIG);
      for (const rrset of rrsets(section)) out.set(`${name} ${rrset[0]!.owner.text} ${rrset[0]!.type}`, verifyRrset(rrset, sigsHere, ks, zone, now).status);
    }
  }
  return out;
}

it("Knot's automatic ECDSA signatures verify: answers, wildcard expansion, CNAME, mixed case, NSEC in authority", async (t) => {
  const v = await verdicts('knot.example');
  t.true(v.size >= 14, JSON.stringify([...v]));
  for (const [k, status] of v) t.is(status, 'valid', k);
  t.true([...v.keys()].some((k) => k.startsWith('anything.wild.knot.example anything.wild.knot.example 16')), 'the wildcard-expanded TXT was checked');
  t.true([...v.keys()].some((k) => k.startsWith('nonexistent.knot.example') && k.endsWith(' 47')), 'an NSEC in authority was checked');
  // The DS keymgr prints for the KSK matches one of the served keys.
  const { keys: ks } = await zoneKeys('knot.example');
  const dsLine = (await knot!.ds('knot.example')).find((l) => / DS \d+ 13 2 /.test(l))!;
  const [, tag, alg, dt, hex] = / DS (\d+) (\d+) (\d+) ([0-9a-fA-F]+)/.exec(dsLine)!;
  const ds = { keyTag: Number(tag), algorithm: Number(alg), digestType: Number(dt), digest: Buffer.from(hex!, 'hex') };
  t.true(ks.some((k) => dsMatches(wireName('knot.example'), ds, k) === true));
  t.true(ks.filter((k) => k.sep).every((k) => dsRecordText(wireName('knot.example'), k).startsWith(`knot.example. IN DS ${k.keyTag} 13 2 `)));
});

for (const alg of ALGS) {
  it(`ldns-signzone ${alg}: every RRset verifies, and the DS ldns-key2ds made matches our digest`, async (t) => {
    const zone = `${alg.toLowerCase()}.example`;
    t.true(ldnsVerify(signedText.get(zone)!, keys.get(zone)!.dir).ok);
    const v = await verdicts(zone);
    for (const [k, status] of v) t.is(status, 'valid', k);
    const [, tag, a, dt, hex] = /DS\s+(\d+) (\d+) (\d+) ([0-9a-f]+)/.exec(keys.get(zone)!.ds)!;
    const ds = parseDs(Buffer.concat([Buffer.from([Number(tag) >> 8, Number(tag) & 0xff, Number(a), Number(dt)]), Buffer.from(hex!, 'hex')]))!;
    const { keys: ks } = await zoneKeys(zone);
    const ksk = ks.find((k) => dsMatches(wireName(zone), ds, k) === true);
    t.truthy(ksk, 'the KSK matches');
    t.is(dsRecordText(wireName(zone), ksk!).toLowerCase(), `${zone}. in ds ${tag} ${a} 2 ${hex}`);
  });
}

it('signatures past their expiration are "expired"; before their inception "not-yet-valid" — ldns-verify-zone agrees', async (t) => {
  for (const [zone, want] of [['expired.example', 'expired'], ['future.example', 'not-yet-valid']] as const) {
    t.false(ldnsVerify(signedText.get(zone)!, keys.get(zone)!.dir).ok, zone);
    for (const [k, status] of await verdicts(zone)) t.is(status, want, k);
    // At a time inside the window the same signatures are valid: only the clock differs.
    const inside = zone === 'expired.example' ? Date.now() - 45 * DAY : Date.now() + 45 * DAY;
    for (const [k, status] of await verdicts(zone, inside)) t.is(status, 'valid', k);
  }
});

it('a record changed after signing is "bad-signature" (ldns-verify-zone agrees); the untouched RRsets stay valid', async (t) => {
  t.false(ldnsVerify(signedText.get('tampered.example')!, keys.get('tampered.example')!.dir).ok);
  const v = await verdicts('tampered.example');
  t.is(v.get('tampered.example tampered.example 15'), 'bad-signature');
  t.is(v.get('tampered.example tampered.example 6'), 'valid');
  t.is(v.get('tampered.example DNSKEY'), 'valid');
});

it('keys of another zone do not verify: "no-key"', async (t) => {
  const { keys: other } = await zoneKeys('ed25519.example');
  const m = await ask('rsasha256.example', TYPE.SOA);
  const soa = m.answer.filter((r) => r.type === TYPE.SOA);
  t.is(verifyRrset(soa, m.answer.filter((r) => r.type === TYPE.RRSIG), other, 'rsasha256.example', Date.now()).status, 'no-key');
  t.is(verifyRrset(soa, [], other, 'rsasha256.example', Date.now()).status, 'unsigned');
});

const unboundIt = missing || unboundMissing() ? test.skip : test;
unboundIt('a resolver with checkingDisabled reads a bogus zone that a validating resolver refuses (SERVFAIL)', async (t) => {
  const k = keys.get('tampered.example')!;
  const unbound = await startUnbound({ stubs: [{ zone: 'tampered.example', servers: [knot!.server], trustAnchors: [k.ds] }] });
  try {
    const validating = createResolver({ servers: [unbound.server], maxEntries: 0 });
    const err = await t.throwsAsync(validating.query('tampered.example', 'MX'), { instanceOf: DnsError });
    t.is(err?.code, 'SERVFAIL');
    const cd = createResolver({ servers: [unbound.server], maxEntries: 0, checkingDisabled: true });
    const answer = await cd.query('tampered.example', 'MX');
    t.deepEqual(answer.records.map((r) => r.exchange), ['evil.example']);
    t.false(answer.authenticated);
    // An intact zone under the same kind of anchor validates (AD=1) with CD clear.
    const good = keys.get('ed25519.example')!;
    const u2 = await startUnbound({ stubs: [{ zone: 'ed25519.example', servers: [knot!.server], trustAnchors: [good.ds] }] });
    try {
      const a = await createResolver({ servers: [u2.server], maxEntries: 0 }).query('ed25519.example', 'MX', { dnssec: true });
      t.true(a.authenticated);
    } finally {
      await u2.stop();
    }
  } finally {
    await unbound.stop();
  }
});
