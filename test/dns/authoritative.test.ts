/**
 * Per-server observations from two real Knot servers serving the same zone, the second
 * lagging: the building block of "published on every authoritative server".
 */
import test from 'ava';
import { findAuthoritativeServers, observeServers, observeZone } from '../../src/dns/authoritative.ts';
import { createResolver } from '../../src/dns/resolver.ts';
import { sendUpdate } from '../../src/dns/update.ts';
import { parseTsigKey } from '../../src/dns/tsig.ts';
import type { DnsAnswer, DnsLookup, RRType } from '../../src/dns/types.ts';
import { knotMissing, startKnot, type KnotServer } from '../support/knot.ts';

const missing = knotMissing();
let primary: KnotServer | undefined;
let lagging: KnotServer | undefined;

const zone = { name: 'pub.test', records: 'old._domainkey 300 IN TXT "v=DKIM1; p=old"\nalias._domainkey 300 IN CNAME old._domainkey.pub.test.' };

test.before(async () => {
  if (missing) return;
  [primary, lagging] = await Promise.all([startKnot({ zones: [zone] }), startKnot({ zones: [zone] })]);
});
test.after.always(async () => {
  await Promise.all([primary?.stop(), lagging?.stop()]);
});

const it = missing ? test.skip : test;
if (missing) test.skip(`authoritative tests: ${missing}`, () => {});

it('a record published on one server only: observed on one, NXDOMAIN on the other', async (t) => {
  const p = primary!;
  const l = lagging!;
  await sendUpdate(p.server, { zone: 'pub.test', updates: [{ op: 'add', name: 'new._domainkey.pub.test', type: 'TXT', ttl: 600, data: 'v=DKIM1; p=new' }] }, { key: parseTsigKey(p.tsig.spec) });
  const obs = await observeServers([p.server, l.server], 'new._domainkey.pub.test', 'TXT');
  t.is(obs.length, 2);
  const [first, second] = obs;
  t.true(first!.ok && first!.answer.records.length === 1 && first!.answer.authoritative);
  t.is(first!.server, p.address);
  if (first!.ok) {
    t.deepEqual(first!.answer.records, [['v=DKIM1; p=new']]);
    t.is(first!.answer.ttl, 600);
  }
  t.true(second!.ok);
  if (second!.ok) {
    t.is(second!.answer.rcode, 'NXDOMAIN');
    t.true(second!.answer.authoritative);
  }
  // The lagging server catches up (out-of-band change): now both serve it.
  await l.setRecords('pub.test', [{ name: 'new._domainkey', type: 'TXT', ttl: 600, data: '"v=DKIM1; p=new"' }]);
  const again = await observeServers([p.server, l.server], 'new._domainkey.pub.test', 'TXT');
  t.true(again.every((o) => o.ok && o.answer.records.length === 1));
});

(missing ? test.skip : test.serial)('a server that does not answer is an observation with an error, not a throw', async (t) => {
  const l = lagging!;
  await l.freeze();
  try {
    const obs = await observeServers([primary!.server, l.server], 'old._domainkey.pub.test', 'TXT', { timeoutMs: 200, attempts: 2 });
    t.true(obs[0]!.ok);
    t.false(obs[1]!.ok);
    if (!obs[1]!.ok) {
      t.is(obs[1]!.error.code, 'TIMEOUT');
      t.is(obs[1]!.server, l.address);
    }
  } finally {
    await l.thaw();
  }
});

it('a CNAME is reported with its chain and target', async (t) => {
  const [o] = await observeServers([primary!.server], 'alias._domainkey.pub.test', 'TXT');
  t.true(o!.ok);
  if (o!.ok) {
    t.deepEqual(o!.answer.cnameChain, ['alias._domainkey.pub.test']);
    t.is(o!.answer.canonicalName, 'old._domainkey.pub.test');
    t.deepEqual(o!.answer.records, [['v=DKIM1; p=old']]);
  }
});

it('observeZone with configured servers, and NS discovery through a DnsLookup', async (t) => {
  const p = primary!;
  const l = lagging!;
  const configured = await observeZone('pub.test', 'old._domainkey.pub.test', 'TXT', { servers: [p.server, l.server] });
  t.is(configured.observations.length, 2);
  t.true(configured.observations.every((o) => o.ok && o.answer.records.length === 1));

  // A lookup whose NS for pub.test names two hosts, resolving to our two Knot servers' address;
  // ports come from the option (both servers must share one port in real life; here we map by name).
  const fakeLookup: DnsLookup = {
    async query<T extends RRType>(name: string, type: T): Promise<DnsAnswer<T>> {
      const base = { name, type, rcode: 'NOERROR' as const, ttl: 60, authenticated: false, authoritative: false, cnameChain: [] };
      if (type === 'NS') return { ...base, records: ['ns-a.pub.test', 'ns-b.pub.test'] } as unknown as DnsAnswer<T>;
      if (type === 'A') return { ...base, records: name === 'ns-a.pub.test' ? ['127.0.0.1'] : [] } as unknown as DnsAnswer<T>;
      return { ...base, records: [] } as unknown as DnsAnswer<T>;
    },
  };
  const found = await findAuthoritativeServers('pub.test', fakeLookup, { port: p.port });
  t.deepEqual(found.servers, [{ address: { host: '127.0.0.1', port: p.port }, nameserver: 'ns-a.pub.test' }]);
  t.is(found.problems.length, 1);
  t.is(found.problems[0]!.nameserver, 'ns-b.pub.test');
  const viaNs = await observeZone('pub.test', 'old._domainkey.pub.test', 'TXT', { lookup: fakeLookup });
  // Port 53 on 127.0.0.1 has no server for this zone: discovery alone gives an error observation.
  t.is(viaNs.observations.length, 1);
  t.is(viaNs.observations[0]!.nameserver, 'ns-a.pub.test');
  t.is(viaNs.problems.length, 1);

  // The real resolver works as the lookup too (Knot answers NS/A for its own zone).
  const resolver = createResolver({ servers: [p.server] });
  const real = await findAuthoritativeServers('pub.test', resolver, { port: p.port });
  t.deepEqual(real.servers.map((s) => s.nameserver), ['ns1.pub.test']);
  t.deepEqual(real.servers.map((s) => s.address), [{ host: '127.0.0.1', port: p.port }]);
});
