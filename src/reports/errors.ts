import { MailanchorError } from '../errors.ts';

export type ReportErrorCode =
  | 'DELIVERY_TEMPORARY' // the MTA did not take the message now; retried next run
  | 'DELIVERY_PERMANENT' // the MTA refused the recipient or message (counts as a bounce)
  | 'UNREADABLE' // `report read`: input cannot be read or decoded
  | 'TOO_LARGE' // a bound was hit (file, decompressed size, zip entries)
  | 'NOT_A_REPORT'
  | 'NOT_OURS'
  | 'DUPLICATE' // the same (reporter, report id) was read before (this run, or in the store)
  | 'IN_PROGRESS' // `report import`: another import (another run, another host) is storing this report now; left for the next run
  | 'MAILBOX'; // `report import --imap`: the mailbox could not be reached, logged into or changed
export class ReportError extends MailanchorError<ReportErrorCode> {}
