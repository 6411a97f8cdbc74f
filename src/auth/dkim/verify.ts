/**
 * The streaming DKIM verifier (RFC 6376 §6; RFC 8301; Ed25519 per RFC 8463), one per message,
 * driven by the milter stages:
 *
 *   const v = new DkimVerifier({ dns, keyCache, now, minKeyBits, maxSignatures, signal });
 *   v.start(headers, bodyHashes);   // end of headers: parse, key lookups start, hashes registered
 *   bodyHashes.write(chunk) …       // the caller streams the body into the shared set
 *   bodyHashes.end();
 *   const checks = await v.finish(); // one DkimSignatureCheck per verified field, top first
 *
 * Work starts as early as it can: every key lookup is sent at `start()` (in parallel, one per
 * distinct selector and domain), and the header signature is verified the moment its key
 * arrives — the header hash covers bh=, not the body, so only the body-hash comparison is
 * left for end of message. Nothing throws out of `finish()`: every signature gets a definite
 * result, and a DNS failure is temperror, never pass or fail.
 *
 * Order of the checks is RFC 6376 §6.1: the signature (§6.1.1: syntax, version, From signed,
 * i= within d=, x=), then the key (§6.1.2: lookup, revoked, syntax, k=, h=, t=s, and RFC 8301
 * §3.2 key size), then the hashes (§6.1.3: body hash, then the signature).
 */
import { createHash, verify as cryptoVerify } from 'node:crypto';
import type { DnsLookup } from '../../dns/types.ts';
import { fieldsNamed, type HeaderField } from '../../mail/header.ts';
import type { DkimReasonCode, DkimSignatureCheck } from '../results.ts';
import type { BodyHashHandle, BodyHashSet } from './body-hash.ts';
import { headerHashInput, selectSignedFields } from './header-hash.ts';
import type { DkimPublicKey } from './key-record.ts';
import { lookupDkimKey, type KeyLookup, type KeyParseCache } from './key-lookup.ts';
import { parseDkimSignature, type DkimSignature, type SignatureIdentifiers } from './signature.ts';

export interface DkimVerifierOptions {
  /** The per-message budgeted lookup (src/auth/dns-budget.ts). */
  readonly dns: DnsLookup;
  /** Parsed key records, shared by every message of the process. */
  readonly keyCache: KeyParseCache;
  /** Milliseconds since the epoch; x= is judged against it. */
  readonly now: () => number;
  /** `inbound.min_key_bits`: RSA keys below it are `policy` (RFC 8301 §3.2). */
  readonly minKeyBits: number;
  /** `inbound.max_signatures`: fields after the first N are not verified, only counted. */
  readonly maxSignatures: number;
  readonly signal?: AbortSignal;
}

/** What the key phase decided: a final result, or a key whose header signature was checked. */
type KeyOutcome =
  | { readonly kind: 'final'; readonly check: DkimSignatureCheck }
  | { readonly kind: 'checked'; readonly key: DkimPublicKey; readonly headerValid: boolean };

interface Entry {
  /** Decided without the body (unparseable, rsa-sha1, expired). */
  readonly early?: DkimSignatureCheck;
  readonly signature?: DkimSignature;
  readonly bodyHash?: BodyHashHandle;
  readonly keyPhase?: Promise<KeyOutcome>;
}

function describe(sig: DkimSignature): Omit<DkimSignatureCheck, 'result' | 'reason' | 'code'> {
  return {
    domain: sig.domain,
    selector: sig.selector,
    algorithm: sig.algorithm,
    identity: sig.identity,
    signature: sig.signatureText,
    ...(sig.bodyLength === undefined ? {} : { bodyLength: sig.bodyLength }),
    partialBody: false,
    testing: false,
  };
}

function fromSeen(seen: SignatureIdentifiers): Omit<DkimSignatureCheck, 'result' | 'reason' | 'code'> {
  return {
    ...(seen.domain === undefined ? {} : { domain: seen.domain }),
    ...(seen.selector === undefined ? {} : { selector: seen.selector }),
    ...(seen.algorithm === undefined ? {} : { algorithm: seen.algorithm }),
    ...(seen.identity === undefined ? {} : { identity: seen.identity }),
    ...(seen.signatureText === undefined ? {} : { signature: seen.signatureText }),
    partialBody: false,
    testing: false,
  };
}

function check(base: Omit<DkimSignatureCheck, 'result' | 'reason' | 'code'>, result: DkimSignatureCheck['result'], code: DkimReasonCode | undefined, reason: string, extra: Partial<DkimSignatureCheck> = {}): DkimSignatureCheck {
  return { ...base, ...extra, result, ...(code ? { code } : {}), reason };
}

export class DkimVerifier {
  readonly #o: DkimVerifierOptions;
  #entries: Entry[] = [];
  #bodyHashes: BodyHashSet | undefined;
  #skipped = 0;
  #started = false;
  #finished: Promise<DkimSignatureCheck[]> | undefined;

  constructor(options: DkimVerifierOptions) {
    this.#o = options;
  }

  /** d= of the signatures parsed at `start`: DMARC prefetches their organizational domains. */
  get signingDomains(): string[] {
    const out = new Set<string>();
    for (const e of this.#entries) {
      const d = e.signature?.domain ?? e.early?.domain;
      if (d) out.add(d);
    }
    return [...out];
  }

  /** DKIM-Signature fields beyond `maxSignatures`, not verified (known after `start`). */
  get skipped(): number {
    return this.#skipped;
  }

  /**
   * End of headers: parses every DKIM-Signature (up to the cap), registers the body hashes
   * they need in `bodyHashes` (shared with ARC; the caller streams the body into it) and
   * starts all key lookups at once. Call once, before the first body byte.
   */
  start(headers: readonly HeaderField[], bodyHashes: BodyHashSet): void {
    if (this.#started) return;
    this.#started = true;
    this.#bodyHashes = bodyHashes;
    const fields = fieldsNamed(headers, 'DKIM-Signature');
    this.#skipped = Math.max(0, fields.length - this.#o.maxSignatures);
    const lookups = new Map<string, Promise<KeyLookup>>();
    for (const field of fields.slice(0, this.#o.maxSignatures)) {
      try {
        this.#entries.push(this.#prepare(field, headers, bodyHashes, lookups));
      } catch (err) {
        // A bug here must not take the message down or turn into a verdict about the sender.
        this.#entries.push({ early: check({ partialBody: false, testing: false }, 'temperror', 'internal', `internal error: ${(err as Error).message}`) });
      }
    }
  }

  #prepare(field: HeaderField, headers: readonly HeaderField[], bodyHashes: BodyHashSet, lookups: Map<string, Promise<KeyLookup>>): Entry {
    const parsed = parseDkimSignature(field);
    if (!parsed.ok) return { early: check(fromSeen(parsed.seen), 'permerror', parsed.code, parsed.reason) };
    const sig = parsed.signature;
    const base = describe(sig);
    // RFC 8301 §3.1: rsa-sha1 "MUST NOT be used for signing or verifying" — not verified at
    // all, so it can never pass or satisfy DMARC.
    if (sig.hash === 'sha1') return { early: check(base, 'policy', 'weak-algorithm', 'weak algorithm (rsa-sha1, RFC 8301)') };
    // §3.5 x=: "Signatures MAY be considered invalid if the verification time at the Verifier
    // is past the expiration date" — decided before the key lookup, which it saves.
    if (sig.expiration !== undefined && Math.floor(this.#o.now() / 1000) > sig.expiration) return { early: check(base, 'policy', 'expired', `signature expired (x=${sig.expiration})`) };

    const bodyHash = bodyHashes.request({ canon: sig.bodyCanon, ...(sig.bodyLength === undefined ? {} : { limit: sig.bodyLength }) });
    const name = `${sig.selector}._domainkey.${sig.domain}`;
    let lookup = lookups.get(name);
    if (!lookup) {
      lookup = lookupDkimKey(this.#o.dns, sig.selector, sig.domain, { cache: this.#o.keyCache, ...(this.#o.signal ? { signal: this.#o.signal } : {}) }).catch(
        (err: unknown): KeyLookup => ({ kind: 'temperror', reason: `key lookup ${name}: ${(err as Error).message}` }),
      );
      lookups.set(name, lookup);
    }
    const keyPhase = lookup.then(
      (found) => this.#keyPhase(sig, base, found, headers),
      (err: unknown): KeyOutcome => ({ kind: 'final', check: check(base, 'temperror', 'internal', `internal error: ${(err as Error).message}`) }),
    );
    return { signature: sig, bodyHash, keyPhase };
  }

  /** §6.1.2 on the lookup's answer, then the header signature with the first fitting key. */
  #keyPhase(sig: DkimSignature, base: ReturnType<typeof describe>, found: KeyLookup, headers: readonly HeaderField[]): KeyOutcome {
    const final = (result: DkimSignatureCheck['result'], code: DkimReasonCode, reason: string, extra: Partial<DkimSignatureCheck> = {}): KeyOutcome => ({ kind: 'final', check: check(base, result, code, reason, extra) });
    switch (found.kind) {
      case 'temperror':
        return final('temperror', 'key-unavailable', found.reason);
      case 'missing':
        return final('permerror', 'no-key', `no key (${found.reason})`);
      case 'invalid':
        return found.revoked ? final('permerror', 'key-revoked', 'key revoked') : final('permerror', 'key-syntax', found.reason);
      case 'found':
        break;
    }
    const ofType = found.keys.filter((k) => k.type === sig.keyType);
    if (ofType.length === 0) return final('permerror', 'key-algorithm', `inappropriate key algorithm (k=${found.keys[0]!.type} for a=${sig.algorithm})`);
    const forHash = ofType.filter((k) => k.hashes === undefined || k.hashes.includes(sig.hash));
    if (forHash.length === 0) return final('permerror', 'key-hash', `inappropriate hash algorithm (key h=${ofType[0]!.hashes!.join(':')})`);

    let input: Buffer | undefined;
    let firstFailure: KeyOutcome | undefined;
    for (const key of forHash) {
      const keyInfo = { keyBits: key.bits, testing: key.testing };
      let outcome: KeyOutcome;
      if (key.strict && sig.identityDomain !== sig.domain) {
        // §3.6.1 t=s: "the "i=" domain MUST NOT be a subdomain of "d="".
        outcome = final('permerror', 'domain-mismatch', `domain mismatch (key t=s, i= domain ${sig.identityDomain})`, keyInfo);
      } else if (key.type === 'rsa' && key.bits < this.#o.minKeyBits) {
        // RFC 8301 §3.2: "Verifiers MUST NOT consider signatures using RSA keys of less than
        // 1024 bits as valid signatures"; the threshold is configurable upwards.
        outcome = final('policy', 'weak-key', `weak key (${key.bits} bits, at least ${this.#o.minKeyBits} required)`, keyInfo);
      } else {
        input ??= headerHashInput(selectSignedFields(headers, sig.signedHeaders, sig.field), sig.field, sig.headerCanon);
        let valid = false;
        try {
          valid =
            key.type === 'ed25519'
              ? cryptoVerify(null, createHash('sha256').update(input).digest(), key.key, sig.signature) // RFC 8463 §3: Ed25519 over the SHA-256 hash
              : cryptoVerify('sha256', input, key.key, sig.signature); // RSASSA-PKCS1-v1_5 (RFC 8017 §8.2)
        } catch {
          valid = false; // e.g. a b= of the wrong length for the key: it did not verify
        }
        outcome = { kind: 'checked', key, headerValid: valid };
        if (valid) return outcome;
      }
      firstFailure ??= outcome;
    }
    return firstFailure!;
  }

  /**
   * After the body set has ended: the body-hash comparison (§6.1.3) and the verdicts, one per
   * verified DKIM-Signature, top first. Never rejects.
   */
  finish(): Promise<DkimSignatureCheck[]> {
    this.#finished ??= Promise.all(this.#entries.map((e) => this.#final(e)));
    return this.#finished;
  }

  async #final(e: Entry): Promise<DkimSignatureCheck> {
    if (e.early) return e.early;
    const sig = e.signature!;
    const base = describe(sig);
    let outcome: KeyOutcome;
    try {
      outcome = await e.keyPhase!;
    } catch (err) {
      return check(base, 'temperror', 'internal', `internal error: ${(err as Error).message}`);
    }
    if (outcome.kind === 'final') return outcome.check;
    const keyInfo = { keyBits: outcome.key.bits, testing: outcome.key.testing };
    const bodies = this.#bodyHashes;
    if (!bodies?.ended) return check(base, 'temperror', 'internal', 'message ended before its body was hashed', keyInfo);
    const body = bodies.result(e.bodyHash!);
    // §3.5 l=: "This value MUST NOT be larger than the actual number of octets in the
    // canonicalized message body" — the body is shorter than what was signed.
    if (sig.bodyLength !== undefined && sig.bodyLength > body.canonicalLength) {
      return check(base, 'fail', 'body-length', `body hash did not verify (l=${sig.bodyLength} but the body has ${body.canonicalLength} canonical octets)`, keyInfo);
    }
    if (!body.digest.equals(sig.bodyHash)) return check(base, 'fail', 'body-hash', 'body hash did not verify', keyInfo);
    if (!outcome.headerValid) return check(base, 'fail', 'signature', 'signature did not verify', keyInfo);
    // l= shorter than the body: the signature holds for a prefix only; anything after it could
    // have been appended by anyone (§8.2). It passes, and says so: DMARC does not count it.
    const unsigned = sig.bodyLength === undefined ? 0 : body.canonicalLength - sig.bodyLength;
    if (unsigned > 0) return check(base, 'pass', undefined, `l= leaves ${unsigned} body octets unsigned`, { ...keyInfo, partialBody: true });
    return check(base, 'pass', undefined, 'signature verified', keyInfo);
  }
}
