import { MailanchorError } from '../errors.ts';

export type KeystoreErrorCode = 'key-too-small' | 'selector-invalid' | 'store-unreadable';

export class KeystoreError extends MailanchorError<KeystoreErrorCode> {}
