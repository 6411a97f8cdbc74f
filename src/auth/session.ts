/**
 * One message through the engine, fed by the milter stages as they arrive:
 *
 *   const m = new MessageAuthenticator(engine, { ip, helo, mailFrom }); // MAIL FROM: SPF starts
 *   m.header(field) …                                                 // each header field
 *   m.endOfHeaders({ sealBodyHash })   // DKIM/ARC key lookups, the DMARC tree walks start
 *   m.body(chunk) …                    // body hashes as chunks arrive (one per distinct c=/l=)
 *   const result = await m.finish(iprev);
 *
 * Every check starts at the earliest stage it can (SPF is complete at MAIL FROM; DKIM and
 * ARC keys and the DMARC record are known at end of headers) and all DNS work of the message
 * goes through one budgeted view of the shared resolver (`dns-budget.ts`), so a sender can
 * neither hold the session for minutes nor make us send hundreds of queries. Nothing throws
 * out of `finish()`: the checks return typed verdicts, a DNS failure is a temperror.
 */
import type { DnsLookup } from '../dns/types.ts';
import { authorsOf, hasSeveralAuthors, type Authors } from '../mail/author.ts';
import type { HeaderField } from '../mail/header.ts';
import { ArcVerifier } from './arc/verify.ts';
import { ARC_SEAL_BODY_HASH } from './arc/seal.ts';
import { budgetedLookup, type BudgetedLookup, type DnsBudget } from './dns-budget.ts';
import { BodyHashSet, type BodyHashHandle } from './dkim/body-hash.ts';
import type { KeyParseCache } from './dkim/key-lookup.ts';
import { DkimVerifier } from './dkim/verify.ts';
import { DmarcDiscovery } from './dmarc/discovery.ts';
import type { DmarcOptions } from './dmarc/evaluate.ts';
import type { ArcCheck, DkimSignatureCheck, IprevCheck, MessageAuthentication, SpfCheck } from './results.ts';
import { checkSpf, type SpfLimits } from './spf/check.ts';

/** Process-wide: what every message shares. */
export interface Engine {
  /** The shared caching resolver; each message sees it through its own budget. */
  readonly dns: DnsLookup;
  readonly keyCache: KeyParseCache;
  readonly now: () => number;
  readonly budget: DnsBudget;
  readonly spfLimits: SpfLimits;
  readonly minKeyBits: number;
  readonly maxSignatures: number;
  /** Verify ARC chains (`inbound.arc`). */
  readonly arc: boolean;
  readonly dmarc: DmarcOptions;
  /** Our host name, for SPF's %{r}. */
  readonly receiver: string;
}

export interface Envelope {
  /** The SMTP client; undefined when Postfix reports none (then SPF is not checked). */
  readonly ip: string | undefined;
  readonly helo: string;
  /** MAIL FROM without brackets; '' for the null sender. */
  readonly mailFrom: string;
}

export interface MessageResult extends MessageAuthentication {
  readonly authors: Authors;
  /** SHA-256 of the relaxed canonical body, when `endOfHeaders({ sealBodyHash: true })` asked for it (ARC sealing). */
  readonly sealBodyHash?: Buffer;
  /** The header fields as received (for ARC sealing). */
  readonly headers: readonly HeaderField[];
  /** DNS lookups the message caused, and which budget ran out. */
  readonly dns: BudgetedLookup['spent'];
}

/** A header block larger than this is not kept for verification (Postfix's header_size_limit is 100 KiB per field). */
export const MAX_HEADER_BYTES = 2 * 1024 * 1024;
export const MAX_HEADER_FIELDS = 2000;

export class MessageAuthenticator {
  readonly #engine: Engine;
  readonly #envelope: Envelope;
  readonly #dns: BudgetedLookup;
  readonly #signal: AbortSignal | undefined;
  readonly #spf: Promise<SpfCheck> | undefined;
  readonly #headers: HeaderField[] = [];
  #headerBytes = 0;
  #headersOverLimit = false;
  #bodyHashes: BodyHashSet | undefined;
  #sealHash: BodyHashHandle | undefined;
  #dkim: DkimVerifier | undefined;
  #arc: ArcVerifier | undefined;
  #discovery: DmarcDiscovery | undefined;
  #authors: Authors | undefined;
  #done = false;

  constructor(engine: Engine, envelope: Envelope, options: { readonly signal?: AbortSignal } = {}) {
    this.#engine = engine;
    this.#envelope = envelope;
    this.#signal = options.signal;
    this.#dns = budgetedLookup(engine.dns, engine.budget, options.signal ? { signal: options.signal } : {});
    // SPF is fully determined by the envelope: evaluate it once, now, while the message comes.
    this.#spf = envelope.ip === undefined
      ? undefined
      : checkSpf(
          { ip: envelope.ip, mailFrom: envelope.mailFrom, helo: envelope.helo, receiver: engine.receiver },
          { dns: this.#dns, now: engine.now, limits: engine.spfLimits, ...(options.signal ? { signal: options.signal } : {}) },
        );
  }

  header(field: HeaderField): void {
    if (this.#headersOverLimit) return;
    this.#headerBytes += field.name.length + field.value.length + 3;
    if (this.#headerBytes > MAX_HEADER_BYTES || this.#headers.length >= MAX_HEADER_FIELDS) {
      this.#headersOverLimit = true;
      return;
    }
    this.#headers.push(field);
  }

  endOfHeaders(options: { readonly sealBodyHash?: boolean } = {}): void {
    if (this.#bodyHashes) return;
    const e = this.#engine;
    const bodyHashes = new BodyHashSet();
    this.#bodyHashes = bodyHashes;
    this.#authors = authorsOf(this.#headers);
    const common = { dns: this.#dns, keyCache: e.keyCache, now: e.now, minKeyBits: e.minKeyBits, ...(this.#signal ? { signal: this.#signal } : {}) };
    if (!this.#headersOverLimit) {
      this.#dkim = new DkimVerifier({ ...common, maxSignatures: e.maxSignatures });
      this.#dkim.start(this.#headers, bodyHashes);
      if (e.arc) {
        this.#arc = new ArcVerifier(common);
        this.#arc.start(this.#headers, bodyHashes);
      }
    }
    if (options.sealBodyHash) this.#sealHash = bodyHashes.request(ARC_SEAL_BODY_HASH);
    // The policy record and the organizational domains of every identifier that may align.
    this.#discovery = new DmarcDiscovery(this.#dns, this.#signal ? { signal: this.#signal } : {});
    if (this.#authors.ok) {
      const identifiers: string[] = [];
      const spfDomain = this.#envelope.mailFrom.includes('@') ? this.#envelope.mailFrom.slice(this.#envelope.mailFrom.lastIndexOf('@') + 1) : this.#envelope.helo;
      if (spfDomain) identifiers.push(spfDomain);
      identifiers.push(...(this.#dkim?.signingDomains ?? []));
      this.#discovery.prefetch(this.#authors.domains.slice(0, 5), identifiers);
    }
  }

  body(chunk: Buffer): void {
    const set = this.#bodyHashes;
    if (set && !set.empty) set.write(chunk);
  }

  async finish(iprev?: Promise<IprevCheck | undefined>): Promise<MessageResult> {
    if (!this.#bodyHashes) this.endOfHeaders();
    const set = this.#bodyHashes!;
    set.end();
    const [spf, dkimChecks, arc, ip] = await Promise.all([
      this.#spf,
      this.#dkim ? this.#dkim.finish() : Promise.resolve<DkimSignatureCheck[]>(this.#headersOverLimit ? [overLimit()] : []),
      this.#arc ? this.#arc.finish() : Promise.resolve<ArcCheck | undefined>(undefined),
      iprev,
    ]);
    const authors = this.#authors!;
    const dkimSkipped = this.#dkim?.skipped ?? 0;
    const dmarc = await this.#discovery!.check({ authors, ...(spf ? { spf } : {}), dkim: dkimChecks, dkimSkipped }, this.#engine.dmarc);
    this.dispose();
    return {
      ...(spf ? { spf } : {}),
      dkim: dkimChecks,
      dkimSkipped,
      ...(arc ? { arc } : {}),
      dmarc,
      ...(ip ? { iprev: ip } : {}),
      authors,
      ...(this.#sealHash ? { sealBodyHash: set.result(this.#sealHash).digest } : {}),
      headers: this.#headers,
      dns: this.#dns.spent,
    };
  }

  /** Several From authors or From fields (for the policy step). */
  get severalAuthors(): boolean {
    return this.#authors !== undefined && hasSeveralAuthors(this.#authors);
  }

  /** The message is over (aborted or finished): no more lookups, timers cleared. */
  dispose(): void {
    if (this.#done) return;
    this.#done = true;
    this.#dns.dispose();
  }
}

function overLimit(): DkimSignatureCheck {
  return { result: 'permerror', reason: `header block over ${MAX_HEADER_BYTES} bytes or ${MAX_HEADER_FIELDS} fields: not verified`, partialBody: false, testing: false };
}
