/**
 * Test and bench only (mailauth is an oracle here, not part of the product).
 * Adapts a `DnsLookup` (our caching resolver) to mailauth 7's resolver contract:
 * `async (name, rrtype) => answer` shaped like `dns.promises.resolve` — TXT → string[][],
 * MX → { exchange, priority }[], A/AAAA/PTR/CNAME/NS → string[] — and errors whose `code`
 * is what `node:dns` would use (see /work/shared/notes/mailauth-7.md):
 *
 * - NXDOMAIN → ENOTFOUND, NODATA → ENODATA: "no record" (DKIM "no key", SPF void lookup,
 *   DMARC keeps walking the tree);
 * - anything else (ETIMEOUT, ESERVFAIL, EREFUSED …) → mailauth's temperror.
 */
import { MailanchorError } from '../../src/errors.ts';
import { DnsError, type DnsErrorCode, type DnsLookup, type MxRecord, type RRType } from '../../src/dns/types.ts';

/** The `node:dns` error codes mailauth distinguishes. */
export type NodeDnsCode = 'ENOTFOUND' | 'ENODATA' | 'ETIMEOUT' | 'ESERVFAIL' | 'EREFUSED' | 'EFORMERR' | 'ENOTIMP' | 'ECONNREFUSED' | 'EBADRESP' | 'ECANCELLED' | 'EBADNAME';

/** What the adapter rejects with; `code` is read by mailauth, `cause` keeps our DnsError. */
export class MailauthDnsError extends MailanchorError<NodeDnsCode> {
  readonly hostname: string;
  constructor(code: NodeDnsCode, hostname: string, rrtype: string, options: { cause?: unknown } = {}) {
    super(code, `query${rrtype[0]}${rrtype.slice(1).toLowerCase()} ${code} ${hostname}`, { hostname, rrtype }, options);
    this.hostname = hostname;
  }
}

const CODE_MAP: Record<DnsErrorCode, NodeDnsCode> = {
  TIMEOUT: 'ETIMEOUT',
  SERVFAIL: 'ESERVFAIL',
  REFUSED: 'EREFUSED',
  FORMERR: 'EFORMERR',
  NOTIMP: 'ENOTIMP',
  NETWORK: 'ECONNREFUSED',
  MALFORMED: 'EBADRESP',
  ABORTED: 'ECANCELLED',
  BUDGET: 'ETIMEOUT',
  NOTAUTH: 'ESERVFAIL',
  OTHER: 'ESERVFAIL',
  YXDOMAIN: 'ESERVFAIL',
  YXRRSET: 'ESERVFAIL',
  NXRRSET: 'ESERVFAIL',
  NOTZONE: 'ESERVFAIL',
  BADSIG: 'ESERVFAIL',
  BADKEY: 'ESERVFAIL',
  BADTIME: 'ESERVFAIL',
};

const SUPPORTED = new Set<string>(['A', 'AAAA', 'TXT', 'MX', 'PTR', 'CNAME', 'NS']);

export type MailauthResolver = (name: string, rrtype?: string) => Promise<string[] | string[][] | MxRecord[]>;

/**
 * NXDOMAIN/NODATA is an answer, not a fault: mailauth gets several per message (DMARC tree
 * walk, SPF void lookups), so these errors are made without a stack trace, whose capture
 * showed in the profile.
 */
function noData(code: 'ENOTFOUND' | 'ENODATA', name: string, type: string): MailauthDnsError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new MailauthDnsError(code, name, type);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** The resolver function to pass as mailauth's `resolver` option. */
export function mailauthResolver(lookup: DnsLookup, options: { signal?: AbortSignal } = {}): MailauthResolver {
  return async (name, rrtype = 'A') => {
    const type = rrtype.toUpperCase();
    if (!SUPPORTED.has(type)) throw new MailauthDnsError('ENOTIMP', name, type);
    let answer;
    try {
      answer = await lookup.query(name, type as RRType, options.signal ? { signal: options.signal } : {});
    } catch (err) {
      if (err instanceof DnsError) throw new MailauthDnsError(err.code === 'MALFORMED' && /invalid domain name/.test(err.message) ? 'EBADNAME' : CODE_MAP[err.code], name, type, { cause: err });
      throw new MailauthDnsError('ESERVFAIL', name, type, { cause: err });
    }
    if (answer.records.length === 0) throw noData(answer.rcode === 'NXDOMAIN' ? 'ENOTFOUND' : 'ENODATA', name, type);
    switch (type) {
      case 'TXT':
        return (answer.records as readonly (readonly string[])[]).map((r) => [...r]);
      case 'MX':
        return (answer.records as readonly MxRecord[]).map((r) => ({ exchange: r.exchange, priority: r.priority }));
      default:
        return [...(answer.records as readonly string[])];
    }
  };
}
