/**
 * Warnings for records that cannot work as intended. Pure: records in, findings out.
 *
 * - usages 0/1 on port 25: SMTP DANE clients (Postfix, RFC 7672 §3.1.3) ignore PKIX
 *   usages; with only those the server is treated as having no usable TLSA records.
 * - `3 0 1` (selector 0 on the leaf): the record changes with every certificate, even
 *   when the key is kept, so every renewal is a rollover (RFC 7671 §8.1).
 * - a chain the server presents (RSA and ECDSA side by side, Postfix
 *   `smtpd_tls_chain_files`) that no record matches: clients that negotiate that chain fail.
 * - no rollover scheme: a single `3 x x` and neither a `2 x x` nor a second key
 *   (RFC 7671 §8.1, what internet.nl flags).
 */
import type { X509Certificate } from 'node:crypto';
import { matchChain } from './match.ts';
import type { Tlsa } from './tlsa-params.ts';

export type LintCode = 'PKIX_USAGE_ON_SMTP' | 'FULL_CERT_LEAF' | 'CHAIN_NOT_COVERED' | 'NO_ROLLOVER_SCHEME' | 'EXACT_MATCH_DATA';

export interface LintFinding {
  readonly code: LintCode;
  readonly message: string;
}

export interface LintInput {
  readonly port: number;
  readonly records: readonly Tlsa[];
  /** Every chain the server presents (leaf first), e.g. one RSA and one ECDSA. */
  readonly chains?: readonly { readonly file: string; readonly certs: readonly X509Certificate[] }[];
  /** Host name the chains are checked against for `2 x x` records. */
  readonly host?: string;
  readonly now?: number;
}

export function lintRecords(input: LintInput): LintFinding[] {
  const out: LintFinding[] = [];
  const { records } = input;
  const smtp = input.port === 25 || input.port === 465 || input.port === 587;
  for (const r of records) {
    const rr = `${r.usage} ${r.selector} ${r.matchingType}`;
    if (smtp && (r.usage === 0 || r.usage === 1)) {
      out.push({ code: 'PKIX_USAGE_ON_SMTP', message: `${rr}: usage ${r.usage} (PKIX) is ignored by SMTP DANE clients such as Postfix (RFC 7672 §3.1.3); use 3 1 1 and 2 1 1` });
    }
    if ((r.usage === 3 || r.usage === 1) && r.selector === 0) {
      out.push({ code: 'FULL_CERT_LEAF', message: `${rr}: pins the whole leaf certificate, so it breaks at every renewal even when the key is kept; prefer ${r.usage} 1 1` });
    }
    if (r.matchingType === 0) {
      out.push({ code: 'EXACT_MATCH_DATA', message: `${rr}: full data instead of a digest makes large RRsets (RFC 7671 §9 advises SHA2-256)` });
    }
  }
  const daneEe = records.filter((r) => r.usage === 3);
  const daneTa = records.filter((r) => r.usage === 2);
  const distinctEe = new Set(daneEe.map((r) => r.data.toString('hex')));
  if (daneEe.length > 0 && daneTa.length === 0 && distinctEe.size <= Math.max(1, input.chains?.length ?? 1)) {
    out.push({ code: 'NO_ROLLOVER_SCHEME', message: 'only one 3 x x record per chain, no 2 x x and no next key: the next key change needs a rollover done by hand (RFC 7671 §8.1); publish 2 1 1 for the issuer or a 3 1 1 for the next key' });
  }
  for (const chain of input.chains ?? []) {
    const result = matchChain(records, chain.certs, { host: input.host, now: input.now ?? Date.now(), smtp });
    if (!result.matched) {
      out.push({ code: 'CHAIN_NOT_COVERED', message: `${chain.file}: no record matches this chain (${chain.certs[0]?.publicKey.asymmetricKeyType ?? '?'} key); clients that negotiate it will fail DANE` });
    }
  }
  return out;
}
