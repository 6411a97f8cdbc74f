import test from 'ava';
import { renderFragment } from '../../src/publish/zone-fragment.ts';

test('TXT strings are quoted and escaped, records sorted, names absolute', (t) => {
  const out = renderFragment('dkim', [
    { name: 'sel2._domainkey.example.test', type: 'TXT', ttl: 300, data: ['v=DKIM1; k=rsa; p=', 'AB"C\\'] },
    { name: 'sel1._domainkey.example.test', type: 'TXT', ttl: 300, data: ['v=DKIM1; k=ed25519; p=xyz'] },
  ]);
  t.is(out, [
    '; managed by mailanchor (owner: dkim); do not edit',
    'sel1._domainkey.example.test. 300 IN TXT ( "v=DKIM1; k=ed25519; p=xyz" )',
    'sel2._domainkey.example.test. 300 IN TXT ( "v=DKIM1; k=rsa; p=" "AB\\"C\\\\" )',
    '',
  ].join('\n'));
});
