/** Errors of the DANE feature: bad certificate input, unusable parameters, probe failures. */
import { MailanchorError } from '../errors.ts';

export type DaneErrorCode =
  /** The file could not be read. */
  | 'UNREADABLE'
  /** The file is DER (binary) where PEM text is expected. */
  | 'DER_NOT_PEM'
  /** No PEM certificate / key block, or a block that does not parse. */
  | 'NOT_CERTIFICATE'
  | 'EXPIRED'
  | 'NOT_YET_VALID'
  /** Certificates in a chain file are not leaf first, each followed by its issuer. */
  | 'CHAIN_ORDER'
  /** A private key given with a certificate is not the certificate's key. */
  | 'KEY_MISMATCH'
  /** A usage/selector/matching combination that cannot be computed from the input. */
  | 'BAD_PARAMETER'
  /** TCP connect, SMTP dialogue or TLS handshake failed. */
  | 'UNREACHABLE'
  | 'STARTTLS_REFUSED'
  | 'STATE';

export class DaneError extends MailanchorError<DaneErrorCode> {}
