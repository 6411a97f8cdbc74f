/** Splits an RFC 5322 message into header fields (as Postfix hands them to a milter) and body. */
export function splitMessage(raw: Buffer): { headers: Array<[string, string]>; body: Buffer } {
  const text = raw.toString('latin1');
  const m = /\r?\n\r?\n/.exec(text);
  const headEnd = m ? m.index : text.length;
  const bodyStart = m ? m.index + m[0].length : text.length;
  const headers: Array<[string, string]> = [];
  for (const line of text.slice(0, headEnd).split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && headers.length) {
      // Continuation: Postfix keeps folding with a bare LF.
      headers[headers.length - 1]![1] += `\n${line}`;
    } else if (line) {
      const colon = line.indexOf(':');
      headers.push([line.slice(0, colon), line.slice(colon + 1)]);
    }
  }
  // Postfix sends the body with CRLF line ends.
  const body = Buffer.from(text.slice(bodyStart).replace(/\r?\n/g, '\r\n'), 'latin1');
  return { headers, body };
}
