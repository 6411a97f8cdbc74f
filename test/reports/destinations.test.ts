/** rua parsing, the external check decision, suppression matching, SMTP dot-stuffing (pure parts). */
import test from 'ava';
import { isExternal, parseRua, suppressedBy, verifyDestination, type Destination } from '../../src/reports/destinations.ts';
import { dotStuff } from '../../src/reports/smtp-client.ts';
import { fakeLookup } from '../support/fake-dns.ts';

test('rua URIs: mailto only, size limits with units, malformed ones get a reason', (t) => {
  t.deepEqual(parseRua('mailto:dmarc@Example.TEST'), { uri: 'mailto:dmarc@Example.TEST', address: 'dmarc@example.test', domain: 'example.test' });
  t.like(parseRua(' mailto:a@b.test!10m '), { address: 'a@b.test', maxSize: 10 * 1024 * 1024 });
  t.like(parseRua('mailto:a@b.test!500k'), { maxSize: 500 * 1024 });
  t.like(parseRua('mailto:a@b.test!2048'), { maxSize: 2048 });
  t.like(parseRua('mailto:a%2Bdmarc@b.test'), { address: 'a+dmarc@b.test' });
  t.regex(parseRua('https://b.test/x') as string, /only mailto/);
  t.regex(parseRua('mailto:nobody') as string, /malformed/);
  t.regex(parseRua('mailto:a@b@') as string, /malformed/);
  t.regex(parseRua('garbage') as string, /malformed URI/);
});

test('external means: neither domain is the other or under it', (t) => {
  t.false(isExternal('example.test', 'example.test'));
  t.false(isExternal('mail.example.test', 'example.test'));
  t.false(isExternal('example.test', 'reports.example.test'));
  t.true(isExternal('baaten.test', 'traxotic.test'));
  t.true(isExternal('example.test', 'notexample.test'));
});

test('suppression matches addresses exactly and domains with their subdomains', (t) => {
  t.is(suppressedBy('A@B.test', ['a@b.test']), 'a@b.test');
  t.is(suppressedBy('x@mail.b.test', ['b.test']), 'b.test');
  t.is(suppressedBy('x@notb.test', ['b.test']), undefined);
  t.is(suppressedBy('y@b.test', ['x@b.test']), undefined);
});

test('verification with a fake zone: TXT must start with v=DMARC1; SERVFAIL is temporary', async (t) => {
  const dns = fakeLookup({
    'a.test._report._dmarc.r.test': { TXT: [['v=DMARC1', '; rua=mailto:x@r.test']] },
    'b.test._report._dmarc.r.test': { TXT: ['p=none; v=DMARC1'] },
    'c.test._report._dmarc.r.test': { TXT: { error: 'SERVFAIL' } },
  });
  const d = parseRua('mailto:agg@r.test') as Destination;
  t.like(await verifyDestination(dns, 'a.test', d), { kind: 'authorized', override: ['mailto:x@r.test'] });
  t.like(await verifyDestination(dns, 'b.test', d), { kind: 'unauthorized' }, 'no consent record yet: asked again later');
  t.like(await verifyDestination(dns, 'c.test', d), { kind: 'temporary' });
  t.like(await verifyDestination(dns, `${'x'.repeat(63)}.${'y'.repeat(63)}.${'z'.repeat(63)}.test`, parseRua(`mailto:a@${'q'.repeat(40)}.test`) as Destination), { kind: 'refused' });
});

test('SMTP dot-stuffing: leading dots doubled, bare LF to CRLF, terminated by CRLF.CRLF', (t) => {
  t.is(dotStuff(Buffer.from('a\n.b\r\n..c\nend')).toString(), 'a\r\n..b\r\n...c\r\nend\r\n.\r\n');
  t.is(dotStuff(Buffer.from('.\r\n')).toString(), '..\r\n.\r\n');
});
