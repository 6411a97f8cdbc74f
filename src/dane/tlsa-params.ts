/**
 * TLSA parameters (RFC 6698 §2.1, names from the IANA registry as RFC 7218 gives them)
 * and the owner name `_port._proto.host.` (RFC 6698 §3).
 */
export const TLSA_USAGE = { PKIX_TA: 0, PKIX_EE: 1, DANE_TA: 2, DANE_EE: 3 } as const;
export const TLSA_SELECTOR = { CERT: 0, SPKI: 1 } as const;
export const TLSA_MATCHING = { FULL: 0, SHA2_256: 1, SHA2_512: 2 } as const;

export type TlsaUsage = (typeof TLSA_USAGE)[keyof typeof TLSA_USAGE];
export type TlsaSelector = (typeof TLSA_SELECTOR)[keyof typeof TLSA_SELECTOR];
export type TlsaMatching = (typeof TLSA_MATCHING)[keyof typeof TLSA_MATCHING];

export const USAGE_NAMES: Record<number, string> = { 0: 'PKIX-TA', 1: 'PKIX-EE', 2: 'DANE-TA', 3: 'DANE-EE' };
export const SELECTOR_NAMES: Record<number, string> = { 0: 'Cert', 1: 'SPKI' };
export const MATCHING_NAMES: Record<number, string> = { 0: 'Full', 1: 'SHA2-256', 2: 'SHA2-512' };

export const isUsage = (n: number): n is TlsaUsage => n === 0 || n === 1 || n === 2 || n === 3;
export const isSelector = (n: number): n is TlsaSelector => n === 0 || n === 1;
export const isMatching = (n: number): n is TlsaMatching => n === 0 || n === 1 || n === 2;

/** One TLSA record: what the zone holds. `data` is the certificate association data. */
export interface Tlsa {
  readonly usage: number;
  readonly selector: number;
  readonly matchingType: number;
  readonly data: Buffer;
}

export type TlsaProto = 'tcp' | 'udp' | 'sctp';

/** `_25._tcp.mx.example.org.` — absolute, lower case. */
export function tlsaOwner(host: string, port: number, proto: TlsaProto = 'tcp'): string {
  const h = host.toLowerCase().replace(/\.+$/, '');
  return `_${port}._${proto}.${h}.`;
}

/** `3 1 1 ab…` — the presentation form of the RDATA (hex lower case, RFC 6698 §2.2). */
export function tlsaText(r: Tlsa): string {
  return `${r.usage} ${r.selector} ${r.matchingType} ${r.data.toString('hex')}`;
}

export const sameTlsa = (a: Tlsa, b: Tlsa): boolean =>
  a.usage === b.usage && a.selector === b.selector && a.matchingType === b.matchingType && a.data.equals(b.data);
