import test from 'ava';
import { domainToASCII } from 'node:url';
import { isSubdomainOf, normalizeDomain } from '../../src/mail/domain.ts';
import { prng } from '../support/prng.ts';

/** The rule normalizeDomain implements, written the slow way (no fast path). */
function reference(name: string): string | undefined {
  let n = name.trim().replace(/\.$/, '');
  if (n === '' || n.includes('..')) return undefined;
  if (/[^\x21-\x7e]/.test(n)) {
    const ascii = domainToASCII(n);
    if (!ascii) return undefined;
    n = ascii;
  }
  n = n.toLowerCase();
  if (n.length > 253) return undefined;
  return n.split('.').every((l) => /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/.test(l)) ? n : undefined;
}

test('table: lower case, trailing dot, IDN, bad labels, length', (t) => {
  t.is(normalizeDomain('example.org'), 'example.org');
  t.is(normalizeDomain('Example.ORG.'), 'example.org');
  t.is(normalizeDomain(' example.org '), 'example.org');
  t.is(normalizeDomain('rsa2026._domainkey.example.org'), 'rsa2026._domainkey.example.org');
  t.is(normalizeDomain('bücher.example'), 'xn--bcher-kva.example');
  for (const bad of ['', '.', 'a..b', '-a.example', 'a-.example', 'a b.example', `${'a'.repeat(64)}.example`, 'exa!mple.org']) t.is(normalizeDomain(bad), undefined, bad);
  const long = `${'a'.repeat(63)}.`.repeat(4).slice(0, 253);
  t.is(normalizeDomain(long), long.replace(/\.$/, ''));
  t.is(normalizeDomain(`${'a'.repeat(63)}.`.repeat(4) + 'b'), undefined, 'over 253 octets');
  t.true(isSubdomainOf('mail.example.org', 'example.org'));
  t.false(isSubdomainOf('badexample.org', 'example.org'));
});

test('the fast path for names already normalized gives what the slow rule gives (seeded random names)', (t) => {
  const rand = prng(20261201);
  const alphabet = 'abcxyz0189-_.ABZ \t!ü';
  for (let i = 0; i < 20_000; i++) {
    const len = 1 + Math.floor(rand() * (rand() < 0.05 ? 300 : 30));
    let s = '';
    for (let k = 0; k < len; k++) s += alphabet[Math.floor(rand() * alphabet.length)];
    t.is(normalizeDomain(s), reference(s), JSON.stringify(s));
  }
});
