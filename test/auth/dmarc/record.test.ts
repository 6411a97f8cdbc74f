import test from 'ava';
import { isDmarcRecord, parseDmarcRecord } from '../../../src/auth/dmarc/record.ts';

test('a full record: every tag', (t) => {
  const r = parseDmarcRecord('v=DMARC1; p=reject; sp=quarantine; np=none; adkim=s; aspf=s; psd=n; t=y; rua=mailto:a@example.org,mailto:b@example.net!10m; ruf=mailto:f@example.org; fo=1:d:s');
  t.deepEqual(r, {
    p: 'reject',
    sp: 'quarantine',
    np: 'none',
    adkim: 's',
    aspf: 's',
    psd: 'n',
    testing: true,
    rua: ['mailto:a@example.org', 'mailto:b@example.net'],
    ruf: ['mailto:f@example.org'],
    fo: '1:d:s',
    invalid: [],
  });
});

test('defaults: adkim/aspf r, psd u, t n, no rua/ruf', (t) => {
  t.deepEqual(parseDmarcRecord('v=DMARC1; p=none'), { p: 'none', adkim: 'r', aspf: 'r', psd: 'u', testing: false, rua: [], ruf: [], invalid: [] });
});

// [record, is it a DMARC record]
const versions: [string, boolean][] = [
  ['v=DMARC1; p=none', true],
  ['v=DMARC1;p=none', true],
  ['v = DMARC1 ; p=none', true],
  ['  v=DMARC1; p=none  ', true],
  ['v=DMARC1', true],
  ['v=DMARC1;', true],
  ['v=dmarc1; p=none', false], // the version value is case-sensitive (§4.8 %s"DMARC1")
  ['p=none; v=DMARC1', false], // v must be first (§4.7)
  ['v=DMARC2; p=none', false],
  ['v=DMARC1 p=reject', false], // one tag: its value is not DMARC1
  ['v=spf1 -all', false],
  ['', false],
  ['V=DMARC1; p=none', false],
];
for (const [text, ok] of versions) {
  test(`${JSON.stringify(text)} ${ok ? 'is' : 'is not'} a DMARC record`, (t) => {
    t.is(isDmarcRecord(text), ok);
    t.is(parseDmarcRecord(text) !== undefined, ok);
  });
}

test('unknown tags and removed tags (pct, rf, ri) are ignored', (t) => {
  const r = parseDmarcRecord('v=DMARC1; p=quarantine; pct=10; rf=afrf; ri=3600; future=thing; x=');
  t.is(r?.p, 'quarantine');
  t.deepEqual(r?.invalid, []);
});

test('invalid values fall back to defaults and are listed', (t) => {
  const r = parseDmarcRecord('v=DMARC1; p=rejected; sp=maybe; adkim=x; aspf=strict; psd=yes; t=1; rua=not a uri; fo=0:1');
  t.truthy(r);
  t.is(r!.p, undefined);
  t.is(r!.sp, undefined);
  t.is(r!.adkim, 'r');
  t.is(r!.aspf, 'r');
  t.is(r!.psd, 'u');
  t.false(r!.testing);
  t.deepEqual(r!.rua, []);
  t.is(r!.fo, undefined);
  t.deepEqual(r!.invalid, ['p', 'sp', 'adkim', 'aspf', 'psd', 't', 'rua', 'fo']);
});

test('values and tag names are case-insensitive; the first occurrence of a tag wins', (t) => {
  const r = parseDmarcRecord('v=DMARC1; P=Reject; p=none; ADKIM=S');
  t.is(r?.p, 'reject');
  t.is(r?.adkim, 's');
});

test('report URIs: the valid ones are kept, white space around commas allowed, size suffixes dropped', (t) => {
  const r = parseDmarcRecord('v=DMARC1; p=none; rua=mailto:a@example.org , bogus, mailto:b@example.org!5k, https://r.example/x?y=1');
  t.deepEqual(r?.rua, ['mailto:a@example.org', 'mailto:b@example.org', 'https://r.example/x?y=1']);
});

test('fo: its grammar', (t) => {
  const fo = (v: string) => parseDmarcRecord(`v=DMARC1; p=none; fo=${v}`)?.fo;
  t.is(fo('0'), '0');
  t.is(fo('d'), 'd');
  t.is(fo('d:s'), 'd:s');
  t.is(fo('s:1'), 's:1');
  t.is(fo('d:d'), undefined);
  t.is(fo('0:1'), undefined);
  t.is(fo('2'), undefined);
});

test('tags that are not dmarc-tag syntax are skipped, the rest still read', (t) => {
  const r = parseDmarcRecord('v=DMARC1; ===; p1=x; ; p=reject; sp');
  t.is(r?.p, 'reject');
});
