/** The header half of the hash (RFC 6376 §3.7, §5.4.2): field selection, b= removal, canonical input. */
import test from 'ava';
import { canonicalHeader } from '../../../src/auth/dkim/canonicalize.ts';
import { headerHashInput, selectSignedFields, withoutSignatureValue } from '../../../src/auth/dkim/header-hash.ts';
import type { HeaderField } from '../../../src/mail/header.ts';

const f = (name: string, value: string): HeaderField => ({ name, value });

test('bottom-up instances, names case-insensitive and FWS-trimmed, an extra name matches nothing', (t) => {
  const a1 = f('To', ' a'), a2 = f('to', ' b'), s = f('Subject', ' s'), from = f('From', ' x');
  const headers = [from, a1, s, a2];
  t.deepEqual(selectSignedFields(headers, ['from', 'to', 'to', 'to', ' Subject\r\n ']), [from, a2, a1, s]);
  t.deepEqual(selectSignedFields(headers, ['cc', 'cc']), []);
});

test('the field under verification is never selected, even when h= names its kind', (t) => {
  const own = f('DKIM-Signature', ' v=1; b=own');
  const other = f('DKIM-Signature', ' v=1; b=other');
  t.deepEqual(selectSignedFields([own, other], ['dkim-signature', 'dkim-signature'], own), [other]);
  t.deepEqual(selectSignedFields([own, other], ['dkim-signature', 'dkim-signature']), [other, own]);
});

test('b= value removed with its surrounding whitespace; bh= and names merely containing b untouched', (t) => {
  t.is(withoutSignatureValue(' v=1; bh=abc; b=xyz'), ' v=1; bh=abc; b=');
  t.is(withoutSignatureValue(' b = xy\r\n z ; v=1'), ' b =; v=1');
  t.is(withoutSignatureValue(' v=1;\r\n\tb=ab\r\n\tcd'), ' v=1;\r\n\tb=');
  t.is(withoutSignatureValue(' ab=1; b=2'), ' ab=1; b=');
  t.is(withoutSignatureValue(' v=1'), ' v=1');
});

test('relaxed header canonicalisation: only SP/HTAB are whitespace (0xA0, 0x0B, 0x0C are content)', (t) => {
  t.is(canonicalHeader('Subject', ' \t a \t b \r\n\t c  ', 'relaxed'), 'subject:a b c\r\n');
  t.is(canonicalHeader('Subject', ' \xa0caf\xe9\xa0 ', 'relaxed'), 'subject:\xa0caf\xe9\xa0\r\n');
  t.is(canonicalHeader('Subject', '\x0bx\x0c', 'relaxed'), 'subject:\x0bx\x0c\r\n');
  t.is(canonicalHeader('Subject ', ' x', 'relaxed'), 'subject:x\r\n', 'WSP before the colon');
  t.is(canonicalHeader('SubJect', ' a  b\n c', 'simple'), 'SubJect: a  b\r\n c\r\n');
});

test('the hash input: selected fields with CRLF, then the signature field without b= and without its CRLF', (t) => {
  const sig = f('DKIM-Signature', ' v=1; h=from:subject; b=abc');
  const input = headerHashInput([f('From', ' A <a@x.test>'), f('Subject', ' hi')], sig, 'relaxed').toString('latin1');
  t.is(input, 'from:A <a@x.test>\r\nsubject:hi\r\ndkim-signature:v=1; h=from:subject; b=');
  const simple = headerHashInput([f('From', ' a')], sig, 'simple').toString('latin1');
  t.is(simple, 'From: a\r\nDKIM-Signature: v=1; h=from:subject; b=');
});
