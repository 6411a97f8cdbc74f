/**
 * The report as a mail message (RFC 9990 §5.1 "Email"): a text/plain note and the gzipped
 * XML as an application/gzip attachment named
 * `receiver!policy-domain!begin!end!unique-id.xml.gz`, Subject
 * `Report Domain: D Submitter: S Report-ID: <ID>`. Pure apart from gzip.
 */
import { gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';

export interface ReportIdentity {
  readonly policyDomain: string;
  readonly submitter: string;
  /** Seconds since epoch, as in <date_range>. */
  readonly begin: number;
  readonly end: number;
  /** 1*(ALPHA / DIGIT): the filename's unique-id and the local part of the Report-ID. */
  readonly uniqueId: string;
}

export function newUniqueId(): string {
  return randomBytes(10).toString('hex');
}

/** RFC 9990 §5.1 ridtxt: dot-atom "@" dot-atom, the same token as the file name's unique-id. */
export function reportIdOf(id: Pick<ReportIdentity, 'uniqueId' | 'submitter'>): string {
  return `${id.uniqueId}@${id.submitter}`;
}

export function reportFileName(id: ReportIdentity): string {
  return `${id.submitter}!${id.policyDomain}!${id.begin}!${id.end}!${id.uniqueId}.xml.gz`;
}

export function reportSubject(id: ReportIdentity): string {
  return `Report Domain: ${id.policyDomain} Submitter: ${id.submitter} Report-ID: <${reportIdOf(id)}>`;
}

export function gzipXml(xml: string): Buffer {
  return gzipSync(Buffer.from(xml, 'utf8'), { level: 9 });
}

/** Folds a header at spaces so no line exceeds 78 characters (RFC 5322 §2.1.1). */
export function foldHeader(name: string, value: string): string {
  const words = value.split(' ');
  let line = `${name}:`;
  const lines: string[] = [];
  for (const w of words) {
    if (line.length + 1 + w.length > 78 && line.trim().length > name.length + 1) {
      lines.push(line);
      line = ` ${w}`;
    } else line += ` ${w}`;
  }
  lines.push(line);
  return lines.join('\r\n');
}

function rfc5322Date(ms: number): string {
  return new Date(ms).toUTCString().replace('GMT', '+0000');
}

export interface MessageInput {
  readonly identity: ReportIdentity;
  readonly from: string;
  readonly to: readonly string[];
  readonly gz: Buffer;
  readonly now: number;
  readonly orgName: string;
  /** An on-demand report: said in the text part too, so a human reader does not add it up with the scheduled one. */
  readonly onDemandNote?: string;
}

/** The whole message, CRLF line ends, 7bit clean (base64 attachment, lines of 76). */
export function buildReportMessage(m: MessageInput): Buffer {
  const id = m.identity;
  const boundary = `=_mailanchor_${randomBytes(12).toString('hex')}`;
  const file = reportFileName(id);
  const b64 = m.gz.toString('base64').replace(/.{1,76}/g, '$&\r\n');
  const note =
    `This is an aggregate DMARC report (RFC 9990) from ${m.orgName} for ${id.policyDomain},\r\n` +
    `covering ${new Date(id.begin * 1000).toISOString()} to ${new Date(id.end * 1000).toISOString()}.\r\n` +
    (m.onDemandNote ? `\r\n${m.onDemandNote.replace(/\r?\n/g, '\r\n')}\r\n` : '');
  const headers = [
    `From: ${m.from}`,
    `To: ${m.to.join(', ')}`,
    foldHeader('Subject', reportSubject(id)),
    `Date: ${rfc5322Date(m.now)}`,
    // RFC 9990 §5.1: the same ridtxt may be used in the Message-ID to flag re-sends.
    `Message-ID: <${reportIdOf(id)}>`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    'Auto-Submitted: auto-generated',
  ];
  const body = [
    `--${boundary}`,
    'Content-Type: text/plain; charset=us-ascii',
    'Content-Transfer-Encoding: 7bit',
    '',
    note,
    `--${boundary}`,
    `Content-Type: application/gzip; name="${file}"`,
    'Content-Transfer-Encoding: base64',
    `Content-Disposition: attachment; filename="${file}"`,
    '',
    b64,
    `--${boundary}--`,
    '',
  ];
  return Buffer.from(`${headers.join('\r\n')}\r\n\r\n${body.join('\r\n')}`, 'ascii');
}
