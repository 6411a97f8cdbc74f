/**
 * Fetching an MTA-STS policy the way RFC 8461 §3.3 tells senders to: HTTPS GET
 * `https://mta-sts.<domain>/.well-known/mta-sts.txt`, a certificate valid for that name
 * under the Web PKI (§3.3, RFC 6125), 200 only — "HTTP 3xx redirects MUST NOT be
 * followed" — media type text/plain, and a size limit (64 KB) enforced while reading.
 * Connects to an address the audit resolved itself (the same resolver as every check),
 * with the host name for SNI and the certificate check.
 */
import { request } from 'node:https';
import { rootCertificates, type TLSSocket } from 'node:tls';
import { MAX_POLICY_BYTES } from './mta-sts-policy.ts';

export interface PolicyFetchOptions {
  readonly host: string;
  readonly address: string;
  /** 443 (tests on loopback may not have it). */
  readonly port?: number;
  /** Extra trusted CAs (PEM), added to Node's bundled roots: a private CA, a test CA. */
  readonly extraCa?: readonly string[];
  readonly timeoutMs: number;
}

export type PolicyFetch =
  /** A TLS session was made; status, type and body as received (body only for 200). */
  | {
      readonly kind: 'response';
      readonly certificateError?: string;
      readonly status: number;
      readonly contentType?: string;
      readonly location?: string;
      readonly body?: string;
      readonly tooLarge?: boolean;
    }
  /** No TLS session: DNS, connect, timeout, handshake. */
  | { readonly kind: 'unreachable'; readonly reason: string };

export function fetchPolicy(o: PolicyFetchOptions): Promise<PolicyFetch> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (v: PolicyFetch): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(v);
    };
    const req = request({
      host: o.address,
      servername: o.host,
      port: o.port ?? 443,
      method: 'GET',
      path: '/.well-known/mta-sts.txt',
      headers: { host: o.host, 'user-agent': 'mailanchor-audit', accept: 'text/plain' },
      // Judged below, so an invalid certificate is reported as such, not as "unreachable".
      rejectUnauthorized: false,
      ca: [...rootCertificates, ...(o.extraCa ?? [])],
      agent: false,
    });
    const timer = setTimeout(() => {
      req.destroy(new Error(`no complete response within ${o.timeoutMs} ms`));
    }, o.timeoutMs);
    req.on('error', (err) => done({ kind: 'unreachable', reason: err.message }));
    req.on('response', (res) => {
      const socket = res.socket as TLSSocket;
      const certificateError = socket.authorized ? undefined : String(socket.authorizationError ?? 'certificate not trusted');
      const base = {
        kind: 'response' as const,
        status: res.statusCode ?? 0,
        ...(certificateError ? { certificateError } : {}),
        ...(res.headers['content-type'] ? { contentType: String(res.headers['content-type']) } : {}),
        ...(res.headers.location ? { location: String(res.headers.location) } : {}),
      };
      if (res.statusCode !== 200 || certificateError) {
        res.resume();
        done(base);
        req.destroy();
        return;
      }
      const announced = Number(res.headers['content-length'] ?? 0);
      if (announced > MAX_POLICY_BYTES) {
        done({ ...base, tooLarge: true });
        req.destroy();
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_POLICY_BYTES) {
          done({ ...base, tooLarge: true });
          req.destroy();
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => done({ ...base, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (err) => done({ kind: 'unreachable', reason: err.message }));
    });
    req.end();
  });
}
