/** `queryServer` against a real Knot DNS on loopback: UDP, TC → TCP, TCP only, negative answers, CNAME chains, AA. */
import test from 'ava';
import { queryServer } from '../../src/dns/client.ts';
import { DnsError } from '../../src/dns/types.ts';
import { networkTransport, type DnsTransport } from '../../src/dns/transport.ts';
import { knotMissing, startKnot, type KnotServer } from '../support/knot.ts';

const missing = knotMissing();
let knot: KnotServer | undefined;

// A TXT RRset far larger than 1232 bytes: the UDP reply must be truncated.
const bigTxt = Array.from({ length: 12 }, (_, i) => `big 300 IN TXT "${String(i).padStart(2, '0')}${'x'.repeat(200)}"`).join('\n');

test.before(async () => {
  if (missing) return;
  knot = await startKnot({
    zones: [
      {
        name: 'client.test',
        negativeTtl: 42,
        records: [
          'www 120 IN A 192.0.2.1',
          'www 120 IN AAAA 2001:db8::1',
          'txt 300 IN TXT "v=spf1 -all"',
          'multi 300 IN TXT "part one " "part two"',
          '@ 300 IN MX 10 mx1.client.test.',
          '@ 300 IN MX 20 mx2.client.test.',
          'alias 60 IN CNAME alias2',
          'alias2 90 IN CNAME www',
          'loop1 IN CNAME loop2',
          'loop2 IN CNAME loop1',
          '_25._tcp.mx1 IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
          bigTxt,
        ].join('\n'),
      },
    ],
  });
});

test.after.always(async () => {
  await knot?.stop();
});

const skipIfMissing = missing ? test.skip : test;
if (missing) test.skip(`client tests against Knot: ${missing}`, () => {});

skipIfMissing('A, AAAA, TXT, MX and TLSA over UDP with the AA bit', async (t) => {
  const k = knot!;
  const a = await queryServer(k.server, 'WWW.Client.Test.', 'A', { recursionDesired: false });
  t.deepEqual(a.records, ['192.0.2.1']);
  t.is(a.name, 'www.client.test');
  t.is(a.rcode, 'NOERROR');
  t.is(a.ttl, 120);
  t.true(a.authoritative);
  t.false(a.authenticated);
  t.deepEqual((await queryServer(k.server, 'www.client.test', 'AAAA')).records, ['2001:db8::1']);
  t.deepEqual((await queryServer(k.server, 'txt.client.test', 'TXT')).records, [['v=spf1 -all']]);
  t.deepEqual((await queryServer(k.server, 'multi.client.test', 'TXT')).records, [['part one ', 'part two']]);
  const mx = await queryServer(k.server, 'client.test', 'MX');
  t.deepEqual(
    [...mx.records].sort((x, y) => x.priority - y.priority),
    [
      { exchange: 'mx1.client.test', priority: 10 },
      { exchange: 'mx2.client.test', priority: 20 },
    ],
  );
  const tlsa = await queryServer(k.server, '_25._tcp.mx1.client.test', 'TLSA');
  t.is(tlsa.records.length, 1);
  t.like(tlsa.records[0], { usage: 3, selector: 1, matchingType: 1 });
  t.is(tlsa.records[0]!.data.toString('hex'), '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef');
});

skipIfMissing('NXDOMAIN and NODATA are answers with the SOA negative TTL (RFC 2308)', async (t) => {
  const k = knot!;
  const nx = await queryServer(k.server, 'nope.client.test', 'TXT');
  t.is(nx.rcode, 'NXDOMAIN');
  t.deepEqual(nx.records, []);
  t.is(nx.ttl, 42); // min(SOA TTL 300, MINIMUM 42)
  const nodata = await queryServer(k.server, 'www.client.test', 'TXT');
  t.is(nodata.rcode, 'NOERROR');
  t.deepEqual(nodata.records, []);
  t.is(nodata.ttl, 42);
});

skipIfMissing('a CNAME chain in the answer is followed; TTL is the chain minimum', async (t) => {
  const a = await queryServer(knot!.server, 'alias.client.test', 'A');
  t.deepEqual(a.records, ['192.0.2.1']);
  t.deepEqual(a.cnameChain, ['alias.client.test', 'alias2.client.test']);
  t.is(a.ttl, 60);
  const own = await queryServer(knot!.server, 'alias.client.test', 'CNAME');
  t.deepEqual(own.records, ['alias2.client.test']);
  t.deepEqual(own.cnameChain, []);
});

skipIfMissing('a CNAME loop is MALFORMED', async (t) => {
  const err = await t.throwsAsync(queryServer(knot!.server, 'loop1.client.test', 'A'), { instanceOf: DnsError });
  t.is(err.code, 'MALFORMED');
});

skipIfMissing('a truncated UDP reply is retried over TCP; tcpOnly goes straight to TCP', async (t) => {
  const used: string[] = [];
  const spy: DnsTransport = (server, request, options) => (used.push(options.tcp ? 'tcp' : 'udp'), networkTransport(server, request, options));
  const big = await queryServer(knot!.server, 'big.client.test', 'TXT', { transport: spy });
  t.is(big.records.length, 12);
  t.deepEqual(used, ['udp', 'tcp']);
  used.length = 0;
  const viaTcp = await queryServer(knot!.server, 'www.client.test', 'A', { tcpOnly: true, transport: spy });
  t.deepEqual(viaTcp.records, ['192.0.2.1']);
  t.deepEqual(used, ['tcp']);
});

skipIfMissing('a zone the server does not serve is REFUSED', async (t) => {
  const err = await t.throwsAsync(queryServer(knot!.server, 'example.org', 'A'), { instanceOf: DnsError });
  t.is(err.code, 'REFUSED');
  t.is(err.context.server, knot!.address);
});

(missing ? test.skip : test.serial)('a server that does not answer times out; an abort signal aborts', async (t) => {
  await knot!.freeze();
  try {
    const started = Date.now();
    const err = await t.throwsAsync(queryServer(knot!.server, 'www.client.test', 'A', { timeoutMs: 200 }), { instanceOf: DnsError });
    t.is(err.code, 'TIMEOUT');
    t.true(Date.now() - started < 2000);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const aborted = await t.throwsAsync(queryServer(knot!.server, 'www.client.test', 'A', { timeoutMs: 5000, signal: ac.signal }), { instanceOf: DnsError });
    t.is(aborted.code, 'ABORTED');
  } finally {
    await knot!.thaw();
  }
});
