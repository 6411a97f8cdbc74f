/**
 * The streaming body canonicaliser against a literal reading of RFC 6376 §3.4.3/§3.4.4 done on
 * the whole body as a string, for seeded random bodies cut into random chunks: every split
 * point, WSP run, bare CR/LF and trailing empty line the byte state machine must carry over.
 */
import test from 'ava';
import { BodyCanonicalizer, type Canon } from '../../../src/auth/dkim/canonicalize.ts';
import { prng } from '../../support/prng.ts';

/** Whole-body reference. A bare LF is a line end (as after SMTP); a bare CR is content. */
function reference(body: string, canon: Canon): string {
  const lines = body.replace(/(?<!\r)\n/g, '\r\n').split('\r\n');
  // split leaves '' after a final CRLF: that is "no further line", not an empty line
  if (lines.at(-1) === '') lines.pop();
  const canonLines = canon === 'relaxed' ? lines.map((l) => l.replace(/[ \t]+/g, ' ').replace(/ $/, '')) : lines;
  while (canonLines.length && canonLines.at(-1) === '') canonLines.pop();
  if (!canonLines.length) return canon === 'simple' ? '\r\n' : '';
  return canonLines.map((l) => `${l}\r\n`).join('');
}

function streamed(body: Buffer, canon: Canon, cut: () => number): string {
  const out: Buffer[] = [];
  const c = new BodyCanonicalizer(canon, (b) => out.push(Buffer.from(b)));
  for (let i = 0; i < body.length; ) {
    const n = cut();
    c.write(body.subarray(i, i + n));
    i += n;
  }
  c.end();
  return Buffer.concat(out).toString('latin1');
}

const PIECES = ['a', 'bc', 'xyz', ' ', '  ', '\t', ' \t ', '\r', '\n', '\r\n', '\r\n\r\n', '\xe9'];

for (const canon of ['simple', 'relaxed'] as const) {
  test(`${canon}: 3,000 random bodies in random chunks equal the whole-body reference`, (t) => {
    const rnd = prng(canon === 'simple' ? 6376 : 8463);
    for (let k = 0; k < 3000; k++) {
      const parts: string[] = [];
      const len = Math.floor(rnd() * 40);
      for (let p = 0; p < len; p++) parts.push(PIECES[Math.floor(rnd() * PIECES.length)]!);
      const body = parts.join('');
      const got = streamed(Buffer.from(body, 'latin1'), canon, () => 1 + Math.floor(rnd() * 9));
      if (got !== reference(body, canon)) {
        t.fail(`body ${JSON.stringify(body)}: got ${JSON.stringify(got)}, want ${JSON.stringify(reference(body, canon))}`);
        return;
      }
    }
    t.pass();
  });
}

test('the reference itself: RFC 6376 §3.4.5 example bodies', (t) => {
  const body = ' C \r\nD \t E\r\n\r\n\r\n';
  t.is(reference(body, 'relaxed'), ' C\r\nD E\r\n');
  t.is(reference(body, 'simple'), ' C \r\nD \t E\r\n');
  t.is(streamed(Buffer.from(body), 'relaxed', () => 1), ' C\r\nD E\r\n');
  t.is(streamed(Buffer.from(body), 'simple', () => 3), ' C \r\nD \t E\r\n');
});

/** Lines mostly canonical already (the fast path), with every anomaly now and then. */
const LINES = ['Hello there, this is a line of ordinary text.', 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0', '', '> quoted reply text', ' leading space', 'caf\xe9 cr\xe8me'];
const ANOMALIES = ['two  spaces', 'trailing space ', 'trailing tab\t', '\tleading tab', 'bare\rCR', ' ', '\t \t', '   ', 'mixed \t run'];

for (const canon of ['simple', 'relaxed'] as const) {
  test(`${canon}: 400 large bodies (the verbatim fast path) in chunks of 1 B – 64 KiB equal the reference`, (t) => {
    const rnd = prng(canon === 'simple' ? 5321 : 6532);
    for (let k = 0; k < 400; k++) {
      const lines: string[] = [];
      const count = 20 + Math.floor(rnd() * 400);
      for (let l = 0; l < count; l++) lines.push(rnd() < 0.08 ? ANOMALIES[Math.floor(rnd() * ANOMALIES.length)]! : LINES[Math.floor(rnd() * LINES.length)]!);
      // Line ends: CRLF, with a bare LF now and then; trailing empty lines or WSP, or no final line end.
      let body = lines.map((l) => l + (rnd() < 0.02 ? '\n' : '\r\n')).join('');
      const end = rnd();
      if (end < 0.2) body += '\r\n\r\n\r\n';
      else if (end < 0.3) body += '  \r\n \t\r\n';
      else if (end < 0.4) body = body.replace(/\r\n$/, '');
      else if (end < 0.45) body += '\r';
      const max = [1, 7, 600, 4096, 65536][Math.floor(rnd() * 5)]!;
      const got = streamed(Buffer.from(body, 'latin1'), canon, () => 1 + Math.floor(rnd() * max));
      const want = reference(body, canon);
      if (got !== want) {
        t.fail(`body ${k} (${body.length} octets, chunks ≤ ${max}) differs at ${[...got].findIndex((c, i) => c !== want[i])}`);
        return;
      }
    }
    t.pass();
  });
}

test('a chunk whose interior is all empty lines, then content in the next chunk: the empty lines are not trailing', (t) => {
  const body = `first line\r\n${'\r\n'.repeat(600)}last\r\n`;
  for (const canon of ['simple', 'relaxed'] as const) {
    for (const cut of [11, 12, 600, 1211, 1212]) {
      const b = Buffer.from(body, 'latin1');
      let i = 0;
      const sizes = [cut, b.length];
      t.is(streamed(b, canon, () => sizes[i++]!), reference(body, canon), `${canon} cut at ${cut}`);
    }
  }
});
