/** The pure codec half: query bytes, reply validation, CNAME chains, negative TTLs, rcode mapping. */
import test from 'ava';
import * as dnsPacket from 'dns-packet';
import { buildQuery, EDNS_UDP_PAYLOAD, interpretReply, normalizeName, type QuerySpec } from '../../src/dns/message.ts';
import { queryServer } from '../../src/dns/client.ts';
import { DnsError } from '../../src/dns/types.ts';
import { fakeTransport, soa } from './fake-transport.ts';

const spec = (over: Partial<QuerySpec> = {}): QuerySpec => ({ id: 4242, name: 'example.test', type: 'TXT', recursionDesired: true, dnssec: false, ...over });

function reply(over: Partial<dnsPacket.Packet> & { flags?: number } = {}, q = { name: 'example.test', type: 'TXT' as const }): Buffer {
  return dnsPacket.encode({ type: 'response', id: 4242, flags: 0, questions: [{ ...q, class: 'IN' }], ...over });
}

test('buildQuery: RD, one question, EDNS0 payload 1232, DO only when asked', (t) => {
  const plain = dnsPacket.decode(buildQuery(spec()));
  t.is(plain.id, 4242);
  t.true(((plain as { flags?: number }).flags! & dnsPacket.RECURSION_DESIRED) !== 0);
  t.deepEqual(plain.questions, [{ name: 'example.test', type: 'TXT', class: 'IN' }]);
  const opt = plain.additionals![0] as { type: string; udpPayloadSize: number; flags: number };
  t.is(opt.type, 'OPT');
  t.is(opt.udpPayloadSize, EDNS_UDP_PAYLOAD);
  t.is(opt.flags & dnsPacket.DNSSEC_OK, 0);
  const dnssec = dnsPacket.decode(buildQuery(spec({ dnssec: true, recursionDesired: false })));
  t.is(((dnssec as { flags?: number }).flags! & dnsPacket.RECURSION_DESIRED), 0);
  t.not(((dnssec.additionals![0] as { flags: number }).flags & dnsPacket.DNSSEC_OK), 0);
});

test('normalizeName lower-cases, drops the final dot and enforces RFC 1035 limits', (t) => {
  t.is(normalizeName('Sel._DomainKey.Example.TEST.'), 'sel._domainkey.example.test');
  t.is(normalizeName('.'), '');
  t.throws(() => normalizeName(`${'a'.repeat(64)}.test`), { instanceOf: DnsError });
  t.throws(() => normalizeName('a..b'), { instanceOf: DnsError });
  t.throws(() => normalizeName(Array.from({ length: 130 }, () => 'ab').join('.')), { instanceOf: DnsError });
});

test('TXT strings, AA and AD flags, TTL minimum', (t) => {
  const a = interpretReply(
    spec(),
    reply({
      flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.AUTHENTIC_DATA,
      answers: [
        { name: 'Example.Test', type: 'TXT', ttl: 300, data: ['v=spf1 ', '-all'] },
        { name: 'example.test', type: 'TXT', ttl: 100, data: 'x' },
      ],
    }),
    'srv',
  );
  t.deepEqual(a.records, [['v=spf1 ', '-all'], ['x']]);
  t.is(a.ttl, 100);
  t.true(a.authoritative);
  t.true(a.authenticated);
  t.is(a.canonicalName, 'example.test');
});

test('a CNAME chain is followed in order; records of other owners are ignored', (t) => {
  const a = interpretReply(
    spec(),
    reply({
      answers: [
        { name: 'b.test', type: 'CNAME', ttl: 50, data: 'c.test' },
        { name: 'example.test', type: 'CNAME', ttl: 70, data: 'b.test' },
        { name: 'c.test', type: 'TXT', ttl: 300, data: 'target' },
        { name: 'unrelated.test', type: 'TXT', ttl: 300, data: 'spoof' },
      ],
    }),
    'srv',
  );
  t.deepEqual(a.records, [['target']]);
  t.deepEqual(a.cnameChain, ['example.test', 'b.test']);
  t.is(a.canonicalName, 'c.test');
  t.is(a.ttl, 50);
});

test('NXDOMAIN / NODATA take min(SOA TTL, MINIMUM); without SOA the TTL is 0 (RFC 2308 §5)', (t) => {
  const nx = interpretReply(spec(), reply({ flags: 3, authorities: [soa('example.test', 600, 45)] }), 'srv');
  t.is(nx.rcode, 'NXDOMAIN');
  t.is(nx.ttl, 45);
  const nodata = interpretReply(spec(), reply({ authorities: [soa('example.test', 20, 45)] }), 'srv');
  t.is(nodata.rcode, 'NOERROR');
  t.deepEqual(nodata.records, []);
  t.is(nodata.ttl, 20);
  t.is(interpretReply(spec(), reply({ flags: 3 }), 'srv').ttl, 0);
});

test('error rcodes become DnsErrors with the server in context', (t) => {
  for (const [rcode, code] of [
    [2, 'SERVFAIL'],
    [5, 'REFUSED'],
    [1, 'FORMERR'],
    [4, 'NOTIMP'],
    [9, 'NOTAUTH'],
    [6, 'OTHER'],
  ] as const) {
    const err = t.throws(() => interpretReply(spec(), reply({ flags: rcode }), '192.0.2.53:53'), { instanceOf: DnsError });
    t.is(err.code, code);
    t.is(err.context.server, '192.0.2.53:53');
  }
});

test('an EDNS extended rcode (BADVERS) is an error, not an answer', (t) => {
  const badvers = reply({ additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 1, flags: 0 } as dnsPacket.Answer] });
  const err = t.throws(() => interpretReply(spec(), badvers, 's'), { instanceOf: DnsError });
  t.is(err.code, 'OTHER');
  t.is(err.context.rcode, 16);
});

test('a reply with another id, question or type is refused (RFC 5452 §9)', (t) => {
  t.is(t.throws(() => interpretReply(spec({ id: 1 }), reply(), 's'), { instanceOf: DnsError }).code, 'MALFORMED');
  t.is(t.throws(() => interpretReply(spec(), reply({}, { name: 'other.test', type: 'TXT' }), 's'), { instanceOf: DnsError }).code, 'MALFORMED');
  t.is(t.throws(() => interpretReply(spec(), reply({}, { name: 'example.test', type: 'A' as 'TXT' }), 's'), { instanceOf: DnsError }).code, 'MALFORMED');
  const noQuestion = dnsPacket.encode({ type: 'response', id: 4242, questions: [] });
  t.is(t.throws(() => interpretReply(spec(), noQuestion, 's'), { instanceOf: DnsError }).code, 'MALFORMED');
});

test('a reply cut at every byte offset is MALFORMED, never a crash or a wrong answer', (t) => {
  const full = reply({ answers: [{ name: 'example.test', type: 'TXT', ttl: 300, data: ['hello', 'world'] }], authorities: [soa('example.test', 1, 1)] });
  t.deepEqual(interpretReply(spec(), full, 's').records, [['hello', 'world']]);
  for (let cut = 0; cut < full.length; cut++) {
    const err = t.throws(() => interpretReply(spec(), full.subarray(0, cut), 's'));
    t.true(err instanceof DnsError && err.code === 'MALFORMED', `cut at ${cut}: ${String(err)}`);
  }
});

test('queryServer retries over TCP when the UDP reply has TC, and pins MX/TLSA shapes', async (t) => {
  const fake = fakeTransport((q) =>
    q.tcp
      ? { answers: [{ name: q.name, type: 'MX', ttl: 60, data: { preference: 5, exchange: 'MX.Example.Test.' } }] }
      : { tc: true },
  );
  const a = await queryServer({ host: '192.0.2.1', port: 53 }, 'example.test', 'MX', { transport: fake.transport });
  t.deepEqual(a.records, [{ exchange: 'mx.example.test', priority: 5 }]);
  t.deepEqual(fake.calls.map((c) => c.tcp), [false, true]);
  const tlsa = fakeTransport((q) => ({ answers: [{ name: q.name, type: 'TLSA', ttl: 60, data: { usage: 2, selector: 1, matchingType: 2, certificate: Buffer.alloc(64, 7) } }] }));
  const t2 = await queryServer({ host: '192.0.2.1', port: 53 }, '_25._tcp.mx.example.test', 'TLSA', { transport: tlsa.transport });
  t.deepEqual(t2.records, [{ usage: 2, selector: 1, matchingType: 2, data: Buffer.alloc(64, 7) }]);
});

test('random ids differ between queries', async (t) => {
  const ids = new Set<number>();
  const fake = fakeTransport(() => ({ answers: [] }));
  const spy = async (...args: Parameters<typeof fake.transport>) => {
    ids.add(args[1].readUInt16BE(0));
    return fake.transport(...args);
  };
  for (let i = 0; i < 20; i++) await queryServer({ host: '192.0.2.1', port: 53 }, 'example.test', 'A', { transport: spy });
  t.true(ids.size >= 15);
});
