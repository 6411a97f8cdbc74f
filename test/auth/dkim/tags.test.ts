/** The RFC 6376 §3.2 tag list, table-driven: what the grammar accepts, what it refuses, and why. */
import test from 'ava';
import { compact, isBase64, parseTagList } from '../../../src/auth/dkim/tags.ts';

const ok = (text: string, opts = {}) => {
  const r = parseTagList(text, opts);
  if (!r.ok) throw new Error(`${JSON.stringify(text)}: ${r.reason}`);
  return Object.fromEntries(r.tags);
};

test('accepted: FWS anywhere the grammar allows it, trailing ";", inner whitespace kept as written', (t) => {
  t.deepEqual(ok('v=1; a=rsa-sha256'), { v: '1', a: 'rsa-sha256' });
  t.deepEqual(ok('v=1;a=x;'), { v: '1', a: 'x' });
  t.deepEqual(ok('  v =\t1 ;\r\n\ta = x ; \r\n '), { v: '1', a: 'x' });
  t.deepEqual(ok('v=1;\n b=ab\n cd ef'), { v: '1', b: 'ab\n cd ef' });
  t.deepEqual(ok('h=from : to :\r\n subject'), { h: 'from : to :\r\n subject' });
  t.deepEqual(ok('z=; n='), { z: '', n: '' });
  t.deepEqual(ok('Tag_1=a'), { Tag_1: 'a' });
  t.deepEqual(ok('x=a=b'), { x: 'a=b' }, '"=" is a VALCHAR');
});

test('tag names are case-sensitive (§3.2): v and V are two tags', (t) => {
  t.deepEqual(ok('v=1; V=2'), { v: '1', V: '2' });
});

test('refused: duplicates, bad names, missing "=", control and 8-bit octets, bare line breaks, empty lists', (t) => {
  const bad: Array<[string, RegExp]> = [
    ['v=1; v=1', /occurs twice/],
    ['1v=1', /invalid tag name/],
    ['_v=1', /invalid tag name/],
    ['v-x=1', /"=" expected/],
    ['v 1', /"=" expected/],
    ['v=1;;a=2', /invalid tag name/],
    [';', /invalid tag name/],
    ['v=1\x00', /invalid character 0x00/],
    ['v=a\x7fb', /invalid character 0x7f/],
    ['d=b\xfccher.test', /invalid character 0xfc/],
    ['v=1\r\na=2', /invalid character 0x0d/],
    ['v=1\na=2', /invalid character 0x0a/],
    ['v=1\r\n', /invalid character 0x0d/],
    ['', /empty tag list/],
    ['   ', /empty tag list/],
    ['v=1; =2', /invalid tag name/],
  ];
  for (const [text, reason] of bad) {
    const r = parseTagList(text);
    t.false(r.ok, JSON.stringify(text));
    if (!r.ok) t.regex(r.reason, reason, JSON.stringify(text));
  }
});

test('utf8: octets 0x80–0xFF allowed in values (RFC 6532, RFC 8616 §4), still not in names or as controls', (t) => {
  t.deepEqual(ok('d=b\xc3\xbccher.test', { utf8: true }), { d: 'b\xc3\xbccher.test' });
  t.false(parseTagList('\xc3=1', { utf8: true }).ok);
  t.false(parseTagList('d=a\x01', { utf8: true }).ok);
});

test('compact and isBase64: whitespace removed; whole base64 quanta only', (t) => {
  t.is(compact(' ab\r\n\tcd ef '), 'abcdef');
  for (const v of ['', 'AAAA', 'AAA=', 'AA==', 'ab+/09Zz']) t.true(isBase64(v), v);
  for (const v of ['A', 'AA', 'AAA', 'A===', 'AA=A', 'AAAA=', 'AA-_', 'AA==AAAA', 'AA AA']) t.false(isBase64(v), v);
});
