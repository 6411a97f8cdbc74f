/** Test DKIM keys in the forms python3-dkim's dkimsign reads and DNS publishes. */
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';

export interface TestKey {
  readonly selector: string;
  readonly algorithm: 'rsa-sha256' | 'ed25519-sha256';
  /** The TXT record value (`v=DKIM1; k=…; p=…`), split into ≤255-byte strings for the zone file. */
  readonly zoneTxt: string;
  /** The same record as one string (for verifiers that take records handed in). */
  readonly record: string;
  readonly keyFile: string;
}

const b64 = (s: string): string => Buffer.from(s, 'base64url').toString('base64');

/** Zone-file TXT data: quoted strings of at most 255 bytes. */
export function txtData(value: string): string {
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += 255) parts.push(`"${value.slice(i, i + 255)}"`);
  return parts.join(' ');
}

export function makeKey(dir: string, selector: string, algorithm: TestKey['algorithm'], bits = 2048): TestKey {
  const keyFile = join(dir, `${selector}.key`);
  if (algorithm === 'ed25519-sha256') {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const jwk = privateKey.export({ format: 'jwk' });
    writeFileSync(keyFile, b64(jwk.d!), { mode: 0o600 }); // dkimpy: base64 of the 32-byte seed
    const pub = b64(publicKey.export({ format: 'jwk' }).x!);
    const record = `v=DKIM1; k=ed25519; p=${pub}`;
    return { selector, algorithm, keyFile, record, zoneTxt: txtData(record) };
  }
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
  const pub = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  const record = `v=DKIM1; k=rsa; p=${pub}`;
  return { selector, algorithm, keyFile, record, zoneTxt: txtData(record) };
}

/**
 * Signs with Debian's python3-dkim `dkimsign` (an independent signer); returns the signed
 * message. `signalg` overrides the key's algorithm (`rsa-sha1` with an RSA key, for tests of
 * what RFC 8301 forbids).
 */
export function dkimsign(message: Buffer, domain: string, key: TestKey, canon: { header?: 'simple' | 'relaxed'; body?: 'simple' | 'relaxed'; signalg?: 'rsa-sha1' } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      '/usr/bin/dkimsign',
      ['--signalg', canon.signalg ?? key.algorithm, '--hcanon', canon.header ?? 'relaxed', '--bcanon', canon.body ?? 'simple', key.selector, domain, key.keyFile],
      { encoding: 'buffer', env: { ...process.env, PATH: '/usr/bin:/bin' }, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => (err ? reject(new Error(`dkimsign: ${stderr.toString()}`)) : resolve(stdout)),
    );
    child.stdin!.end(message);
  });
}
