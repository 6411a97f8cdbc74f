/**
 * Reading an OpenDKIM setup so a site migrates keeping its selectors: KeyTable lines
 * `name  domain:selector:/path/to/key.private`. Key files readable by group or others are
 * refused, as OpenDKIM's RequireSafeKeys does.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { KeystoreError } from './errors.ts';
import type { DkimAlgorithm } from './signing-keys.ts';

export interface ImportedKey {
  readonly domain: string;
  readonly selector: string;
  readonly algorithm: DkimAlgorithm;
  readonly privateKeyPem: string;
  readonly publicKeyPem: string;
  readonly file: string;
}

export interface KeyTableEntry {
  readonly domain: string;
  readonly selector: string;
  readonly file: string;
}

/** Pure: KeyTable text → entries (comments and blank lines skipped; `refile:` prefixes dropped). */
export function parseKeyTable(text: string): KeyTableEntry[] {
  const out: KeyTableEntry[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const value = line.split(/\s+/)[1];
    const parts = value?.split(':');
    if (!parts || parts.length < 3) throw new KeystoreError('import-failed', `KeyTable line ${i + 1}: expected "name domain:selector:keyfile"`, { line: i + 1 });
    out.push({ domain: parts[0]!.toLowerCase(), selector: parts[1]!, file: parts.slice(2).join(':') });
  }
  return out;
}

export function readKeyFile(entry: KeyTableEntry): ImportedKey {
  let st;
  try {
    st = statSync(entry.file);
  } catch (err) {
    throw new KeystoreError('import-failed', `cannot read key file ${entry.file}: ${(err as Error).message}`, { file: entry.file }, { cause: err });
  }
  if (st.mode & 0o077) {
    throw new KeystoreError('import-failed', `${entry.file} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it first`, { file: entry.file });
  }
  let key;
  try {
    key = createPrivateKey(readFileSync(entry.file));
  } catch (err) {
    throw new KeystoreError('import-failed', `${entry.file} is not a private key: ${(err as Error).message}`, { file: entry.file }, { cause: err });
  }
  const type = key.asymmetricKeyType;
  if (type !== 'rsa' && type !== 'ed25519') throw new KeystoreError('import-failed', `${entry.file}: ${type} keys cannot sign DKIM`, { file: entry.file });
  if (type === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 1024) {
    throw new KeystoreError('key-too-small', `${entry.file}: RSA keys under 1024 bits are refused (RFC 8301 §3.2)`, { file: entry.file });
  }
  return {
    domain: entry.domain,
    selector: entry.selector,
    algorithm: type === 'rsa' ? 'rsa-sha256' : 'ed25519-sha256',
    privateKeyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString(),
    file: entry.file,
  };
}
