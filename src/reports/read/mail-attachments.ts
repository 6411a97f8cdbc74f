/**
 * The parts of a mail message that can hold a report (RFC 7489 §7.2.1.1: gzip or zip,
 * RFC 9990 §5.1: gzip; RFC 8460 §5.3: `application/tlsrpt+gzip` or `+json` inside
 * `multipart/report`). Parsing is postal-mime's (a state machine, linear in the message:
 * RFC 2045–2047, RFC 2231 file names, nested message/rfc822, every transfer encoding),
 * with its header and nesting bounds. We only choose which leaves to try: every part
 * except the human-readable text, sniffed by content afterwards.
 */
import PostalMime from 'postal-mime';
import { ReportError } from '../errors.ts';
import { printable } from './printable.ts';

export interface MailPart {
  readonly name: string;
  readonly mimeType: string;
  readonly data: Buffer;
}

/** Header bytes across all parts; a report mail has a few kB (Microsoft's ~10 kB of Received). */
const MAX_HEADERS = 1024 * 1024;
const MAX_NESTING = 16;
const MAX_PARTS = 200;

const TEXT_BODY = new Set(['text/plain', 'text/html', 'text/enriched', 'message/delivery-status', 'text/rfc822-headers']);

export async function mailParts(raw: Uint8Array, label: string): Promise<{ parts: MailPart[]; subject?: string; from?: string }> {
  let email;
  try {
    email = await PostalMime.parse(raw, { attachmentEncoding: 'arraybuffer', maxHeadersSize: MAX_HEADERS, maxNestingDepth: MAX_NESTING, forceRfc822Attachments: false });
  } catch (err) {
    throw new ReportError('UNREADABLE', `${label}: not a readable mail message: ${(err as Error).message}`, {}, { cause: err });
  }
  if (email.attachments.length > MAX_PARTS) throw new ReportError('TOO_LARGE', `${label}: ${email.attachments.length} attachments, more than ${MAX_PARTS}`);
  const parts: MailPart[] = [];
  email.attachments.forEach((a, i) => {
    const name = a.filename !== undefined && a.filename !== null ? printable(a.filename) : `part${i + 1}`; // the sender's, shown in output
    // A text/plain attachment named *.xml is a report; the message's own text is not.
    if (TEXT_BODY.has(a.mimeType) && !/\.(xml|json|gz|zip)$/i.test(a.filename ?? '')) return;
    const content = a.content;
    const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content instanceof ArrayBuffer ? Buffer.from(content) : Buffer.from(content.buffer, content.byteOffset, content.byteLength);
    parts.push({ name, mimeType: a.mimeType, data });
  });
  const from = email.from && 'address' in email.from ? email.from.address : undefined;
  return { parts, ...(email.subject ? { subject: email.subject } : {}), ...(from ? { from } : {}) };
}
