/**
 * Domain names as mail authentication compares them: lower case, no trailing dot, IDNs as
 * A-labels (RFC 5890; DNS lookups and identifier alignment both work on A-labels, RFC 9989
 * §3.2). One `isSubdomainOf` for every "is this name at or below that one" question.
 */
import { domainToASCII } from 'node:url';

/** RFC 1035 §2.3.4: 63 octets a label, 253 for the presentation form of a name. */
const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;
/** A name already in normalized form (optionally with its trailing dot): the common case, one regex. */
const NORMALIZED = /^(?=.{1,253}\.?$)(?:(?!-)[a-z0-9_-]{1,63}(?<!-)\.)*(?!-)[a-z0-9_-]{1,63}(?<!-)\.?$/;

/**
 * The comparable form of `name` — lower case, trailing dot removed, U-labels converted to
 * A-labels — or undefined when it is not a valid host name (empty label, label over 63
 * octets, name over 253, characters no DNS label for mail can hold). Underscores are kept:
 * `_dmarc`, `_domainkey` and selector labels use them.
 */
export function normalizeDomain(name: string): string | undefined {
  // Called a few dozen times per message (every identifier, key and policy name): skip the
  // trim/IDN/split work for names that are already lower-case ASCII.
  if (NORMALIZED.test(name)) return name.endsWith('.') ? name.slice(0, -1) : name;
  let n = name.trim().replace(/\.$/, '');
  if (n === '' || n.includes('..')) return undefined;
  if (/[^\x21-\x7e]/.test(n)) {
    const ascii = domainToASCII(n);
    if (!ascii) return undefined;
    n = ascii;
  }
  n = n.toLowerCase();
  if (n.length > 253) return undefined;
  return n.split('.').every((l) => LABEL.test(l)) ? n : undefined;
}

/** True when `name` equals `parent` or lies below it; both in normalized form. */
export function isSubdomainOf(name: string, parent: string): boolean {
  return name === parent || (parent !== '' && name.endsWith(`.${parent}`));
}

/** The labels of a normalized name, left to right. */
export function labels(name: string): string[] {
  return name === '' ? [] : name.split('.');
}
