/**
 * A small bounded MIME reader (RFC 5322 + RFC 2045/2046): header fields, multipart bodies
 * (nested up to a depth), base64 and quoted-printable. It only needs to find report
 * attachments, so it yields leaf parts with their type, file name and decoded bytes.
 */
import { ReportError } from '../errors.ts';

export interface MimePart {
  readonly contentType: string;
  readonly fileName?: string;
  readonly data: Buffer;
}

const MAX_DEPTH = 8;
const MAX_PARTS = 200;

export function looksLikeMessage(buf: Buffer): boolean {
  const head = buf.subarray(0, 2000).toString('latin1');
  return /^(?:[!-9;-~]+:[^\n]*\r?\n(?:[ \t][^\n]*\r?\n)*)+\r?\n/.test(head) || /^(?:From |Return-Path:|Received:|MIME-Version:|Content-Type:)/im.test(head.split(/\r?\n\r?\n/)[0] ?? '');
}

function splitHead(text: string): { headers: Map<string, string>; body: string } {
  // A part that starts with an empty line has no header fields at all.
  if (/^\r?\n/.test(text)) return { headers: new Map(), body: text.replace(/^\r?\n/, '') };
  const m = /\r?\n\r?\n/.exec(text);
  const head = m ? text.slice(0, m.index) : text;
  const body = m ? text.slice(m.index + m[0].length) : '';
  const headers = new Map<string, string>();
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const name = line.slice(0, i).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, line.slice(i + 1).trim());
  }
  return { headers, body };
}

/** A parameter of a structured header (`boundary`, `filename`, `name`), RFC 2231 continuations ignored. */
function param(value: string, name: string): string | undefined {
  const re = new RegExp(`(?:^|;)\\s*${name}\\*?\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]+))`, 'i');
  const m = re.exec(value);
  const v = m ? (m[1] ?? m[2]) : undefined;
  if (v === undefined) return undefined;
  return v.replace(/^utf-8''/i, '').replace(/\\(.)/g, '$1');
}

function decodeBody(body: string, cte: string): Buffer {
  switch (cte.toLowerCase()) {
    case 'base64':
      return Buffer.from(body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
    case 'quoted-printable':
      return Buffer.from(
        body.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))),
        'latin1',
      );
    default:
      return Buffer.from(body, 'latin1');
  }
}

export function mimeParts(buf: Buffer, label: string): MimePart[] {
  const out: MimePart[] = [];
  const walk = (text: string, depth: number): void => {
    if (depth > MAX_DEPTH) throw new ReportError('UNREADABLE', `${label}: MIME nesting deeper than ${MAX_DEPTH}`);
    const { headers, body } = splitHead(text);
    const ct = headers.get('content-type') ?? 'text/plain';
    const type = (ct.split(';')[0] ?? '').trim().toLowerCase();
    if (type.startsWith('multipart/')) {
      const boundary = param(ct, 'boundary');
      if (!boundary) throw new ReportError('UNREADABLE', `${label}: multipart without boundary`);
      const delim = `--${boundary}`;
      const pieces: string[] = [];
      let current: string[] | undefined; // undefined in the preamble and after the close delimiter
      for (const line of body.split(/\r?\n/)) {
        if (line.startsWith(delim)) {
          if (current) pieces.push(current.join('\r\n'));
          if (line.slice(delim.length).startsWith('--')) {
            current = undefined;
            break;
          }
          current = [];
          continue;
        }
        current?.push(line);
      }
      if (current) pieces.push(current.join('\r\n')); // unterminated: keep what came
      for (const piece of pieces) {
        if (!piece.trim()) continue;
        if (out.length >= MAX_PARTS) throw new ReportError('TOO_LARGE', `${label}: more than ${MAX_PARTS} MIME parts`);
        walk(piece, depth + 1);
      }
      return;
    }
    if (type === 'message/rfc822') return walk(body, depth + 1);
    const disp = headers.get('content-disposition') ?? '';
    const fileName = param(disp, 'filename') ?? param(ct, 'name');
    const data = decodeBody(body, headers.get('content-transfer-encoding') ?? '7bit');
    out.push(fileName === undefined ? { contentType: type, data } : { contentType: type, fileName, data });
  };
  walk(buf.toString('latin1'), 0);
  return out;
}
