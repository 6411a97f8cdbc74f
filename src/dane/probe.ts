/**
 * Fetches the certificate chain a server presents: plain TCP, then SMTP STARTTLS
 * (greeting, EHLO, STARTTLS — RFC 3207) or TLS straight away (443, 465). Certificate
 * checks are off on purpose (`rejectUnauthorized: false`): DANE decides, not the CA store.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { DaneError } from './errors.ts';

export interface ProbeTarget {
  /** Name used for SNI and the EHLO dialogue; also the DANE reference identifier. */
  readonly host: string;
  /** Where to connect (default `host`). */
  readonly address?: string;
  readonly port: number;
  readonly starttls: 'smtp' | 'none';
  readonly timeoutMs?: number;
  /** Our EHLO name. */
  readonly ehlo?: string;
  /**
   * TLS signature algorithms we offer: the server picks its certificate by them, so
   * offering only ECDSA or only RSA fetches each of a dual-certificate server's chains
   * (Postfix `smtpd_tls_chain_files` with an RSA and an ECDSA key).
   */
  readonly sigalgs?: string;
}

export const SIGALGS = {
  ecdsa: 'ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512',
  rsa: 'RSA-PSS+SHA256:RSA-PSS+SHA384:RSA-PSS+SHA512:RSA+SHA256:RSA+SHA384:RSA+SHA512',
} as const;

export interface PresentedChain {
  /** Leaf first, as sent by the server. */
  readonly certs: readonly X509Certificate[];
  readonly protocol: string | null;
  readonly cipher: string;
}

/** Reads one complete SMTP reply (multi-line `250-…` until `250 …`), bounded in size. */
function readReply(socket: Socket, timeoutMs: number): Promise<{ code: number; lines: string[] }> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const done = (err?: Error, value?: { code: number; lines: string[] }): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve(value!);
    };
    const onData = (chunk: Buffer): void => {
      buf += chunk.toString('latin1');
      if (buf.length > 64 * 1024) return done(new Error('SMTP reply longer than 64 KiB'));
      const lines = buf.split('\r\n');
      lines.pop();
      const last = lines.at(-1);
      if (last && /^\d{3} /.test(last)) {
        socket.pause();
        done(undefined, { code: Number(last.slice(0, 3)), lines });
      }
    };
    const onError = (err: Error): void => done(err);
    const onClose = (): void => done(new Error('connection closed during the SMTP dialogue'));
    const timer = setTimeout(() => done(new Error(`no SMTP reply within ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', onData);
    socket.once('error', onError);
    socket.once('close', onClose);
    socket.resume();
  });
}

async function smtpStartTls(socket: Socket, target: ProbeTarget, timeoutMs: number): Promise<void> {
  const greeting = await readReply(socket, timeoutMs);
  if (greeting.code !== 220) throw new DaneError('STARTTLS_REFUSED', `${target.host}: greeting ${greeting.lines.join(' | ')}`, { host: target.host });
  socket.write(`EHLO ${target.ehlo ?? 'mailanchor.invalid'}\r\n`);
  const ehlo = await readReply(socket, timeoutMs);
  if (ehlo.code !== 250) throw new DaneError('STARTTLS_REFUSED', `${target.host}: EHLO answered ${ehlo.lines.join(' | ')}`, { host: target.host });
  if (!ehlo.lines.some((l) => /^250[ -]STARTTLS\b/i.test(l))) throw new DaneError('STARTTLS_REFUSED', `${target.host}: STARTTLS not offered`, { host: target.host });
  socket.write('STARTTLS\r\n');
  const go = await readReply(socket, timeoutMs);
  if (go.code !== 220) throw new DaneError('STARTTLS_REFUSED', `${target.host}: STARTTLS answered ${go.lines.join(' | ')}`, { host: target.host });
}

function chainOf(tls: TLSSocket): X509Certificate[] {
  // getPeerCertificate(true) links issuerCertificate through what the server sent (and
  // self-references at a root); walk it without repeating a certificate. Asked before
  // getPeerX509Certificate(): in Node 24 the detailed chain comes back empty otherwise.
  let cur = tls.getPeerCertificate(true);
  const leaf = tls.getPeerX509Certificate();
  if (!leaf) return [];
  const out = [leaf];
  const seen = new Set<string>([leaf.fingerprint256]);
  while (cur && cur.issuerCertificate && cur.issuerCertificate !== cur) {
    cur = cur.issuerCertificate;
    if (!cur.raw) break;
    const x = new X509Certificate(cur.raw);
    if (seen.has(x.fingerprint256)) break;
    seen.add(x.fingerprint256);
    out.push(x);
  }
  return out;
}

export async function fetchPresentedChain(target: ProbeTarget): Promise<PresentedChain> {
  const timeoutMs = target.timeoutMs ?? 10_000;
  const address = target.address ?? target.host;
  const socket = netConnect({ host: address, port: target.port });
  socket.setTimeout(timeoutMs);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
      socket.once('timeout', () => reject(new Error(`connect timed out after ${timeoutMs} ms`)));
    });
    if (target.starttls === 'smtp') await smtpStartTls(socket, target, timeoutMs);
    const tls = tlsConnect({ socket, servername: target.host.replace(/\.$/, ''), rejectUnauthorized: false, ...(target.sigalgs ? { sigalgs: target.sigalgs } : {}) });
    await new Promise<void>((resolve, reject) => {
      tls.once('secureConnect', resolve);
      tls.once('error', reject);
    });
    const chain = { certs: chainOf(tls), protocol: tls.getProtocol(), cipher: tls.getCipher().name };
    if (target.starttls === 'smtp') tls.write('QUIT\r\n');
    tls.end();
    tls.destroy();
    return chain;
  } catch (err) {
    if (err instanceof DaneError) throw err;
    throw new DaneError('UNREACHABLE', `${address}:${target.port}: ${(err as Error).message}`, { host: target.host, address, port: target.port }, { cause: err });
  } finally {
    socket.destroy();
  }
}
