/**
 * Forged Authentication-Results removal (RFC 8601 §5), through the filter's `forgedRemovals`
 * and the A-R model's `claimedAuthservId`: which headers claim our authserv-id. Issue 16
 * found two that were kept: `mx.rcpt.test.` (trailing dot) and the id followed by U+00A0 —
 * both read as ours by a person or a UTF-8 parser downstream, so both must go. The cases are
 * the attack run's; the parser is the engine's (src/mail/auth-results.ts).
 */
import test from 'ava';
import { forgedRemovals } from '../../src/inbound/forged-results.ts';
import { claimedAuthservId as authservIdOf } from '../../src/mail/auth-results.ts';
import { prng } from '../support/prng.ts';

/** As the milter hands header values over: the raw bytes as latin1, here from UTF-8 text. */
const wire = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');
const OURS = 'mx.rcpt.test';

const claimsOurs: Array<[string, string]> = [
  ['plain', ' mx.rcpt.test; dmarc=pass'],
  ['upper case behind comments', ' (x) MX.RCPT.TEST (y (z)); spf=pass'],
  ['a trailing dot', ' mx.rcpt.test.; dmarc=pass header.from=paypal.test'],
  ['two trailing dots', ' mx.rcpt.test..; dmarc=pass'],
  ['U+00A0 after the id (UTF-8 on the wire)', wire(' mx.rcpt.test\u00a0; dmarc=pass')],
  ['U+00A0 after the id (one latin1 byte)', ' mx.rcpt.test\u00a0; dmarc=pass'],
  ['U+200B after the id', wire(' mx.rcpt.test\u200b; dmarc=pass')],
  ['U+FEFF before the id', wire(' \ufeffmx.rcpt.test; dmarc=pass')],
  ['U+3000 ideographic space after the id', wire(' mx.rcpt.test\u3000; dmarc=pass')],
  ['fullwidth letters (NFKC)', wire(' ｍｘ.rcpt.test; dmarc=pass')],
  ['quoted', ' "mx.rcpt.test"; dmarc=pass'],
  ['a version after the id', ' mx.rcpt.test 1; dmarc=pass'],
  ['folded', ' mx.rcpt.test;\n\tdmarc=pass'],
];
for (const [name, value] of claimsOurs) {
  test(`claims our id: ${name}`, (t) => {
    t.is(authservIdOf(value), OURS);
    t.is(forgedRemovals([value], OURS).length, 1);
  });
}

const notOurs: Array<[string, string]> = [
  ['another host', ' mx.other.test; dmarc=pass'],
  ['a longer name', ' mx.rcpt.testx; dmarc=pass'],
  ['a subdomain', ' a.mx.rcpt.test; dmarc=pass'],
  ['a parent', ' rcpt.test; dmarc=pass'],
  ['no id', ' ; dmarc=pass'],
];
for (const [name, value] of notOurs) {
  test(`not ours, kept: ${name}`, (t) => {
    t.not(authservIdOf(value), OURS);
    t.deepEqual(forgedRemovals([value], OURS), []);
  });
}

test('our own id configured with a trailing dot or in upper case still matches', (t) => {
  t.is(forgedRemovals([' mx.rcpt.test; x'], 'MX.Rcpt.Test.').length, 1);
});

test('deletions go last first, with 1-based occurrences among all A-R headers', (t) => {
  const values = [' other.test; x', ' mx.rcpt.test.; y', wire(' mx.rcpt.test\u00a0; z'), ' mx.rcpt.test; w'];
  t.deepEqual(
    forgedRemovals(values, OURS).map((m) => (m.kind === 'change-header' ? m.occurrence : -1)),
    [4, 3, 2],
  );
});

test('seeded fuzz: any value gives a string or undefined, never a throw; ours with any invisible tail is ours', (t) => {
  const rand = prng(0x41525231);
  const tails = ['\u00a0', '\u200b', '\u2009', '\ufeff', '\u202e', '.', '..', ' ', '\t'];
  for (let i = 0; i < 3000; i++) {
    const len = Math.floor(rand() * 60);
    const junk = Buffer.from(Array.from({ length: len }, () => Math.floor(rand() * 256))).toString('latin1');
    t.notThrows(() => authservIdOf(junk));
    const tail = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => tails[Math.floor(rand() * tails.length)]!).join('');
    const forged = wire(` ${rand() < 0.5 ? 'MX.rcpt.TEST' : 'mx.rcpt.test'}${tail}; dmarc=pass`);
    if (authservIdOf(forged) !== OURS) t.fail(`not recognised: ${JSON.stringify(forged)}`);
  }
  t.pass();
});
