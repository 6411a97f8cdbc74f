/** Test certificates made with `openssl` in a temp dir: a CA, and RSA / ECDSA leaves it issued. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';

export interface TestPki {
  readonly dir: string;
  /** CA cert + key (PEM files). */
  readonly caCert: string;
  readonly caKey: string;
  /** Issue a leaf for `cn` with `alg`; returns the file names. */
  leaf(name: string, cn: string, alg: 'rsa' | 'ec', opts?: { days?: number; key?: string }): { cert: string; key: string; chain: string; combined: string };
  cleanup(): void;
}

const openssl = (args: string[], input?: string): Buffer => execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'] });

export const sh = (cmd: string, args: string[], input?: Buffer | string): Buffer => execFileSync(cmd, args, { input, stdio: ['pipe', 'pipe', 'pipe'] });

export function makePki(caAlg: 'rsa' | 'ec' = 'ec'): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'mailanchor-dane-'));
  const caKey = join(dir, 'ca.key');
  const caCert = join(dir, 'ca.pem');
  genKey(caKey, caAlg);
  openssl(['req', '-x509', '-new', '-key', caKey, '-out', caCert, '-subj', '/CN=Mailanchor Test CA', '-days', '3650', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return {
    dir,
    caCert,
    caKey,
    leaf(name, cn, alg, opts = {}) {
      const key = opts.key ?? join(dir, `${name}.key`);
      if (!opts.key) genKey(key, alg);
      const csr = join(dir, `${name}.csr`);
      const cert = join(dir, `${name}.pem`);
      openssl(['req', '-new', '-key', key, '-out', csr, '-subj', `/CN=${cn}`]);
      const ext = join(dir, `${name}.ext`);
      writeFileSync(ext, `subjectAltName=DNS:${cn}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
      const validity = ['-days', String(opts.days ?? 90)];
      openssl(['x509', '-req', '-in', csr, '-CA', caCert, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-extfile', ext, ...validity]);
      const chain = join(dir, `${name}-chain.pem`);
      writeFileSync(chain, readFileSync(cert, 'utf8') + readFileSync(caCert, 'utf8'));
      const combined = join(dir, `${name}-combined.pem`);
      writeFileSync(combined, readFileSync(key, 'utf8') + readFileSync(cert, 'utf8') + readFileSync(caCert, 'utf8'));
      return { cert, key, chain, combined };
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function genKey(file: string, alg: 'rsa' | 'ec'): void {
  if (alg === 'rsa') openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', file]);
  else openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file]);
}

/** `openssl … | openssl sha256` → hex. */
export function opensslSha256(der: Buffer): string {
  const out = openssl(['dgst', '-sha256', '-r'], der as unknown as string).toString('utf8');
  return out.split(/\s/)[0]!;
}
export const certDer = (pem: string): Buffer => openssl(['x509', '-in', pem, '-outform', 'DER']);
export const spkiDer = (pem: string): Buffer => openssl(['pkey', '-pubin', '-outform', 'DER'], openssl(['x509', '-in', pem, '-pubkey', '-noout']).toString('utf8'));

/** A self-signed certificate valid only in the given window (node-forge: openssl 3.0 cannot back-date). */
export function forgeSelfSigned(cn: string, notBefore: Date, notAfter: Date): string {
  const keys = forge.pki.rsa.generateKeyPair(1024);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '01';
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  cert.setSubject([{ name: 'commonName', value: cn }]);
  cert.setIssuer([{ name: 'commonName', value: cn }]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}
