/**
 * The message's authors (RFC 5322 §3.6.2 From) and their domains, as DMARC needs them
 * (RFC 9989 §5.3.1 "Extract Author Domain"): every From field parsed with the address
 * parser, the distinct domains in A-label form — or a typed reason there is no usable
 * author. A message must carry exactly one From field (RFC 5322 §3.6); several fields or
 * several author domains are reported as such, and what to do with them is configuration
 * (`inbound.multiple_from`), not this module's choice.
 */
import { parseAddressList, type AddressProblem, type Mailbox } from './address.ts';
import { fieldsNamed, type HeaderField } from './header.ts';

/** Why there is no usable Author Domain. */
export type AuthorProblem = AddressProblem | 'no-from-field' | 'no-mailbox';

export type Authors =
  | {
      readonly ok: true;
      /** Every mailbox of every From field, in order. */
      readonly mailboxes: readonly Mailbox[];
      /** The distinct author domains (A-labels), in order of first appearance. */
      readonly domains: readonly string[];
      /** From fields in the header (RFC 5322 wants exactly 1). */
      readonly fields: number;
    }
  | {
      readonly ok: false;
      readonly problem: AuthorProblem;
      readonly reason: string;
      readonly fields: number;
    };

/** More than one author domain, or more than one From field: RFC 9989 §5.3.1 / §11.5. */
export function hasSeveralAuthors(a: Authors): boolean {
  return a.ok && (a.domains.length > 1 || a.fields > 1);
}

export function authorsOf(headers: readonly HeaderField[]): Authors {
  const from = fieldsNamed(headers, 'from');
  const fields = from.length;
  if (fields === 0) return { ok: false, problem: 'no-from-field', reason: 'no From header field', fields };
  const mailboxes: Mailbox[] = [];
  for (const [i, f] of from.entries()) {
    const parsed = parseAddressList(f.value);
    if (!parsed.ok) {
      const which = fields > 1 ? `From field ${i + 1} of ${fields}` : 'From field';
      return { ok: false, problem: parsed.problem, reason: `${which}: ${parsed.reason}`, fields };
    }
    mailboxes.push(...parsed.mailboxes);
  }
  if (mailboxes.length === 0) return { ok: false, problem: 'no-mailbox', reason: 'the From field lists no mailbox (empty group)', fields };
  return { ok: true, mailboxes, domains: [...new Set(mailboxes.map((m) => m.domain))], fields };
}
