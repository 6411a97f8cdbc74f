/**
 * ARC key lookup against a real Knot DNS on loopback, through our caching resolver and the
 * per-message budget: keys split over several TXT strings, a missing key (fail), a name no
 * server answers for (REFUSED → temperror), and Knot frozen (timeout → temperror, and the
 * budget's deadline → temperror) — a transient DNS failure is never a fail.
 */
import test from 'ava';
import { budgetedLookup } from '../../../src/auth/dns-budget.ts';
import { createResolver } from '../../../src/dns/resolver.ts';
import type { HeaderField } from '../../../src/mail/header.ts';
import { knotMissing, startKnot, type KnotServer } from '../../support/knot.ts';
import { addHop, baseBody, baseHeaders, keyDns, rsaKey, verifyChain, type TestKey } from './chain-builder.ts';

const missing = knotMissing();
// Serial: one test freezes Knot.
const it = missing ? test.skip : test.serial;
if (missing) test.skip(`ARC key lookup against Knot: ${missing}`, () => {});

const forwarder = rsaKey('forwarder.test', 'arc1', 2048);
const list = rsaKey('lists.forwarder.test', 'seal', 2048, 1);
const elsewhere = rsaKey('not-served.test', 'x', 2048, 2);
let knot: KnotServer | undefined;
let chain: HeaderField[] = [];

/** `name 300 IN TXT "…" "…"`: a 2048-bit key does not fit one 255-octet string. */
function zoneRecord(key: TestKey, zone: string): string {
  const owner = key.name.slice(0, -(zone.length + 1));
  const strings = key.record.match(/.{1,200}/g)!.map((s) => `"${s}"`);
  return `${owner} 300 IN TXT ${strings.join(' ')}`;
}

test.before(async () => {
  if (missing) return;
  knot = await startKnot({ zones: [{ name: 'forwarder.test', records: [zoneRecord(forwarder, 'forwarder.test'), zoneRecord(list, 'forwarder.test')].join('\n') }] });
  // Sealed with the keys known up front; the verification below reads them from Knot.
  const dns = keyDns([forwarder, list, elsewhere]);
  chain = await addHop(await addHop(baseHeaders(), baseBody(), forwarder, dns), baseBody(), list, dns);
});
test.after.always(async () => {
  knot?.thaw();
  await knot?.stop();
});

const resolver = () => createResolver({ servers: [knot!.server], timeoutMs: 300, attempts: 1 });

it('keys from Knot (several TXT strings each): pass, one query per key', async (t) => {
  const r = resolver();
  t.like(await verifyChain(chain, baseBody(), r), { result: 'pass', instances: 2, oldestPass: 1, sealers: ['forwarder.test', 'lists.forwarder.test'] });
  t.is(r.stats().queriesSent, 2);
});

it('a key that is not published (NXDOMAIN from Knot) is fail', async (t) => {
  const other = rsaKey('forwarder.test', 'gone', 2048);
  const sealed = await addHop(baseHeaders(), baseBody(), other, keyDns([other]));
  const r = await verifyChain(sealed, baseBody(), resolver());
  t.is(r.result, 'fail');
  t.regex(r.reason, /no key at gone\._domainkey\.forwarder\.test \(NXDOMAIN\)/);
});

it('a key under a zone no server answers for (REFUSED) is temperror', async (t) => {
  const sealed = await addHop(baseHeaders(), baseBody(), elsewhere, keyDns([elsewhere]));
  const r = await verifyChain(sealed, baseBody(), resolver());
  t.is(r.result, 'temperror', r.reason);
  t.regex(r.reason, /key lookup x\._domainkey\.not-served\.test: REFUSED/);
});

it('Knot frozen: the lookup times out → temperror; the per-message budget deadline → temperror', async (t) => {
  knot!.freeze();
  try {
    const timedOut = await verifyChain(chain, baseBody(), resolver());
    t.is(timedOut.result, 'temperror', timedOut.reason);
    t.regex(timedOut.reason, /TIMEOUT/);
    const slow = createResolver({ servers: [knot!.server], timeoutMs: 5000, attempts: 1 });
    const budget = budgetedLookup(slow, { timeMs: 200, maxQueries: 20 });
    const started = Date.now();
    const spent = await verifyChain(chain, baseBody(), budget);
    budget.dispose();
    t.is(spent.result, 'temperror', spent.reason);
    t.regex(spent.reason, /BUDGET/);
    t.true(Date.now() - started < 3000);
  } finally {
    knot!.thaw();
  }
  t.like(await verifyChain(chain, baseBody(), resolver()), { result: 'pass' });
});
