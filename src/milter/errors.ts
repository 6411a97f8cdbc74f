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
  | 'macros-too-large' // all macros of a connection over MAX_MACRO_BYTES
  | 'over-budget' // a new frame would take the process past milter.max_buffered
  | 'read-timeout' // no complete frame while it was the MTA's turn (milter.read_timeout)
  | 'frame-timeout' // a frame not complete within milter.frame_timeout of its first byte
  | 'data-rate' // message content slower than milter.min_data_rate
  | 'write-backlog' // the MTA does not read our replies
  | 'stage-timeout' // a filter callback slower than milter.command_timeout (eom_timeout at end of message)
  | 'internal-error'; // an error outside any filter call, attributed to this session

export class MilterProtocolError extends MailanchorError<MilterErrorCode> {}
