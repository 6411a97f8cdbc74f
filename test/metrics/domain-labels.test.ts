/** Bounded per-domain labels: fixed domains, the busiest `top`, `other`; demotion with hysteresis; bounded memory. */
import test from 'ava';
import { createDomainLabels, OTHER } from '../../src/metrics/domain-labels.ts';
import { prng } from '../support/prng.ts';

test('fixed domains always have their own label, normalised; invalid names and undefined are other', (t) => {
  const l = createDomainLabels({ fixed: ['Ours.Example.'], top: 0 });
  t.is(l.label('ours.example'), 'ours.example');
  t.is(l.label('OURS.example.'), 'ours.example');
  t.is(l.label('else.example'), OTHER, 'top 0: nobody else');
  t.is(l.label(undefined), OTHER);
  t.is(l.label('bad..name'), OTHER);
  t.is(l.label('x'.repeat(70) + '.example'), OTHER);
});

test('the first `top` domains are admitted; a newcomer replaces the weakest only when clearly busier (twice)', (t) => {
  const demoted: string[] = [];
  const l = createDomainLabels({ top: 2, onDemote: (d) => demoted.push(d) });
  for (let i = 0; i < 10; i++) t.is(l.label('a.example'), 'a.example');
  for (let i = 0; i < 3; i++) t.is(l.label('b.example'), 'b.example');
  // c is new: its count must exceed 2 × b's (3) before it takes b's place.
  const got: string[] = [];
  for (let i = 0; i < 7; i++) got.push(l.label('c.example'));
  t.deepEqual(got, [OTHER, OTHER, OTHER, OTHER, OTHER, OTHER, 'c.example']);
  t.deepEqual(demoted, ['b.example']);
  t.is(l.label('b.example'), OTHER, 'b now counts as other');
  t.deepEqual(l.labelled().sort(), ['a.example', 'c.example']);
});

test('200,000 messages from random one-off domains: at most top labels at once, almost no churn; a steady heavy hitter keeps its label', (t) => {
  const rnd = prng(4242);
  const seen = new Set<string>();
  const l = createDomainLabels({ fixed: ['ours.example'], top: 5, capacity: 64 });
  for (let i = 0; i < 200_000; i++) {
    const d = i % 4 === 0 ? 'heavy.example' : `d${Math.floor(rnd() * 1e9)}.example`;
    seen.add(l.label(d));
  }
  t.true(l.labelled().length <= 6, 'fixed + top at any time');
  t.is(l.label('heavy.example'), 'heavy.example');
  // One-off domains never displace anyone (their guaranteed count stays 1): only the first
  // ones, admitted while the top set had room, ever had a label of their own.
  const oneOff = [...seen].filter((x) => x.startsWith('d'));
  t.log(`${oneOff.length} one-off domains ever labelled`);
  t.true(oneOff.length <= 4, String(oneOff.length));
});

test('traffic moves on: a domain that becomes busy later takes the place of one gone quiet', (t) => {
  const demoted: string[] = [];
  const l = createDomainLabels({ top: 2, capacity: 16, halveEvery: 500, onDemote: (d) => demoted.push(d) });
  for (let i = 0; i < 1000; i++) {
    l.label('a.example');
    l.label('b.example');
  }
  let first = -1;
  for (let i = 0; i < 5000; i++) {
    l.label('a.example');
    if (l.label('c.example') === 'c.example' && first < 0) first = i;
  }
  t.log(`c.example got its label after ${first} of its messages`);
  t.true(first > 0 && first < 5000);
  t.deepEqual(demoted, ['b.example'], 'the quiet one went, the busy one stayed');
  t.deepEqual(l.labelled().sort(), ['a.example', 'c.example']);
});
