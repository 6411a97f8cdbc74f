/**
 * Relaxed header canonicalisation (RFC 6376 §3.4.2) removes WSP — SP and HTAB — only. Header
 * values are latin1 strings (one char per octet), so String#trim's wider idea of whitespace
 * (0xA0, 0x0B, 0x0C) must not apply: 0xA0 ends the UTF-8 encoding of "à", "Р", "Š".
 */
import test from 'ava';
import { canonicalHeader } from '../../../src/auth/dkim/canonicalize.ts';

const latin1 = (s: string) => Buffer.from(s, 'utf8').toString('latin1');

test('an 8-bit value ending in octet 0xA0 keeps it', (t) => {
  const v = latin1(' Привет, Р');
  t.true(v.endsWith('\xa0'));
  t.is(canonicalHeader('Subject', v, 'relaxed'), `subject:${latin1('Привет, Р')}\r\n`);
  t.is(canonicalHeader('Subject', `\xa0x\xa0`, 'relaxed'), 'subject:\xa0x\xa0\r\n');
});

test('vertical tab and form feed are not WSP either; SP, HTAB and folding still go', (t) => {
  t.is(canonicalHeader('X', ' \x0ba\x0c ', 'relaxed'), 'x:\x0ba\x0c\r\n');
  t.is(canonicalHeader('X', ' \t a \t\n\t b \t', 'relaxed'), 'x:a b\r\n');
  t.is(canonicalHeader('X', '', 'relaxed'), 'x:\r\n');
});
