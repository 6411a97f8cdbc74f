/**
 * The header half of a DKIM (and ARC-Message-Signature / ARC-Seal) hash, RFC 6376 §3.7 and
 * §5.4.2: the fields named in h= picked bottom-up, each canonicalised, then the signature
 * field itself with its b= value deleted and without its final CRLF. Shared by the
 * verifier and the signer so both read h= the same way.
 */
import type { HeaderField } from '../../mail/header.ts';
import { canonicalHeader, type Canon } from './canonicalize.ts';

/**
 * §5.4.2: for each name in h=, the last instance not yet used (bottom-up); a name with no
 * instance left contributes nothing (that is what makes oversigning work).
 *
 * `exclude` is the signature field being verified: h= "MUST NOT include the DKIM-Signature
 * header field that is being created or verified" (§3.5), so an h= naming dkim-signature
 * refers to the other signature fields only — the one under verification did not exist when
 * the signer picked the fields, and must not fill a slot that then matched nothing.
 */
export function selectSignedFields(headers: readonly HeaderField[], h: readonly string[], exclude?: HeaderField): HeaderField[] {
  const byName = new Map<string, HeaderField[]>();
  for (const f of headers) {
    if (f === exclude) continue;
    const n = fieldKey(f.name);
    const list = byName.get(n);
    if (list) list.push(f);
    else byName.set(n, [f]);
  }
  const used = new Map<string, number>();
  const out: HeaderField[] = [];
  for (const raw of h) {
    const n = fieldKey(raw);
    const k = used.get(n) ?? 0;
    const instances = byName.get(n);
    const hit = instances?.[instances.length - 1 - k];
    used.set(n, k + 1);
    if (hit) out.push(hit);
  }
  return out;
}

/** A field name as h= and the header compare it: case-insensitive (§3.5), FWS around it dropped. */
function fieldKey(name: string): string {
  return name.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '').toLowerCase();
}

/**
 * The signature field's value with the b= tag's value (and the whitespace around it)
 * deleted, everything else byte for byte (§3.5 b=, §3.7 step 2). Only the tag named
 * exactly `b` — not `bh`.
 */
export function withoutSignatureValue(value: string): string {
  let out = '';
  let i = 0;
  while (i <= value.length) {
    const semi = value.indexOf(';', i);
    const end = semi < 0 ? value.length : semi;
    const spec = value.slice(i, end);
    const m = /^([ \t\r\n]*b[ \t\r\n]*=)/.exec(spec);
    out += m ? m[1] : spec;
    if (semi < 0) break;
    out += ';';
    i = semi + 1;
  }
  return out;
}

/** The octets the signature covers: selected fields, then the signature field (b= empty, no CRLF). */
export function headerHashInput(selected: readonly HeaderField[], signature: HeaderField, canon: Canon): Buffer {
  let text = '';
  for (const f of selected) text += canonicalHeader(f.name, f.value, canon);
  text += canonicalHeader(signature.name, withoutSignatureValue(signature.value), canon).replace(/\r\n$/, '');
  return Buffer.from(text, 'latin1');
}
