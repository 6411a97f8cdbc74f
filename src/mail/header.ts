/**
 * A header field as the MTA hands it over: the name, and the value after the colon byte for
 * byte (a latin1 string, one char per octet, so 8-bit headers round-trip). With
 * SMFIP_HDR_LEADSPC the leading space is kept; folding line breaks arrive as LF or CRLF.
 * Every parser (DKIM, ARC, DMARC author, Authentication-Results) reads this one shape.
 */
export interface HeaderField {
  readonly name: string;
  readonly value: string;
}

/** RFC 5322 §2.2.3: unfolding removes a line break (CRLF, or the LF Postfix passes) before WSP. */
export function unfold(value: string): string {
  return value.replace(/\r?\n(?=[ \t])/g, '');
}

/** Header fields named `name` (case-insensitive, RFC 5322 §1.2.2), top to bottom. */
export function fieldsNamed(headers: readonly HeaderField[], name: string): HeaderField[] {
  const lower = name.toLowerCase();
  return headers.filter((h) => h.name.toLowerCase() === lower);
}

/** The header block on the wire: `name:value CRLF` per field, folding as CRLF, and the empty line. */
export function headerBlock(headers: readonly HeaderField[]): Buffer {
  const text = headers.map((h) => `${h.name}:${h.value.replace(/\r?\n/g, '\r\n')}\r\n`).join('');
  return Buffer.from(`${text}\r\n`, 'latin1');
}
