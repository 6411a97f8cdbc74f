/**
 * Bytes of an XML report → text chunks for the XML parser. The encoding comes from the
 * BOM, else the XML declaration (XML 1.0 §4.3.3; a few reporters write ISO-8859-1), else
 * UTF-8. Invalid byte sequences become U+FFFD and are counted (a reporter's bad byte in a
 * header_from must not cost the whole report), and C0 control characters that XML 1.0
 * forbids (§2.2) are removed with a warning rather than failing the document.
 */
import { TextDecoder } from 'node:util';
import type { Warnings } from './warnings.ts';

const ENCODING = /^<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9._-]{1,40})["']/;
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g;

function pickEncoding(head: Uint8Array, warnings: Warnings): string {
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) return 'utf-8';
  if (head[0] === 0xff && head[1] === 0xfe) return 'utf-16le';
  if (head[0] === 0xfe && head[1] === 0xff) return 'utf-16be';
  const start = Buffer.from(head.subarray(0, 300)).toString('latin1').trimStart();
  const label = ENCODING.exec(start)?.[1];
  if (!label) return 'utf-8';
  try {
    return new TextDecoder(label).encoding;
  } catch {
    warnings.add(`unknown encoding "${label}" in the XML declaration: read as UTF-8`);
    return 'utf-8';
  }
}

export async function* xmlText(bytes: AsyncIterable<Uint8Array>, warnings: Warnings): AsyncGenerator<string> {
  let decoder: TextDecoder | undefined;
  let replaced = 0;
  let removed = 0;
  const clean = (text: string): string => {
    for (let i = text.indexOf('\ufffd'); i >= 0; i = text.indexOf('\ufffd', i + 1)) replaced++;
    FORBIDDEN.lastIndex = 0;
    if (!FORBIDDEN.test(text)) return text;
    return text.replace(FORBIDDEN, () => {
      removed++;
      return '';
    });
  };
  for await (const chunk of bytes) {
    decoder ??= new TextDecoder(pickEncoding(chunk, warnings), { fatal: false, ignoreBOM: false });
    const text = clean(decoder.decode(chunk, { stream: true }));
    if (text) yield text;
  }
  if (decoder) {
    const tail = clean(decoder.decode());
    if (tail) yield tail;
  }
  if (replaced) warnings.add(`${replaced} invalid byte sequence(s) for ${decoder?.encoding ?? 'utf-8'} replaced by U+FFFD`);
  if (removed) warnings.add(`${removed} control character(s) XML does not allow removed`);
}
