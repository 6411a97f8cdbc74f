import { MailanchorError } from '../errors.ts';

export type KeystoreErrorCode = 'key-too-small' | 'selector-invalid' | 'selector-in-use' | 'store-unreadable' | 'config-invalid' | 'import-failed' | 'lease-lost' | 'lease-busy';

export class KeystoreError extends MailanchorError<KeystoreErrorCode> {}
