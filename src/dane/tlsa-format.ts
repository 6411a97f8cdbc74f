/**
 * Output forms of computed records: zone-file lines (RFC 6698 §2.2), the RFC 3597 §5
 * generic form `TYPE52 \# len hex` (for servers and tools that predate TLSA; hash-slinger
 * prints the same), and JSON for scripts.
 */
import type { ComputedTlsa } from './tlsa-compute.ts';
import { MATCHING_NAMES, SELECTOR_NAMES, tlsaText, USAGE_NAMES, type Tlsa } from './tlsa-params.ts';

export type TlsaFormat = 'zone' | 'generic' | 'json';
export const TLSA_FORMATS = ['zone', 'generic', 'json'] as const satisfies readonly TlsaFormat[];

export const TYPE_TLSA = 52;

export function rdata(r: Tlsa): Buffer {
  return Buffer.concat([Buffer.from([r.usage, r.selector, r.matchingType]), r.data]);
}

export function zoneLine(owner: string, r: Tlsa, ttl?: number): string {
  return `${owner}${ttl === undefined ? '' : ` ${ttl}`} IN TLSA ${tlsaText(r)}`;
}

export function genericLine(owner: string, r: Tlsa, ttl?: number): string {
  const rd = rdata(r);
  return `${owner}${ttl === undefined ? '' : ` ${ttl}`} IN TYPE${TYPE_TLSA} \\# ${rd.length} ${rd.toString('hex')}`;
}

export function formatRecords(owner: string, records: readonly ComputedTlsa[], format: TlsaFormat, ttl?: number): string {
  if (format === 'json') {
    return `${JSON.stringify(
      records.map((r) => ({
        owner,
        ...(ttl === undefined ? {} : { ttl }),
        usage: r.usage,
        selector: r.selector,
        matchingType: r.matchingType,
        data: r.data.toString('hex'),
        mnemonic: `${USAGE_NAMES[r.usage]} ${SELECTOR_NAMES[r.selector]} ${MATCHING_NAMES[r.matchingType]}`,
        file: r.file,
        subject: r.subject,
        depth: r.depth,
      })),
      null,
      2,
    )}\n`;
  }
  const line = format === 'zone' ? zoneLine : genericLine;
  return records.map((r) => `${line(owner, r, ttl)}\n`).join('');
}
