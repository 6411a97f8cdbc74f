/** The mailauth 7 resolver contract: shapes and error codes (fake lookup), and mailauth itself on our resolver against Knot. */
import test from 'ava';
import { authenticate } from 'mailauth';
import { mailauthResolver, MailauthDnsError } from './mailauth-resolver.ts';
import { createResolver } from '../../src/dns/resolver.ts';
import { DnsError, type DnsAnswer, type DnsErrorCode, type DnsLookup, type RRType } from '../../src/dns/types.ts';
import { knotMissing, startKnot, type KnotServer } from './knot.ts';

function lookupOf(fn: (name: string, type: RRType) => Partial<DnsAnswer> | DnsError): DnsLookup {
  return {
    async query<T extends RRType>(name: string, type: T): Promise<DnsAnswer<T>> {
      const r = fn(name, type);
      if (r instanceof DnsError) throw r;
      return { name, type, rcode: 'NOERROR', records: [], ttl: 60, authenticated: false, authoritative: false, cnameChain: [], ...r } as DnsAnswer<T>;
    },
  };
}

test('shapes like dns.promises.resolve: TXT string[][], MX {exchange, priority}, A/PTR/CNAME string[]', async (t) => {
  const resolve = mailauthResolver(
    lookupOf((name, type) => {
      if (type === 'TXT') return { records: [['v=spf1 ', '-all'], ['other']] };
      if (type === 'MX') return { records: [{ exchange: 'mx.example.test', priority: 10 }] };
      if (type === 'PTR') return { records: ['host.example.test'] };
      return { records: [name === 'a.test' ? '192.0.2.1' : '2001:db8::1'] };
    }),
  );
  t.deepEqual(await resolve('x.test', 'TXT'), [['v=spf1 ', '-all'], ['other']]);
  t.deepEqual(await resolve('x.test', 'MX'), [{ exchange: 'mx.example.test', priority: 10 }]);
  t.deepEqual(await resolve('1.2.0.192.in-addr.arpa', 'PTR'), ['host.example.test']);
  t.deepEqual(await resolve('a.test'), ['192.0.2.1']); // default rrtype A
  t.deepEqual(await resolve('b.test', 'aaaa'), ['2001:db8::1']);
});

test('NXDOMAIN → ENOTFOUND, NODATA → ENODATA, failures → node:dns codes mailauth treats as temperror', async (t) => {
  const cases: [Partial<DnsAnswer> | DnsError, string][] = [
    [{ rcode: 'NXDOMAIN' }, 'ENOTFOUND'],
    [{ rcode: 'NOERROR' }, 'ENODATA'],
    ...(
      [
        ['TIMEOUT', 'ETIMEOUT'],
        ['SERVFAIL', 'ESERVFAIL'],
        ['REFUSED', 'EREFUSED'],
        ['NETWORK', 'ECONNREFUSED'],
        ['MALFORMED', 'EBADRESP'],
      ] as [DnsErrorCode, string][]
    ).map(([c, n]): [DnsError, string] => [new DnsError(c, c, {}), n]),
  ];
  for (const [reply, code] of cases) {
    const err = await t.throwsAsync(mailauthResolver(lookupOf(() => reply))('x.test', 'TXT'), { instanceOf: MailauthDnsError });
    t.is(err.code as string, code);
    t.is(err.hostname, 'x.test');
  }
  t.is((await t.throwsAsync(mailauthResolver(lookupOf(() => ({})))('x.test', 'SRV'), { instanceOf: MailauthDnsError })).code, 'ENOTIMP');
});

const missing = knotMissing();
let knot: KnotServer | undefined;
test.before(async () => {
  if (missing) return;
  knot = await startKnot({
    zones: [
      {
        name: 'sender.test',
        records: ['@ 300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"', '_dmarc 300 IN TXT "v=DMARC1; p=reject"', 'mail 300 IN A 192.0.2.10'].join('\n'),
      },
    ],
  });
});
test.after.always(async () => {
  await knot?.stop();
});

(missing ? test.skip : test)('mailauth 7 runs SPF and DMARC on our resolver against Knot', async (t) => {
  const resolver = createResolver({ servers: [knot!.server] });
  const message = 'From: a@sender.test\r\nTo: b@example.org\r\nSubject: hi\r\nMessage-ID: <1@sender.test>\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n\r\nbody\r\n';
  const opts = { helo: 'mail.sender.test', sender: 'a@sender.test', mta: 'mx.example.org', resolver: mailauthResolver(resolver) as never, disableBimi: true };
  const pass = await authenticate(message, { ...opts, ip: '192.0.2.10' });
  t.is(pass.spf && pass.spf.status.result, 'pass');
  const fail = await authenticate(message, { ...opts, ip: '198.51.100.1' });
  t.is(fail.spf && fail.spf.status.result, 'fail');
  t.is(fail.dmarc && fail.dmarc.status.result, 'fail');
  t.is(fail.dmarc && fail.dmarc.policy, 'reject');
  t.true(resolver.stats().cacheHits > 0); // the second message reused cached answers
});
