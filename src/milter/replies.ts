/** Encoding of replies and modifications (SMFIR_*). Pure. */
import { SMFIR } from './constants.ts';
import { cstrings, encodeFrame, uint32 } from './codec.ts';
import type { Modification, SmtpReply, Verdict } from './filter.ts';

/**
 * `550 5.7.1 text` for SMFIR_REPLYCODE. libmilter doubles `%` (the MTA treats the text as
 * a format); CR/LF would split the reply, so they become spaces.
 */
export function replyCodeText(reply: SmtpReply, kind: 'reject' | 'tempfail'): string {
  const okClass = kind === 'reject' ? 5 : 4;
  const code = Math.floor(reply.code / 100) === okClass ? reply.code : kind === 'reject' ? 550 : 451;
  const enhanced = reply.enhanced && /^[45]\.\d{1,3}\.\d{1,3}$/.test(reply.enhanced) && reply.enhanced[0] === String(okClass) ? ` ${reply.enhanced}` : '';
  const text = reply.text.replace(/[\r\n]+/g, ' ').replace(/%/g, '%%').trim();
  return `${code}${enhanced}${text ? ` ${text}` : ''}`;
}

export function encodeVerdict(verdict: Verdict): Buffer {
  switch (verdict.kind) {
    case 'continue':
      return encodeFrame(SMFIR.CONTINUE);
    case 'accept':
      return encodeFrame(SMFIR.ACCEPT);
    case 'discard':
      return encodeFrame(SMFIR.DISCARD);
    case 'reject':
      return verdict.reply ? encodeFrame(SMFIR.REPLYCODE, cstrings(replyCodeText(verdict.reply, 'reject'))) : encodeFrame(SMFIR.REJECT);
    case 'tempfail':
      return verdict.reply ? encodeFrame(SMFIR.REPLYCODE, cstrings(replyCodeText(verdict.reply, 'tempfail'))) : encodeFrame(SMFIR.TEMPFAIL);
  }
}

/**
 * Header values go out as latin1 (one byte per char, the inverse of how they came in) with
 * LF line breaks: Postfix keeps headers with bare LF internally and writes CRLF on the wire.
 */
function headerValue(value: string, leadingSpace: boolean): string {
  const v = value.replace(/\r\n/g, '\n');
  return leadingSpace && v !== '' && !/^[ \t]/.test(v) ? ` ${v}` : v;
}

function latin1z(...values: string[]): Buffer {
  return Buffer.concat(values.map((v) => Buffer.from(`${v}\0`, 'latin1')));
}

/** `leadingSpace`: SMFIP_HDR_LEADSPC was negotiated, so the MTA inserts values verbatim. */
export function encodeModification(mod: Modification, leadingSpace: boolean): Buffer {
  switch (mod.kind) {
    case 'add-header':
      return encodeFrame(SMFIR.ADDHEADER, latin1z(mod.name, headerValue(mod.value, leadingSpace)));
    case 'insert-header':
      return encodeFrame(SMFIR.INSHEADER, Buffer.concat([uint32(mod.index), latin1z(mod.name, headerValue(mod.value, leadingSpace))]));
    case 'change-header':
      return encodeFrame(SMFIR.CHGHEADER, Buffer.concat([uint32(mod.occurrence), latin1z(mod.name, headerValue(mod.value, leadingSpace))]));
    case 'quarantine':
      return encodeFrame(SMFIR.QUARANTINE, latin1z(mod.reason.replace(/[\r\n]+/g, ' ')));
    case 'change-from':
      return encodeFrame(SMFIR.CHGFROM, mod.args ? latin1z(`<${mod.sender}>`, mod.args) : latin1z(`<${mod.sender}>`));
    case 'add-rcpt':
      return encodeFrame(SMFIR.ADDRCPT, latin1z(`<${mod.rcpt}>`));
    case 'delete-rcpt':
      return encodeFrame(SMFIR.DELRCPT, latin1z(`<${mod.rcpt}>`));
    case 'replace-body': {
      // libmilter sends the new body in chunks of at most 65535 bytes (MILTER_CHUNK_SIZE).
      const frames: Buffer[] = [];
      for (let i = 0; i < mod.body.length; i += 65535) frames.push(encodeFrame(SMFIR.REPLBODY, mod.body.subarray(i, i + 65535)));
      return Buffer.concat(frames.length ? frames : [encodeFrame(SMFIR.REPLBODY)]);
    }
  }
}

export function encodeProgress(): Buffer {
  return encodeFrame(SMFIR.PROGRESS);
}
