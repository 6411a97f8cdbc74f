/**
 * Errors of the ARC layer. Verification never throws (its verdicts are values, see
 * verify.ts); these are for a sealing request that cannot be right — a caller's mistake or
 * a configuration problem, not a property of the message.
 */
import { MailanchorError } from '../../errors.ts';

export type ArcErrorCode =
  /** The signing key is not rsa-sha256 (RFC 8617 §4.1.3 allows only that algorithm). */
  | 'key-algorithm'
  /** The Authentication-Results text handed to the sealer does not start with our authserv-id. */
  | 'authserv-id'
  /** The chain validation result does not belong to the header fields being sealed. */
  | 'chain-mismatch'
  /** A header field name that an ARC-Message-Signature must not cover (RFC 8617 §4.1.2). */
  | 'signed-header';

export class ArcError extends MailanchorError<ArcErrorCode> {}
