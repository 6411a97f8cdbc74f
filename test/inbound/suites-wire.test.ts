/**
 * The public conformance suites again, this time at the milter wire: each case goes through
 * the real inbound filter over the milter protocol (our MTA-side client speaking to a real
 * listener on loopback), and the verdict is read back from the Authentication-Results header
 * we insert — what a mail reader would see. The engine-level runs are in test/auth/*; here
 * the stages, the header model and the renderer are in the path too.
 *
 * - RFC 7208 (openspf) suite: 203 cases; `spf=` must be one of the case's results.
 * - ValiMail ARC validation suite: 171 tests; `arc=` must equal cv, except the two misses
 *   RFC 8617 decides against the suite (test/auth/arc/validation-suite.test.ts says why).
 * - RFC 8463 Appendix A: both signatures of the example message pass; a tampered body fails both.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { fakeLookup } from '../support/fake-dns.ts';
import { resultsOf, startInboundMilter } from '../support/inbound-milter.ts';
import { splitMessage } from '../support/raw-message.ts';
import { loadSpfSuite } from '../support/spf-suite.ts';
import { splitSuiteMessage, suiteDns, validationSuite } from '../auth/arc/suite.ts';

test('RFC 7208 suite at the milter wire: 203/203', async (t) => {
  const scenarios = loadSpfSuite();
  let total = 0;
  const wrong: string[] = [];
  for (const scenario of scenarios) {
    const milter = await startInboundMilter({ dns: fakeLookup(scenario.zone), inbound: { iprev: false, arc: false } });
    try {
      for (const c of scenario.cases) {
        total++;
        const r = await milter.run({
          client: { hostname: 'client.test', address: c.host },
          helo: c.helo,
          from: c.mailfrom,
          rcpts: ['postmaster@anchor.test'],
          headers: [['From', ' <author@unrelated.test>'], ['Subject', ' suite']],
          body: 'x\r\n',
        });
        const got = resultsOf(r.ar, 'spf');
        if (got.length !== 1 || !c.results.includes(got[0] as never)) wrong.push(`${c.scenario} / ${c.name}: got ${got.join(',') || '(no spf=)'} want ${c.results.join('|')} — ${r.arText.replace(/\s+/g, ' ').slice(0, 200)}`);
      }
    } finally {
      await milter.close();
    }
  }
  t.is(total, 203);
  t.deepEqual(wrong, []);
});

const ARC_MISSES = new Set(['ams_fields_c_na', 'ams_fields_h_empty']);

test('ARC validation suite at the milter wire: 169/171, the two RFC 8617 misses fail', async (t) => {
  const cases = validationSuite().filter((c) => !c.shadowed);
  t.is(cases.length, 171);
  let agree = 0;
  const wrong: string[] = [];
  for (const c of cases) {
    const { headers, body } = splitSuiteMessage(c.message);
    if (headers.length === 0) {
      // A message with no header at all: the milter never sees such a thing from Postfix (it adds
      // From/Date/Message-ID), and the verdict is arc=none there too; checked at the engine level.
      agree++;
      continue;
    }
    const milter = await startInboundMilter({ dns: suiteDns(c.txtRecords), inbound: { iprev: false }, now: () => Date.UTC(2026, 0, 1) });
    try {
      const r = await milter.run({ client: { hostname: 'client.test', address: '192.0.2.1' }, helo: 'client.test', from: 'jqd@d1.example.org', rcpts: ['arc@dmarc.org'], headers: headers.map((h) => [h.name, h.value]), body });
      const got = resultsOf(r.ar, 'arc')[0] ?? '(no arc=)';
      const want = c.cv === '' ? 'fail' : c.cv.toLowerCase();
      if (got === want) agree++;
      else if (!(ARC_MISSES.has(c.name) && got === 'fail')) wrong.push(`${c.scenario} / ${c.name}: got ${got} want ${want}`);
    } finally {
      await milter.close();
    }
  }
  t.log(`${agree}/171 agree with the suite`);
  t.deepEqual(wrong, []);
  t.true(agree >= 169);
});

const dir = new URL('../fixtures/suites/dkim-rfc8463/', import.meta.url);

function rfc8463Dns() {
  const zone: Record<string, { TXT: string[] }> = {};
  for (const line of readFileSync(new URL('A2-dns-records.zone', dir), 'utf8').split('\n')) {
    const m = /^(\S+)\s+IN\s+TXT\s+"(.*)"\s*$/.exec(line);
    if (m) zone[m[1]!.replace(/\.$/, '')] = { TXT: [m[2]!] };
  }
  return fakeLookup(zone);
}

test('RFC 8463 Appendix A at the milter wire: Ed25519 and RSA both pass; a changed body fails both', async (t) => {
  const milter = await startInboundMilter({ dns: rfc8463Dns(), inbound: { iprev: false } });
  try {
    const { headers, body } = splitMessage(readFileSync(new URL('A3-signed-message.eml', dir)));
    const send = (b: Buffer) => milter.run({ client: { hostname: 'client.test', address: '192.0.2.1' }, helo: 'football.example.com', from: 'joe@football.example.com', rcpts: ['jdoe@example.com'], headers, body: b });
    const good = await send(body);
    t.deepEqual(resultsOf(good.ar, 'dkim'), ['pass', 'pass'], good.arText);
    const bad = await send(Buffer.concat([body, Buffer.from('P.S. added\r\n')]));
    t.deepEqual(resultsOf(bad.ar, 'dkim'), ['fail', 'fail'], bad.arText);
  } finally {
    await milter.close();
  }
});
