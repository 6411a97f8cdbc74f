import { MailanchorError } from '../errors.ts';

/** Why a milter session was closed or a modification refused. */
export type MilterErrorCode =
  | 'frame-empty' // length 0: not even a command byte
  | 'frame-too-large' // length over the bound, refused before allocation
  | 'frame-truncated' // connection closed in the middle of a frame
  | 'unknown-command'
  | 'malformed-payload' // missing NUL, short integer, bad family …
  | 'unexpected-command' // a command out of order (e.g. body before negotiation)
  | 'negotiation-failed' // the MTA lacks an action or step we need
  | 'modification-not-negotiated'
  | 'read-timeout';

export class MilterProtocolError extends MailanchorError<MilterErrorCode> {}
