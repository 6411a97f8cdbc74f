/**
 * What a blob is, from its first bytes (file names lie: Google's `.zip` arrives as
 * `application/octet-stream`, some `.xml` files are gzip). Pure, and linear in the bytes
 * looked at — no regular expression that can backtrack: the old detector took 60 s on a
 * 2 kB CRLF header block.
 */

export type BlobKind = 'gzip' | 'zip' | 'xml' | 'json' | 'mail' | 'mbox' | 'unknown';

/** How much of a blob `sniff` needs to see. */
export const SNIFF_BYTES = 8192;

const isSpace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/** Offset of the first byte after a UTF-8/UTF-16 BOM and leading white space. */
function skipBomAndSpace(b: Uint8Array): { at: number; utf16: boolean } {
  let i = 0;
  if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) i = 3;
  else if ((b[0] === 0xff && b[1] === 0xfe) || (b[0] === 0xfe && b[1] === 0xff)) return { at: 2, utf16: true };
  while (i < b.length && isSpace(b[i]!)) i++;
  return { at: i, utf16: false };
}

/** RFC 5322 §3.6.8 field name: printable ASCII except colon, at least one. */
function isFieldNameByte(c: number): boolean {
  return c >= 0x21 && c <= 0x7e && c !== 0x3a;
}

/**
 * True when `b` starts with an RFC 5322 header field (`Name: value`) — one field is
 * enough when the name is one mail always has, otherwise two consecutive fields are
 * required, so a text file that happens to start with `Note: …` is not taken for a mail.
 */
function startsWithHeader(b: Uint8Array, from: number): boolean {
  let fields = 0;
  let i = from;
  while (i < b.length && fields < 2) {
    const start = i;
    while (i < b.length && isFieldNameByte(b[i]!)) i++;
    if (i === start || i >= b.length || b[i] !== 0x3a) return false;
    const name = Buffer.from(b.subarray(start, i)).toString('latin1').toLowerCase();
    fields++;
    if (fields >= 2 || WELL_KNOWN.has(name)) return true;
    // Skip the value and its continuation lines.
    for (;;) {
      while (i < b.length && b[i] !== 0x0a) i++;
      if (i >= b.length) return false; // one unknown field longer than we look at: not enough to tell
      i++;
      if (b[i] !== 0x20 && b[i] !== 0x09) break;
    }
    if (b[i] === 0x0d || b[i] === 0x0a) return false; // the block ended after one field that is not a mail's
  }
  return fields >= 2;
}

const WELL_KNOWN = new Set([
  'return-path', 'received', 'from', 'to', 'subject', 'date', 'message-id', 'mime-version', 'content-type',
  'delivered-to', 'x-original-to', 'dkim-signature', 'authentication-results', 'arc-seal', 'reply-to', 'sender',
]);

export function sniff(head: Uint8Array): BlobKind {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  // Local file header; an empty archive is only an end-of-central-directory record.
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && ((head[2] === 0x03 && head[3] === 0x04) || (head[2] === 0x05 && head[3] === 0x06))) return 'zip';
  const { at, utf16 } = skipBomAndSpace(head);
  if (utf16) return 'xml'; // UTF-16 text here can only be XML; the XML reader decodes it
  const c = head[at];
  if (c === 0x3c) return 'xml'; // <
  if (c === 0x7b) return 'json'; // {
  // mbox (RFC 4155): "From " then an envelope sender, then a header block.
  if (at === 0 && head.length > 5 && head[0] === 0x46 && head[1] === 0x72 && head[2] === 0x6f && head[3] === 0x6d && head[4] === 0x20) {
    let nl = 5;
    while (nl < head.length && head[nl] !== 0x0a) nl++;
    if (nl < head.length && startsWithHeader(head, nl + 1)) return 'mbox';
  }
  if (at === 0 && startsWithHeader(head, 0)) return 'mail';
  return 'unknown';
}
