/**
 * Milter protocol v6 constants with libmilter's names (mfdef.h). Frames are
 * `uint32 length` (big-endian, counts the command byte) + command byte + payload.
 */

/** Commands the MTA sends (SMFIC_*). */
export const SMFIC = {
  ABORT: 0x41, // 'A'
  BODY: 0x42, // 'B'
  CONNECT: 0x43, // 'C'
  MACRO: 0x44, // 'D'
  BODYEOB: 0x45, // 'E'
  HELO: 0x48, // 'H'
  QUIT_NC: 0x4b, // 'K' quit, then a new SMTP connection on the same milter connection
  HEADER: 0x4c, // 'L'
  MAIL: 0x4d, // 'M'
  EOH: 0x4e, // 'N'
  OPTNEG: 0x4f, // 'O'
  QUIT: 0x51, // 'Q'
  RCPT: 0x52, // 'R'
  DATA: 0x54, // 'T'
  UNKNOWN: 0x55, // 'U' unknown SMTP command
} as const;

/** Replies and modifications the milter sends (SMFIR_*). */
export const SMFIR = {
  ADDRCPT: 0x2b, // '+'
  DELRCPT: 0x2d, // '-'
  ACCEPT: 0x61, // 'a'
  REPLBODY: 0x62, // 'b'
  CONTINUE: 0x63, // 'c'
  DISCARD: 0x64, // 'd'
  CHGFROM: 0x65, // 'e'
  ADDHEADER: 0x68, // 'h'
  INSHEADER: 0x69, // 'i'
  CHGHEADER: 0x6d, // 'm'
  PROGRESS: 0x70, // 'p'
  QUARANTINE: 0x71, // 'q'
  REJECT: 0x72, // 'r'
  SKIP: 0x73, // 's'
  TEMPFAIL: 0x74, // 't'
  REPLYCODE: 0x79, // 'y'
  OPTNEG: 0x4f, // 'O'
} as const;

/** Action bits in OPTNEG (SMFIF_*). */
export const SMFIF = {
  ADDHDRS: 0x1,
  CHGBODY: 0x2,
  ADDRCPT: 0x4,
  DELRCPT: 0x8,
  CHGHDRS: 0x10,
  QUARANTINE: 0x20,
  CHGFROM: 0x40,
  ADDRCPT_PAR: 0x80,
  SETSYMLIST: 0x100,
} as const;

/** Protocol step bits in OPTNEG (SMFIP_*). */
export const SMFIP = {
  NOCONNECT: 0x1,
  NOHELO: 0x2,
  NOMAIL: 0x4,
  NORCPT: 0x8,
  NOBODY: 0x10,
  NOHDRS: 0x20,
  NOEOH: 0x40,
  NR_HDR: 0x80,
  NOUNKNOWN: 0x100,
  NODATA: 0x200,
  SKIP: 0x400,
  RCPT_REJ: 0x800,
  NR_CONN: 0x1000,
  NR_HELO: 0x2000,
  NR_MAIL: 0x4000,
  NR_RCPT: 0x8000,
  NR_DATA: 0x10000,
  NR_UNKN: 0x20000,
  NR_EOH: 0x40000,
  NR_BODY: 0x80000,
  HDR_LEADSPC: 0x100000,
} as const;

/** Macro stages in the OPTNEG macro lists (SMFIM_*). */
export const SMFIM = {
  CONNECT: 0,
  HELO: 1,
  ENVFROM: 2,
  ENVRCPT: 3,
  DATA: 4,
  EOM: 5,
  EOH: 6,
} as const;

export const MILTER_VERSION = 6;

/** Postfix has been seen sending 65536-byte payloads (purepythonmilter); bodies come in ≤ 64 KiB chunks. */
export const DEFAULT_MAX_FRAME = 1024 * 1024;

/** All macros of a connection together (names + values); far above anything Postfix sends. */
export const MAX_MACRO_BYTES = 64 * 1024;

/** Names of the set bits of a mask, for log lines. */
export function flagNames(mask: number, table: Readonly<Record<string, number>>): string[] {
  return Object.entries(table)
    .filter(([, bit]) => (mask & bit) !== 0)
    .map(([name]) => name);
}

export function commandName(code: number): string {
  const hit = Object.entries(SMFIC).find(([, c]) => c === code);
  return hit ? hit[0] : `0x${code.toString(16).padStart(2, '0')}`;
}
