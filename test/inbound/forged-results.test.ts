import test from 'ava';
import { forgedRemovals } from '../../src/inbound/forged-results.ts';

const octets = (s: string) => Buffer.from(s, 'utf8').toString('latin1');

test('forged A-R removal: our id with a trailing dot, after U+00A0, behind comments, in another case — last first', (t) => {
  const values = [
    ' mx.rcpt.test.; dkim=pass header.d=bank.example',
    ' other.example; spf=pass',
    octets(' mx.rcpt.test\u00a0; dmarc=pass'),
    ' (comment) MX.RCPT.TEST 1; spf=pass',
    ' mx.rcpt.test.evil.example; dkim=pass',
  ];
  t.deepEqual(
    forgedRemovals(values, 'mx.rcpt.test').map((m) => (m.kind === 'change-header' ? m.occurrence : -1)),
    [4, 3, 1],
  );
});
