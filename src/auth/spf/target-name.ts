/**
 * From an expanded domain-spec to the name we query (RFC 7208 §7.3, §4.3).
 *
 * - One trailing dot is dropped ("trailing dot is ignored for domains").
 * - Over 253 characters, labels are removed from the left until it fits (§7.3).
 * - A name DNS cannot carry — an empty label, a label over 63 octets, a single label, a
 *   character outside printable US-ASCII — is no name at all: undefined. RFC 7208 leaves
 *   such targets undefined (the suite accepts fail or permerror); we treat them the way §4.3
 *   treats a malformed <domain>, as a name that does not exist, so `a`/`mx`/`exists` do not
 *   match (and count as a void lookup) and `include`/`redirect` are a permerror (§5.2, §6.1).
 *   Spaces and other visible characters stay: "%_" and "%-" exist to put them in names
 *   (the suite's macro-mania-in-domain queries "macro%percent  space%20url-space…").
 */

/** The longest presentation-form name (RFC 1035 §2.3.4, RFC 7208 §7.3). */
export const MAX_NAME = 253;

export function targetName(expanded: string): string | undefined {
  let n = expanded.endsWith('.') ? expanded.slice(0, -1) : expanded;
  while (n.length > MAX_NAME) {
    const dot = n.indexOf('.');
    if (dot === -1) return undefined;
    n = n.slice(dot + 1);
  }
  let labels = 1;
  let length = 0;
  for (let i = 0; i < n.length; i++) {
    const c = n.charCodeAt(i);
    if (c === 0x2e) {
      if (length === 0) return undefined;
      labels++;
      length = 0;
    } else if (c < 0x20 || c > 0x7e || ++length > 63) {
      return undefined;
    }
  }
  if (length === 0 || labels < 2) return undefined;
  return n.toLowerCase();
}
