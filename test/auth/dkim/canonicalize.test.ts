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
