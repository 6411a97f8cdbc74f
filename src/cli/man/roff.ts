/**
 * man(7) text from our prose: the escapes roff needs and the two fonts we use. Pure.
 *
 * - `\` is `\e`; every `-` is `\-`, the minus sign, so options and paths copy and paste
 *   as typed (a bare `-` may render as a hyphen, U+2010);
 * - a line starting with `.` or `'` would be a request: `\&` in front;
 * - `` `literal` `` (commands, keys, values) is bold; in a synopsis, options are bold and
 *   placeholders (`FILE`, `HOST[:PORT]`) italic, as man-pages(7) asks;
 * - the few non-ASCII characters of our text become roff's named glyphs, so the page is
 *   the same whatever the reader's locale.
 */
const GLYPHS: Readonly<Record<string, string>> = {
  '—': '\\(em',
  '–': '\\(en',
  '×': '\\(mu',
  '→': '\\(->',
  '←': '\\(<-',
  '≤': '\\(<=',
  '≥': '\\(>=',
  '§': '\\(sc',
  '…': '.\\|.\\|.',
  '“': '\\(lq',
  '”': '\\(rq',
  '‘': '\\(oq',
  '’': '\\(cq',
  é: "\\('e",
  ü: '\\(:u',
  ö: '\\(:o',
};

/** Plain text, escaped for roff (no font changes). */
export function escapeRoff(text: string): string {
  let out = '';
  for (const c of text) {
    if (c === '\\') out += '\\e';
    else if (c === '-') out += '\\-';
    else out += GLYPHS[c] ?? c;
  }
  return out;
}

/** A text line with `literal` spans in bold (one source line: it may not start like a request). */
export function roffProse(text: string): string {
  const out = text
    .replace(/\s+/g, ' ')
    .trim()
    .split(/(`[^`]+`)/)
    .map((part) => (part.startsWith('`') && part.endsWith('`') && part.length > 1 ? `\\fB${escapeRoff(part.slice(1, -1))}\\fR` : escapeRoff(part)))
    .join('');
  return /^[.']/.test(out) ? `\\&${out}` : out;
}

/** A macro argument in double quotes (`.SS "mailanchor keys"`). */
export const quoted = (roff: string): string => `"${roff.replace(/"/g, '\\(dq')}"`;

/**
 * One synopsis word (`[--dns HOST[:PORT]]...`, `FILE…`): options bold, placeholders (words
 * starting with a capital) italic, brackets and choices plain; its inner spaces unbreakable,
 * so `[--store FILE|URL]` never splits over two lines.
 */
function synopsisWord(word: string): string {
  return word
    .split(/(--?[a-z][a-z0-9-]*|[A-Z][A-Z0-9_]*(?:\[:[A-Z]+\])?(?:\|[A-Za-z0-9_:/@.[\]-]+)*…?)/)
    .map((part, i) => (i % 2 === 0 ? escapeRoff(part) : part.startsWith('-') ? `\\fB${escapeRoff(part)}\\fR` : `\\fI${escapeRoff(part)}\\fR`))
    .join('')
    .replace(/ /g, '\\ ');
}

/** A usage line as a `.SY`/`.YS` block (groff and mandoc): the program words, then one source line per word. */
export function roffSynopsis(words: readonly string[], programWords: number): string[] {
  const program = words.slice(0, programWords).map(escapeRoff).join('\\ ');
  return [`.SY ${program}`, ...words.slice(programWords).map((w) => guard(synopsisWord(w))), '.YS'];
}

const guard = (line: string): string => (/^[.']/.test(line) ? `\\&${line}` : line);

/**
 * Source lines of at most 80 bytes (mandoc's style check): a text line broken at spaces, each
 * piece guarded; requests and comments left alone.
 */
export function wrapSource(lines: readonly string[], width = 80): string[] {
  return lines.flatMap((line) => {
    if (line.startsWith('.') || Buffer.byteLength(line) <= width) return [line];
    const out: string[] = [];
    let current = '';
    for (const word of line.split(/(?<!\\) /)) {
      if (current && Buffer.byteLength(`${current} ${word}`) > width) {
        out.push(guard(current));
        current = word;
      } else current = current ? `${current} ${word}` : word;
    }
    if (current) out.push(guard(current));
    return out;
  });
}
