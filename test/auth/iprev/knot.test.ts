/**
 * iprev against a real Knot on loopback, through our resolver: IPv6 PTRs under ip6.arpa
 * (asked over [::1] too), IPv4 with an RFC 2317 classless-delegation CNAME, and Knot frozen.
 */
import test from 'ava';
import { clientAddress, reverseName } from '../../../src/auth/iprev/address.ts';
import { checkIprev } from '../../../src/auth/iprev/check.ts';
import { createResolver } from '../../../src/dns/resolver.ts';
import { knotMissing, startKnot, type KnotServer } from '../../support/knot.ts';

const missing = knotMissing();
const it = missing ? test.serial.skip : test.serial;
if (missing) test.skip(`iprev against Knot: ${missing}`, () => {});

let knot: KnotServer | undefined;
/** The owner name of an address's PTR, relative to its reverse zone. */
const v6owner = (ip: string) => reverseName(clientAddress(ip)!).replace(/\.8\.b\.d\.0\.1\.0\.0\.2\.ip6\.arpa$/, '');

test.before(async () => {
  if (missing) return;
  knot = await startKnot({
    ipv6: true,
    zones: [
      {
        name: 'hoster.test',
        records: [
          'mx1 A 192.0.2.10',
          'mx1 AAAA 2001:db8::10',
          'mx2 AAAA 2001:db8:0:0:0:0:0:20', // written long; the PTR answer compares equal
          'v4only A 192.0.2.30',
          'elsewhere AAAA 2001:db8::ffff',
          'classless A 192.0.2.66',
        ].join('\n'),
      },
      {
        name: '8.b.d.0.1.0.0.2.ip6.arpa',
        records: [
          `${v6owner('2001:db8::10')} PTR mx1.hoster.test.`,
          `${v6owner('2001:db8::20')} PTR mx2.hoster.test.`,
          `${v6owner('2001:db8::30')} PTR v4only.hoster.test.`,
          `${v6owner('2001:db8::40')} PTR elsewhere.hoster.test.`,
          `${v6owner('2001:db8::50')} PTR nowhere.hoster.test.`,
        ].join('\n'),
      },
      {
        name: '2.0.192.in-addr.arpa',
        records: ['10 PTR mx1.hoster.test.', '66 CNAME 66.64-127.2.0.192.in-addr.arpa.', '66.64-127 PTR classless.hoster.test.'].join('\n'),
      },
    ],
  });
});
test.after.always(async () => {
  await knot?.stop();
});

const resolver = (v6 = false) => createResolver({ servers: [v6 ? knot!.serverV6! : knot!.server], timeoutMs: 300, attempts: 1 });

it('IPv6: forward-confirmed pass, also asked over [::1]', async (t) => {
  for (const r of [resolver(), resolver(true)]) {
    const c = await checkIprev('2001:db8::10', r);
    t.like(c, { result: 'pass', names: ['mx1.hoster.test'] }, c.reason);
    t.like(await checkIprev('2001:DB8:0::20', r), { result: 'pass', names: ['mx2.hoster.test'] });
  }
});

it('IPv6 without any PTR: permerror (RFC 8601 §2.7.3)', async (t) => {
  const c = await checkIprev('2001:db8::99', resolver());
  t.is(c.result, 'permerror', c.reason);
  t.regex(c.reason, /NXDOMAIN/);
});

it('IPv6 PTR names that do not resolve back: fail (only A, another AAAA, NXDOMAIN)', async (t) => {
  for (const ip of ['2001:db8::30', '2001:db8::40', '2001:db8::50']) {
    const c = await checkIprev(ip, resolver());
    t.is(c.result, 'fail', `${ip}: ${c.reason}`);
    t.is(c.names.length, 1);
  }
});

it('IPv4: pass, and through an RFC 2317 CNAME', async (t) => {
  t.like(await checkIprev('192.0.2.10', resolver()), { result: 'pass', names: ['mx1.hoster.test'] });
  t.like(await checkIprev('192.0.2.66', resolver()), { result: 'pass', names: ['classless.hoster.test'] });
  t.like(await checkIprev('192.0.2.67', resolver()), { result: 'permerror' });
});

it('Knot frozen: temperror, never fail or permerror', async (t) => {
  const r = resolver();
  knot!.freeze();
  try {
    const c = await checkIprev('2001:db8::10', r);
    t.is(c.result, 'temperror', c.reason);
    t.regex(c.reason, /TIMEOUT/);
  } finally {
    knot!.thaw();
  }
});
