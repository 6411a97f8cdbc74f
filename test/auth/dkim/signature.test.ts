/** parseDkimSignature (RFC 6376 §3.5, §6.1.1), table-driven. */
import test from 'ava';
import { parseDkimSignature } from '../../../src/auth/dkim/signature.ts';
import type { DkimReasonCode } from '../../../src/auth/results.ts';

const B = 'YWJjZA==';
const BH = 'MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=';
const base = (extra = '', omit: string[] = []) =>
  [['v', '1'], ['a', 'rsa-sha256'], ['d', 'example.test'], ['s', 'sel'], ['h', 'from:to'], ['bh', BH], ['b', B]]
    .filter(([k]) => !omit.includes(k!))
    .map(([k, v]) => `${k}=${v}`)
    .join('; ') + (extra ? `; ${extra}` : '');
const parse = (value: string) => parseDkimSignature({ name: 'DKIM-Signature', value: ` ${value}` });

test('a minimal signature: defaults for c=, i=, no l=/t=/x=', (t) => {
  const r = parse(base());
  if (!r.ok) return t.fail(r.reason);
  t.like(r.signature, { algorithm: 'rsa-sha256', keyType: 'rsa', hash: 'sha256', headerCanon: 'simple', bodyCanon: 'simple', domain: 'example.test', selector: 'sel', identity: '@example.test', identityDomain: 'example.test', signatureText: B });
  t.deepEqual(r.signature.signedHeaders, ['from', 'to']);
  t.is(r.signature.bodyLength, undefined);
  t.is(r.signature.timestamp, undefined);
  t.deepEqual(r.signature.signature, Buffer.from('abcd'));
});

test('every optional tag read: c= forms, i= with quoted-printable, l=, q=, t=, x=, z=, unknown tags ignored', (t) => {
  const r = parse(base('c=Relaxed; i=j=3Doe@Mail.Example.Test; l=0; q=dns/txt:other/x; t=1700000000; x=1700000001; z=From:x|To:y; future=whatever'));
  if (!r.ok) return t.fail(r.reason);
  t.like(r.signature, { headerCanon: 'relaxed', bodyCanon: 'simple', identity: 'j=oe@mail.example.test', identityDomain: 'mail.example.test', bodyLength: 0, timestamp: 1700000000, expiration: 1700000001 });
  const c = parse(base('c=simple/relaxed'));
  t.true(c.ok && c.signature.headerCanon === 'simple' && c.signature.bodyCanon === 'relaxed');
  const folded = parse(base('h=From : To :\r\n\tSubject', ['h']).replace(`b=${B}`, 'b=YWJj\r\n ZA=='));
  t.true(folded.ok && folded.signature.signedHeaders.join() === 'from,to,subject' && folded.signature.signatureText === B);
  const quoted = parse(base('i="john=20doe"@example.test'));
  t.true(quoted.ok && quoted.signature.identity === '"john doe"@example.test', 'a quoted local-part with an encoded space');
  t.false(parse(base('i=a=0Ab@example.test')).ok, 'a control character in the local-part');
  const ed = parse(base().replace('rsa-sha256', 'Ed25519-SHA256'));
  t.true(ed.ok && ed.signature.algorithm === 'ed25519-sha256' && ed.signature.keyType === 'ed25519');
  const sha1 = parse(base().replace('rsa-sha256', 'rsa-sha1'));
  t.true(sha1.ok && sha1.signature.hash === 'sha1');
});

test('each PERMFAIL of §6.1.1 with its code; the identifiers that could be read travel with it', (t) => {
  const cases: Array<[string, string, DkimReasonCode]> = [
    ['no v=', base('', ['v']), 'version'],
    ['v=1.0', base().replace('v=1', 'v=1.0'), 'version'],
    ['no a=', base('', ['a']), 'syntax'],
    ['no b=', base('', ['b']), 'syntax'],
    ['no bh=', base('', ['bh']), 'syntax'],
    ['no d=', base('', ['d']), 'syntax'],
    ['no h=', base('', ['h']), 'syntax'],
    ['no s=', base('', ['s']), 'syntax'],
    ['empty b=', base().replace(`b=${B}`, 'b='), 'syntax'],
    ['b= not base64', base().replace(`b=${B}`, 'b=abc!'), 'syntax'],
    ['bh= cut mid-quantum', base().replace(`bh=${BH}`, 'bh=MTI'), 'syntax'],
    ['a=rsa-md5', base().replace('rsa-sha256', 'rsa-md5'), 'algorithm'],
    ['c=nofws', base('c=nofws'), 'canonicalization'],
    ['c=relaxed/relaxed/relaxed', base('c=relaxed/relaxed/relaxed'), 'canonicalization'],
    ['d= with a space', base().replace('d=example.test', 'd=exa mple.test'), 'syntax'],
    ['d= empty label', base().replace('d=example.test', 'd=example..test'), 'syntax'],
    ['s= invalid', base().replace('s=sel', 's=-sel'), 'syntax'],
    ['h= without From', base().replace('h=from:to', 'h=to:subject'), 'from-not-signed'],
    ['h= empty entry', base().replace('h=from:to', 'h=from::to'), 'syntax'],
    ['h= empty', base().replace('h=from:to', 'h='), 'syntax'],
    ['i= without @', base('i=example.test'), 'syntax'],
    ['i= broken escape', base('i=a=4@example.test'), 'syntax'],
    ['i= bare "="', base('i=a=@example.test'), 'syntax'],
    ['i= outside d=', base('i=@example.org'), 'domain-mismatch'],
    ['i= a sibling', base('i=@badexample.test'), 'domain-mismatch'],
    ['i= the parent of d=', base('i=@test'), 'domain-mismatch'],
    ['l= negative', base('l=-1'), 'syntax'],
    ['l= 77 digits', base(`l=${'9'.repeat(77)}`), 'syntax'],
    ['q=dns', base('q=dns'), 'query-method'],
    ['t= 13 digits', base('t=1234567890123'), 'syntax'],
    ['x= before t=', base('t=200; x=100'), 'timestamps'],
    ['x= equal to t=', base('t=200; x=200'), 'timestamps'],
    ['duplicate d=', base('d=example.test'), 'syntax'],
    ['garbage', 'this is not a tag list', 'syntax'],
    ['8-bit outside values', `${base()}; \xe9=1`, 'syntax'],
  ];
  for (const [name, value, code] of cases) {
    const r = parse(value);
    t.false(r.ok, name);
    if (!r.ok) t.is(r.code, code, `${name}: ${r.reason}`);
  }
  const r = parse(base('', ['v']));
  t.false(r.ok);
  if (!r.ok) t.deepEqual(r.seen, { domain: 'example.test', selector: 'sel', algorithm: 'rsa-sha256', signatureText: B });
  const far = parse(base('i=alice@example.org'));
  if (!far.ok) t.is(far.seen.identity, 'alice@example.org');
});

test('IDN: U-label d=, s= and i= (UTF-8 octets, RFC 8616 §4) read as A-labels; invalid UTF-8 refused', (t) => {
  const u = (s: string) => Buffer.from(s, 'utf8').toString('latin1');
  const r = parse(base(u('i=jürgen@bücher.example')).replace('d=example.test', u('d=Bücher.example')));
  if (!r.ok) return t.fail(r.reason);
  t.is(r.signature.domain, 'xn--bcher-kva.example');
  t.is(r.signature.identity, 'jürgen@xn--bcher-kva.example');
  t.false(parse(base().replace('d=example.test', 'd=b\xfccher.example')).ok, 'latin1 é is not UTF-8');
});

test('a bh= of the wrong digest length parses (it is base64) and can only fail the comparison', (t) => {
  const r = parse(base().replace(`bh=${BH}`, 'bh=MTIz'));
  t.true(r.ok && r.signature.bodyHash.length === 3);
});

test('an over-long field is refused before parsing', (t) => {
  const r = parse(base(`z=${'x'.repeat(17000)}`));
  t.false(r.ok);
  if (!r.ok) t.regex(r.reason, /signature field of \d+ octets/);
});
