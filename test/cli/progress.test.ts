/** The progress line (src/cli/progress.ts) on a stream that says it is a terminal, and on one that does not. */
import test from 'ava';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProgress } from '../../src/cli/progress.ts';

function stream(tty: boolean, columns = 60) {
  const s = new PassThrough();
  if (tty) Object.assign(s, { isTTY: true, columns });
  let text = '';
  s.on('data', (c: Buffer) => (text += c.toString()));
  return { s, text: () => text };
}

test('not a terminal: nothing is written, and guard() gives the stream itself', async (t) => {
  const { s, text } = stream(false);
  const p = startProgress(s, 'audit');
  t.false(p.active);
  p.set('1/2 domains');
  p.clear();
  p.done();
  t.is(p.guard(s), s);
  await sleep(20);
  t.is(text(), '');
});

test('a terminal: the line is drawn in place with the seconds, throttled, erased at the end', async (t) => {
  let now = 1_000_000;
  const { s, text } = stream(true);
  const p = startProgress(s, 'keys rotate', { now: () => now, env: {} });
  t.true(p.active);
  p.set('1/3 domains');
  t.is(text(), '\rkeys rotate: 1/3 domains — 0 s\x1b[K');
  // Within 100 ms: not drawn at once, but drawn when the interval is up (the latest text only).
  p.set('2/3 domains');
  p.set('3/3 domains');
  t.is(text(), '\rkeys rotate: 1/3 domains — 0 s\x1b[K');
  now += 2000;
  await sleep(150);
  t.is(text(), '\rkeys rotate: 1/3 domains — 0 s\x1b[K\rkeys rotate: 3/3 domains — 2 s\x1b[K');
  p.done();
  t.true(text().endsWith('\r\x1b[K'));
  const before = text();
  p.set('after done');
  await sleep(150);
  t.is(text(), before, 'nothing after done()');
});

test('output through guard() clears the line first and draws it again after a full line', async (t) => {
  let now = 0;
  const { s, text } = stream(true);
  const p = startProgress(s, 'report send', { now: () => now, env: {} });
  p.set('0 handed to the MTA');
  const out = p.guard(s);
  now += 500;
  await new Promise<void>((resolve) => out.write('sent r1 to dmarc@example.org: 250 ok\n', () => resolve()));
  await sleep(20);
  t.is(text(), '\rreport send: 0 handed to the MTA — 0 s\x1b[K\r\x1b[Ksent r1 to dmarc@example.org: 250 ok\n\rreport send: 0 handed to the MTA — 1 s\x1b[K');
  p.done();
});

test('cut to the terminal width, never wrapped; TERM=dumb gets spaces instead of escapes', async (t) => {
  const wide = stream(true, 30);
  const p = startProgress(wide.s, 'audit', { env: {} });
  p.set('120/400 domains, 3 with fail/error, now a-very-long-domain-name.example');
  const drawn = wide.text().replace(/^\r/, '').replace(/\x1b\[K$/, '');
  t.is(drawn.length, 29);
  t.true(drawn.endsWith('…'));
  p.done();

  const dumb = stream(true);
  const d = startProgress(dumb.s, 'audit', { env: { TERM: 'dumb' } });
  d.set('1/2 domains');
  d.done();
  t.false(dumb.text().includes('\x1b'), JSON.stringify(dumb.text()));
  t.is(dumb.text(), `\raudit: 1/2 domains — 0 s\r${' '.repeat('audit: 1/2 domains — 0 s'.length)}\r`);
});
