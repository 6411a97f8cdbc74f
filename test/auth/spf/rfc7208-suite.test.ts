/**
 * The RFC 7208 suite (openspf 2014.04, test/fixtures/suites/spf/) run whole through
 * `checkSpf`, each scenario's zonedata served by a fake DNS. Every case runs; none is
 * skipped. Where the suite lists several results, any of them passes; explanations are
 * compared exactly (DEFAULT = no exp= text was used), with the one exception below.
 */
import test from 'ava';
import { checkSpf } from '../../../src/auth/spf/check.ts';
import { fakeLookup } from '../../support/fake-dns.ts';
import { loadSpfSuite } from '../../support/spf-suite.ts';

const scenarios = loadSpfSuite();
const limits = { lookups: 10, voidLookups: 2 };
// A fixed clock: no suite case uses %{t}, but the check must not read the real one.
const now = () => Date.UTC(2026, 0, 1);

/**
 * v-macro-ip6 expects "%{ir}" of CAFE:BABE::1 with upper-case nibbles ("…E.B.A.B.E.F.A.C.ip6.arpa",
 * pyspf's spelling). RFC 7208 §7.4's own example expands %{ir} of an IPv6 address in lower
 * case ("1.0.b.c.0.0…8.b.d.0.1.0.0.2.ip6._spf.example.com"), so we do too; the text is
 * compared without regard to case for this case only.
 */
const CASE_INSENSITIVE_EXPLANATION = new Set(['v-macro-ip6']);

test('the suite has its 203 cases in 16 scenarios', (t) => {
  t.is(scenarios.length, 16);
  t.is(scenarios.reduce((n, s) => n + s.cases.length, 0), 203);
});

for (const scenario of scenarios) {
  for (const c of scenario.cases) {
    test(`RFC 7208 suite: ${scenario.description}: ${c.name} (§${c.spec})`, async (t) => {
      const dns = fakeLookup(scenario.zone);
      const check = await checkSpf({ ip: c.host, mailFrom: c.mailfrom, helo: c.helo, receiver: 'receiver.test' }, { dns, now, limits });
      t.log(`${check.result}: ${check.reason}${check.explanation === undefined ? '' : ` — exp "${check.explanation}"`}`);
      t.true(c.results.includes(check.result), `expected ${c.results.join(' or ')}, got ${check.result} (${check.reason})`);
      if (c.explanation === null) t.is(check.explanation, undefined, 'no exp= explanation expected (DEFAULT)');
      else if (c.explanation !== undefined) {
        if (CASE_INSENSITIVE_EXPLANATION.has(c.name)) t.is(check.explanation?.toLowerCase(), c.explanation.toLowerCase());
        else t.is(check.explanation, c.explanation);
      }
    });
  }
}
