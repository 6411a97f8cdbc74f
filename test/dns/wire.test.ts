/**
 * The octet-level message parser (src/dns/wire.ts): agreement with dns-packet on real
 * encodings, canonical RDATA, the malformed cases by name, and a bounded seeded fuzz run
 * (only `DnsError('MALFORMED')` may come out of garbage, never another exception, never a hang).
 */
import test from 'ava';
import * as dnsPacket from 'dns-packet';
import { DnsError } from '../../src/dns/types.ts';
import { encodeName, encodeQuery, parseWireMessage, rdataText, TYPE, wireName } from '../../src/dns/wire.ts';
import { prng } from '../support/prng.ts';

function reply(answers: dnsPacket.Answer[], extra: Partial<dnsPacket.Packet> = {}): Buffer {
  return dnsPacket.encode({ type: 'response', id: 7, flags: dnsPacket.AUTHORITATIVE_ANSWER, questions: [{ type: 'MX', name: 'Example.ORG' }], answers, ...extra });
}

const SAMPLE = reply(
  [
    { type: 'MX', name: 'Example.ORG', ttl: 300, data: { preference: 10, exchange: 'MX.Example.ORG' } },
    { type: 'TXT', name: 'example.org', ttl: 60, data: ['v=spf1 ', '-all'] },
    { type: 'AAAA', name: 'mx.example.org', ttl: 60, data: '2001:db8::25' },
    { type: 'SOA', name: 'example.org', ttl: 60, data: { mname: 'NS1.example.org', rname: 'hostmaster.example.org', serial: 2026120101, refresh: 3600, retry: 600, expire: 86400, minimum: 60 } },
    { type: 'TLSA', name: '_25._tcp.mx.example.org', ttl: 60, data: { usage: 3, selector: 1, matchingType: 1, certificate: Buffer.alloc(32, 0xab) } },
  ],
  { authorities: [{ type: 'NS', name: 'example.org', ttl: 300, data: 'ns1.example.org' }] },
);

test('parses what dns-packet encodes (compressed names included) and renders presentation forms', (t) => {
  const m = parseWireMessage(SAMPLE);
  t.is(m.id, 7);
  t.is(m.questions[0]!.name.text, 'example.org');
  t.deepEqual(m.answer.map(rdataText), ['10 mx.example.org.', '"v=spf1 " "-all"', '2001:db8::25', 'ns1.example.org. hostmaster.example.org. 2026120101 3600 600 86400 60', `3 1 1 ${'ab'.repeat(32)}`]);
  t.is(m.authority[0]!.type, TYPE.NS);
  // The original case is kept in rdata; the canonical form lower-cases names (RFC 4034 §6.2).
  const mx = m.answer[0]!;
  t.true(mx.rdata.includes(Buffer.from('MX')));
  t.false(mx.canonicalRdata.includes(Buffer.from('MX')));
  t.deepEqual(mx.canonicalRdata, Buffer.concat([Buffer.from([0, 10]), encodeName('mx.example.org')]));
  t.is(m.answer[0]!.owner.text, 'example.org');
});

test('names: escapes, wildcard flag, label count; encodeName refuses what the wire cannot hold', (t) => {
  const n = wireName('*.A\\.b.example');
  t.true(n.wildcard);
  t.is(n.labelCount, 3);
  t.is(n.text, '*.a\\.b.example');
  t.is(wireName('').text, '');
  t.throws(() => encodeName(`${'a'.repeat(64)}.example`), { instanceOf: DnsError });
  t.throws(() => encodeName(Array.from({ length: 130 }, () => 'a').join('.')), { instanceOf: DnsError });
  t.throws(() => encodeName('bücher.example'), { instanceOf: DnsError, message: /A-label/ });
  const q = encodeQuery({ id: 1, name: 'example.org', type: TYPE.DNSKEY, recursionDesired: false, checkingDisabled: true, dnssec: true });
  const decoded = dnsPacket.decode(q);
  t.is(decoded.questions?.[0]?.type, 'DNSKEY');
  t.is((decoded as { flags?: number }).flags! & 0x0110, 0x0010); // CD set, RD clear
});

test('malformed messages are named: pointer loops, forward pointers, oversized counts, trailing bytes', (t) => {
  const header = (qd: number, an: number) => Buffer.from([0, 1, 0x84, 0, 0, qd, 0, an, 0, 0, 0, 0]);
  const cases: [string, Buffer, RegExp][] = [
    ['short', Buffer.from([0, 1, 2]), /shorter than a header/],
    ['pointer to itself', Buffer.concat([header(1, 0), Buffer.from([0xc0, 12, 0, 1, 0, 1])]), /does not point backwards/],
    ['forward pointer', Buffer.concat([header(1, 0), Buffer.from([0xc0, 20, 0, 1, 0, 1]), Buffer.alloc(8)]), /does not point backwards|after the last/],
    ['counts beyond the message', header(0, 200), /more records than/],
    ['label type 0x40', Buffer.concat([header(1, 0), Buffer.from([0x41, 0, 0, 1, 0, 1])]), /label type/],
    ['trailing octets', Buffer.concat([SAMPLE, Buffer.from([1, 2, 3])]), /after the last record/],
    ['RDATA longer than the message', Buffer.concat([header(0, 1), Buffer.from([0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 200])]), /RDATA/],
  ];
  for (const [what, bytes, re] of cases) {
    const err = t.throws(() => parseWireMessage(bytes), { instanceOf: DnsError }, what);
    t.is(err?.code, 'MALFORMED', what);
    t.regex(err?.message ?? '', re, what);
  }
});

test('fuzz: mutated and random messages yield a message or MALFORMED, nothing else (seeded, bounded)', (t) => {
  const rand = prng(20261201);
  const seeds = [SAMPLE, reply([{ type: 'CNAME', name: 'example.org', ttl: 1, data: 'a.example.org' }])];
  const deadline = Date.now() + 4000;
  let runs = 0;
  let parsed = 0;
  for (; runs < 30_000 && Date.now() < deadline; runs++) {
    const base = seeds[runs % seeds.length]!;
    let buf: Buffer;
    const mode = Math.floor(rand() * 4);
    if (mode === 0) buf = Buffer.from(Array.from({ length: Math.floor(rand() * 300) }, () => Math.floor(rand() * 256)));
    else if (mode === 1) buf = base.subarray(0, Math.floor(rand() * base.length));
    else {
      buf = Buffer.from(base);
      const flips = 1 + Math.floor(rand() * 6);
      for (let i = 0; i < flips; i++) buf[Math.floor(rand() * buf.length)] = Math.floor(rand() * 256);
      if (mode === 3) buf = Buffer.concat([buf, Buffer.from([0xc0, Math.floor(rand() * 256)])]);
    }
    try {
      const m = parseWireMessage(buf);
      for (const r of m.answer) rdataText(r);
      parsed++;
    } catch (err) {
      if (!(err instanceof DnsError) || err.code !== 'MALFORMED') return t.fail(`non-MALFORMED error on ${buf.toString('hex')}: ${String(err)}`);
    }
  }
  t.log(`${runs} inputs, ${parsed} parsed`);
  t.true(runs >= 1000);
});
