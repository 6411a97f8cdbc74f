/**
 * DNS types shared by every caller: the mail-auth resolver adapter, the keystore's
 * publication check, the DANE check and the DMARC report destination check.
 *
 * Verdicts as values: NOERROR with no records (NODATA) and NXDOMAIN are answers, not
 * errors. Only failures that mean "we do not know" (SERVFAIL, REFUSED, timeout, network,
 * malformed reply) reject, with a `DnsError`; callers map those to temperror.
 */
import { MailanchorError } from '../errors.ts';

export type RRType = 'A' | 'AAAA' | 'TXT' | 'MX' | 'PTR' | 'CNAME' | 'NS' | 'SOA' | 'TLSA' | 'DS' | 'DNSKEY';

export interface MxRecord {
  readonly exchange: string;
  readonly priority: number;
}
export interface SoaRecord {
  readonly mname: string;
  readonly rname: string;
  readonly serial: number;
  readonly refresh: number;
  readonly retry: number;
  readonly expire: number;
  readonly minimum: number;
}
export interface TlsaRecord {
  readonly usage: number;
  readonly selector: number;
  readonly matchingType: number;
  readonly data: Buffer;
}

/** Record data by type. TXT is the list of character-strings of one record. */
export interface RecordDataByType {
  A: string;
  AAAA: string;
  TXT: readonly string[];
  MX: MxRecord;
  PTR: string;
  CNAME: string;
  NS: string;
  SOA: SoaRecord;
  TLSA: TlsaRecord;
  DS: Buffer; // raw RDATA
  DNSKEY: Buffer; // raw RDATA
}

export type DnsRcode = 'NOERROR' | 'NXDOMAIN';

export interface DnsAnswer<T extends RRType = RRType> {
  /** The name asked for (lower case, no trailing dot). */
  readonly name: string;
  readonly type: T;
  readonly rcode: DnsRcode;
  /** Records of `type` for `name`, after following any CNAME chain in the answer. */
  readonly records: readonly RecordDataByType[T][];
  /** Smallest TTL of the records (or the negative-caching TTL from the SOA, RFC 2308). */
  readonly ttl: number;
  /** The AD bit: the (validating) resolver vouches the answer is DNSSEC-validated. */
  readonly authenticated: boolean;
  /** The AA bit: the server is authoritative for the name (direct queries to authoritative servers). */
  readonly authoritative: boolean;
  /** CNAME owners followed to reach the records, in order (empty when none). */
  readonly cnameChain: readonly string[];
  /**
   * The name the records belong to: the last CNAME target (or `name` when there is no
   * chain). Lets a caller see where a chain leads when the target is served elsewhere
   * (e.g. an authoritative server answering only the CNAME). Optional so hand-made
   * answers in fakes need not set it; `queryServer` and the resolver always do.
   */
  readonly canonicalName?: string;
}

export type DnsErrorCode =
  | 'SERVFAIL'
  | 'REFUSED'
  | 'FORMERR'
  | 'NOTIMP'
  | 'TIMEOUT'
  | 'NETWORK'
  | 'MALFORMED'
  | 'NOTAUTH'
  | 'OTHER'
  // Added for the caller's AbortSignal (the caller gave up; not a server fault).
  | 'ABORTED'
  // A per-message DNS budget (time or query count, src/auth/dns-budget.ts) is spent.
  | 'BUDGET'
  // RFC 2136 §2.2 prerequisite failures of a dynamic UPDATE.
  | 'YXDOMAIN'
  | 'YXRRSET'
  | 'NXRRSET'
  | 'NOTZONE'
  // RFC 8945 §5.2 TSIG errors (from the server's TSIG error field, or our check of its reply).
  | 'BADSIG'
  | 'BADKEY'
  | 'BADTIME';

export class DnsError extends MailanchorError<DnsErrorCode> {}

/** A DNS server to talk to: `HOST[:PORT]`, IPv6 as `[::1]:5353`. */
export interface DnsServer {
  readonly host: string;
  readonly port: number;
}

export interface QueryOptions {
  /** Ask for DNSSEC data (DO bit) and report the AD bit. */
  readonly dnssec?: boolean;
  readonly signal?: AbortSignal;
}

/** A caching recursive-side lookup, as the milter and the CLI use it. */
export interface DnsLookup {
  query<T extends RRType>(name: string, type: T, options?: QueryOptions): Promise<DnsAnswer<T>>;
}
