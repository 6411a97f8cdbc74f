/**
 * Fuzzing the mail parsers (address list, Authentication-Results): no exception escapes,
 * every result is a value (a mailbox list or a typed problem; a model or a reason), and what
 * the A-R parser accepts renders to a header it accepts again with the same structure.
 */
import test from 'ava';
import { parseAddressList } from '../../src/mail/address.ts';
import { claimedAuthservId, parseAuthenticationResults, renderAuthenticationResults } from '../../src/mail/auth-results.ts';
import { mutator } from '../support/mutate.ts';
import { prng } from '../support/prng.ts';

const ROUNDS = 4000;
const TIME_LIMIT_MS = 8000;

const addressSeeds = [
  ' "alice@example.org via Group" <group@lists.example.net>',
  ' <<<><ceo@bank.example>>>',
  ' Alice (the (nested) one) <alice@example.org>, Bob <bob@example.net>',
  ' undisclosed-recipients:;',
  ' Team: a@example.org, b@example.org;',
  ' <@relay.example:alice@example.org>',
  ' =?UTF-8?B?YWxpY2VAZXhhbXBsZS5vcmc=?= <bob@example.net>',
  ' "quoted\\"local"@example.org',
  ' user@[192.0.2.1]',
  Buffer.from(' Jörg <jörg@bücher.example>', 'utf8').toString('latin1'),
  ' a@example.org,\r\n\t b@example.net',
];

test('address parser: no exception, a mailbox list or a typed problem, domains always normalized', (t) => {
  const next = mutator(addressSeeds, prng(5322));
  const started = Date.now();
  let ok = 0;
  let rounds = 0;
  for (; rounds < ROUNDS && Date.now() - started < TIME_LIMIT_MS; rounds++) {
    const input = next();
    let r;
    try {
      r = parseAddressList(input);
    } catch (err) {
      return t.fail(`threw on ${JSON.stringify(input)}: ${String(err)}`);
    }
    if (r.ok) {
      ok++;
      for (const m of r.mailboxes) {
        if (!/^[a-z0-9_.-]+$/.test(m.domain) || m.domain.includes('..')) return t.fail(`unnormalized domain ${m.domain} from ${JSON.stringify(input)}`);
      }
    } else if (!['syntax', 'no-domain', 'domain-literal', 'invalid-domain', 'too-many'].includes(r.problem) || !r.reason) {
      return t.fail(`untyped problem for ${JSON.stringify(input)}`);
    }
  }
  t.log(`${rounds} inputs, ${ok} parsed`);
  t.true(rounds >= 500);
  t.true(ok > 0 && ok < rounds);
});

const arSeeds = [
  ' mx.example.org; spf=pass smtp.mailfrom=example.net',
  ' example.org 1; none',
  ' (c) "mx.example.org" (d); dkim/1=pass (2048-bit key) reason="ok" header.d=example.com header.b="ab/cd+"; dmarc=fail header.from=example.com policy.dmarc=reject',
  ' mx.rcpt.test.; arc=pass header.oldest-pass=1 smtp.remote-ip=192.0.2.1',
  Buffer.from(' mx.rcpt.test\u00a0; iprev=pass policy.iprev=2001:db8::1 (mail.example.org)', 'utf8').toString('latin1'),
];

test('A-R parser: no exception; what parses renders and parses again to the same structure', (t) => {
  const next = mutator(arSeeds, prng(8601));
  const started = Date.now();
  let ok = 0;
  let rounds = 0;
  for (; rounds < ROUNDS && Date.now() - started < TIME_LIMIT_MS; rounds++) {
    const input = next();
    try {
      claimedAuthservId(input);
      const r = parseAuthenticationResults(input);
      if (!r.ok) continue;
      ok++;
      let text: string;
      try {
        text = renderAuthenticationResults(r.header);
      } catch (err) {
        // Only an id or keyword we refuse to write may stop the renderer — never a crash.
        if (err instanceof RangeError) continue;
        throw err;
      }
      const back = parseAuthenticationResults(` ${text}`);
      if (!back.ok) return t.fail(`rendered ${JSON.stringify(text)} from ${JSON.stringify(input)} does not parse: ${back.reason}`);
      const shape = (h: typeof r.header) => h.results.map((x) => [x.method, x.methodVersion, x.result, x.properties.map((p) => `${p.ptype}.${p.property}`)]);
      t.deepEqual(shape(back.header), shape(r.header), JSON.stringify(input));
    } catch (err) {
      return t.fail(`threw on ${JSON.stringify(input)}: ${String(err)}`);
    }
  }
  t.log(`${rounds} inputs, ${ok} parsed`);
  t.true(rounds >= 500);
  t.true(ok > 0);
});
