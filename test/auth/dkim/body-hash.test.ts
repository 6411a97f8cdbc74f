/** BodyHashSet: one hash per distinct (canonicalisation, l=), shared by every signature asking for it. */
import test from 'ava';
import { createHash } from 'node:crypto';
import { BodyHashSet } from '../../../src/auth/dkim/body-hash.ts';

const body = Buffer.from('Hello  world \r\n\r\nbye\r\n\r\n\r\n');
const relaxed = 'Hello world\r\n\r\nbye\r\n';
const simple = 'Hello  world \r\n\r\nbye\r\n';
const sha = (s: string) => createHash('sha256').update(s, 'latin1').digest();

test('digests and canonical lengths per canonicalisation, l= truncating, any chunking', (t) => {
  for (const chunk of [1, 3, 1000]) {
    const set = new BodyHashSet();
    const r = set.request({ canon: 'relaxed' });
    const s = set.request({ canon: 'simple' });
    const l5 = set.request({ canon: 'relaxed', limit: 5 });
    const l0 = set.request({ canon: 'simple', limit: 0 });
    const over = set.request({ canon: 'simple', limit: 1000 });
    for (let i = 0; i < body.length; i += chunk) set.write(body.subarray(i, i + chunk));
    set.end();
    t.deepEqual(set.result(r), { digest: sha(relaxed), canonicalLength: relaxed.length });
    t.deepEqual(set.result(s), { digest: sha(simple), canonicalLength: simple.length });
    t.deepEqual(set.result(l5), { digest: sha(relaxed.slice(0, 5)), canonicalLength: relaxed.length });
    t.deepEqual(set.result(l0), { digest: sha(''), canonicalLength: simple.length });
    t.deepEqual(set.result(over), { digest: sha(simple), canonicalLength: simple.length });
  }
});

test('the same request is the same handle (one hash however many signatures share it)', (t) => {
  const set = new BodyHashSet();
  t.true(set.empty);
  const a = set.request({ canon: 'relaxed' });
  t.deepEqual(set.request({ canon: 'relaxed' }), a);
  t.notDeepEqual(set.request({ canon: 'relaxed', limit: 3 }), a);
  t.false(set.empty);
});

test('misuse throws: a request after the body started or after end, a write after end, a result before end', (t) => {
  const set = new BodyHashSet();
  const h = set.request({ canon: 'simple' });
  t.throws(() => set.result(h), { message: /before end/ });
  set.write(Buffer.alloc(0)); // an empty chunk starts nothing
  set.request({ canon: 'relaxed' });
  set.write(Buffer.from('x'));
  t.throws(() => set.request({ canon: 'relaxed', limit: 1 }), { message: /after the body started/ });
  set.end();
  set.end(); // idempotent
  t.true(set.ended);
  t.throws(() => set.write(Buffer.from('y')), { message: /write after end/ });
  t.throws(() => set.request({ canon: 'simple' }), { message: /after end/ });
  t.is(set.result(h).canonicalLength, 3);
});

test('an empty body: simple is one CRLF, relaxed is empty (§3.4.3, §3.4.4)', (t) => {
  const set = new BodyHashSet();
  const s = set.request({ canon: 'simple' });
  const r = set.request({ canon: 'relaxed' });
  set.end();
  t.deepEqual(set.result(s), { digest: sha('\r\n'), canonicalLength: 2 });
  t.deepEqual(set.result(r), { digest: sha(''), canonicalLength: 0 });
});

test('many l= values of one canonicalisation share one running hash: every prefix digest is right, whatever the chunking', (t) => {
  const long = Buffer.from('line one\r\n  two  \r\n\r\nthree\r\n'.repeat(40), 'latin1');
  const canonical = { relaxed: 'line one\r\n two\r\n\r\nthree\r\n'.repeat(40), simple: 'line one\r\n  two  \r\n\r\nthree\r\n'.repeat(40) };
  for (const canon of ['relaxed', 'simple'] as const) {
    const want = canonical[canon];
    for (const chunk of [1, 13, 600, 5000]) {
      const set = new BodyHashSet();
      const limits = [0, 1, 2, 9, 10, 11, 100, 599, 600, 601, want.length - 1, want.length, want.length + 1, 1e9];
      const handles = limits.map((limit) => set.request({ canon, limit }));
      const whole = set.request({ canon });
      for (let i = 0; i < long.length; i += chunk) set.write(long.subarray(i, i + chunk));
      set.end();
      for (const [k, limit] of limits.entries()) t.deepEqual(set.result(handles[k]!).digest, sha(want.slice(0, limit)), `${canon} chunk ${chunk} l=${limit}`);
      t.deepEqual(set.result(whole), { digest: sha(want), canonicalLength: want.length });
    }
  }
});
