/**
 * ARC chain validation (RFC 8617 §5.2) as a per-message streaming verifier, shaped like the
 * DKIM verifier: `start()` at end of headers parses the chain, registers the AMS body hashes
 * in the message's shared `BodyHashSet` and starts every key lookup at once (in parallel,
 * deduplicated); `finish()` after the body set has ended checks the signatures.
 *
 * Decisions (docs/inbound.md "ARC"):
 * - no ARC header field → `none`; structure broken (§5.2 steps 1–3) → `fail`, no DNS;
 * - a key lookup that fails for DNS reasons (timeout, SERVFAIL, budget spent) → `temperror`:
 *   we do not know, so it is neither pass nor fail — unless a check that needed no
 *   unknown key already failed, which decides `fail`;
 * - no key (NXDOMAIN/NODATA), a revoked or unusable key, a key below `minKeyBits` → `fail`;
 * - a chain that needs more than MAX_ARC_KEYS distinct keys → `fail` without lookups;
 * - oldest-pass (§5.2 step 5): the lowest instance k such that the AMS of k and of every
 *   newer instance validate;
 * - an AMS whose `l=` leaves body octets unsigned does not validate (content could have
 *   been appended after the sealer signed), nor does one whose `x=` has passed.
 * Nothing throws out of `finish()`: an unexpected internal error is `temperror`.
 */
import { verify as verifySignature } from 'node:crypto';
import type { DnsLookup } from '../../dns/types.ts';
import type { HeaderField } from '../../mail/header.ts';
import type { ArcCheck } from '../results.ts';
import type { BodyHashHandle, BodyHashSet } from '../dkim/body-hash.ts';
import { headerHashInput, selectSignedFields } from '../dkim/header-hash.ts';
import { lookupDkimKey, type KeyLookup, type KeyParseCache } from '../dkim/key-lookup.ts';
import { collectArcChain, type ArcSet } from './chain.ts';
import type { ArcMessageSignature } from './message-signature-field.ts';
import { sealHashInput } from './seal-hash.ts';

export interface ArcVerifierOptions {
  /** The per-message budgeted lookup (src/auth/dns-budget.ts). */
  readonly dns: DnsLookup;
  readonly keyCache: KeyParseCache;
  /** ms since the epoch; for `x=` on an AMS. */
  readonly now: () => number;
  /** RFC 8301 §3.2: smaller RSA keys do not validate. */
  readonly minKeyBits: number;
  readonly signal?: AbortSignal;
}

type Outcome = { readonly result: 'pass' } | { readonly result: 'fail' | 'temperror'; readonly reason: string };

interface Pending {
  readonly headers: readonly HeaderField[];
  readonly sets: readonly ArcSet[];
  readonly bodyHashes: BodyHashSet;
  readonly bodyHandles: ReadonlyMap<number, BodyHashHandle>;
  readonly keys: ReadonlyMap<string, Promise<KeyLookup>>;
}

const keyName = (selector: string, domain: string): string => `${selector}._domainkey.${domain}`;

/**
 * Distinct keys one chain may make us look up. RFC 8617 sets no bound; a chain of 50 sets
 * with a new domain each would cost 100 queries and spend the per-message DNS budget that
 * SPF, DKIM and DMARC share. Real chains use one key per hop and have few hops; a chain
 * that needs more keys than this is not validated (fail, with the reason).
 */
export const MAX_ARC_KEYS = 10;

function unsealed(result: 'none' | 'fail' | 'temperror', instances: number, reason: string): ArcCheck {
  return { result, instances, sealers: [], hopResults: [], reason };
}

export class ArcVerifier {
  readonly #options: ArcVerifierOptions;
  #state: { readonly kind: 'idle' } | { readonly kind: 'decided'; readonly check: ArcCheck } | ({ readonly kind: 'pending' } & Pending) = { kind: 'idle' };

  constructor(options: ArcVerifierOptions) {
    this.#options = options;
  }

  /** At end of headers: parse the chain, register AMS body hashes, start key lookups. */
  start(headers: readonly HeaderField[], bodyHashes: BodyHashSet): void {
    if (this.#state.kind !== 'idle') {
      this.#state = { kind: 'decided', check: unsealed('temperror', 0, 'ARC verifier started twice') };
      return;
    }
    try {
      const chain = collectArcChain(headers);
      if (chain.kind === 'none') {
        this.#state = { kind: 'decided', check: unsealed('none', 0, 'no ARC header fields') };
        return;
      }
      if (chain.kind === 'fail') {
        this.#state = { kind: 'decided', check: unsealed('fail', chain.highestInstance, chain.reason) };
        return;
      }
      const needed = new Set(chain.sets.flatMap((set) => [keyName(set.as.value.selector, set.as.value.domain), ...(set.ams.parsed.ok ? [keyName(set.ams.parsed.value.selector, set.ams.parsed.value.domain)] : [])]));
      if (needed.size > MAX_ARC_KEYS) {
        this.#state = { kind: 'decided', check: unsealed('fail', chain.sets.length, `the chain needs ${needed.size} distinct keys (at most ${MAX_ARC_KEYS} are looked up)`) };
        return;
      }
      const bodyHandles = new Map<number, BodyHashHandle>();
      const keys = new Map<string, Promise<KeyLookup>>();
      const lookup = (selector: string, domain: string): void => {
        const name = keyName(selector, domain);
        if (keys.has(name)) return;
        const options = { cache: this.#options.keyCache, ...(this.#options.signal ? { signal: this.#options.signal } : {}) };
        // lookupDkimKey reports DNS failures as values; anything else thrown is ours, and
        // must not become an unhandled rejection if finish() is never called.
        keys.set(name, lookupDkimKey(this.#options.dns, selector, domain, options).catch((err: unknown) => ({ kind: 'temperror', reason: `key lookup ${name}: ${String(err)}` }) as const));
      };
      // Newest first: AMS N and the seals decide the verdict; older AMS only oldest-pass.
      for (const set of [...chain.sets].reverse()) {
        lookup(set.as.value.selector, set.as.value.domain);
        if (set.ams.parsed.ok) {
          const ams = set.ams.parsed.value;
          bodyHandles.set(set.instance, bodyHashes.request({ canon: ams.bodyCanon, ...(ams.bodyLength === undefined ? {} : { limit: ams.bodyLength }) }));
          lookup(ams.selector, ams.domain);
        }
      }
      this.#state = { kind: 'pending', headers, sets: chain.sets, bodyHashes, bodyHandles, keys };
    } catch (err) {
      this.#state = { kind: 'decided', check: unsealed('temperror', 0, `internal error in ARC verification: ${(err as Error).message}`) };
    }
  }

  /** After the body set has ended. Never rejects. */
  async finish(): Promise<ArcCheck> {
    const state = this.#state;
    if (state.kind === 'idle') return unsealed('temperror', 0, 'ARC verifier finished before it started');
    if (state.kind === 'decided') return state.check;
    try {
      return await this.#validate(state);
    } catch (err) {
      return unsealed('temperror', state.sets.length, `internal error in ARC verification: ${(err as Error).message}`);
    }
  }

  async #validate(p: Pending): Promise<ArcCheck> {
    const n = p.sets.length;
    // §5.2 step 4: the newest AMS; step 6: every seal, newest first. The first definite
    // failure decides `fail`; a check that could not be made (DNS) only decides
    // `temperror` when nothing failed.
    let unknown: string | undefined;
    const checks: [string, () => Promise<Outcome>][] = [[`AMS i=${n}`, () => this.#verifyAms(p, p.sets[n - 1]!)]];
    for (let k = n - 1; k >= 0; k--) checks.push([`AS i=${k + 1}`, () => this.#verifySeal(p, k)]);
    for (const [what, check] of checks) {
      const outcome = await check();
      if (outcome.result === 'fail') return unsealed('fail', n, `${what}: ${outcome.reason}`);
      if (outcome.result === 'temperror') unknown ??= `${what}: ${outcome.reason}`;
    }
    if (unknown) return unsealed('temperror', n, unknown);
    // §5.2 step 5: oldest-pass, walking down from N-1 until an AMS does not validate.
    let oldestPass = n;
    for (let k = n - 2; k >= 0; k--) {
      if ((await this.#verifyAms(p, p.sets[k]!)).result !== 'pass') break;
      oldestPass = k + 1;
    }
    return {
      result: 'pass',
      instances: n,
      oldestPass,
      sealers: p.sets.map((s) => s.as.value.domain),
      hopResults: p.sets.map((s) => s.aar.value.payload),
      reason: `${n} ARC Set${n === 1 ? '' : 's'} verified, oldest-pass=${oldestPass}`,
    };
  }

  async #verifyAms(p: Pending, set: ArcSet): Promise<Outcome> {
    if (!set.ams.parsed.ok) return { result: 'fail', reason: set.ams.parsed.reason };
    const ams: ArcMessageSignature = set.ams.parsed.value;
    if (ams.expires !== undefined && ams.expires * 1000 < this.#options.now()) return { result: 'fail', reason: `signature expired (x=${ams.expires})` };
    const body = p.bodyHashes.result(p.bodyHandles.get(set.instance)!);
    if (ams.bodyLength !== undefined && ams.bodyLength > body.canonicalLength) return { result: 'fail', reason: `l=${ams.bodyLength} is longer than the body (${body.canonicalLength} octets)` };
    if (ams.bodyLength !== undefined && ams.bodyLength < body.canonicalLength) return { result: 'fail', reason: `l=${ams.bodyLength} leaves ${body.canonicalLength - ams.bodyLength} body octets unsigned` };
    if (!body.digest.equals(ams.bodyHash)) return { result: 'fail', reason: 'body hash does not match (bh=)' };
    const data = headerHashInput(selectSignedFields(p.headers, ams.signedHeaders), set.ams.field, ams.headerCanon);
    return this.#checkSignature(await p.keys.get(keyName(ams.selector, ams.domain))!, data, ams.signature);
  }

  async #verifySeal(p: Pending, k: number): Promise<Outcome> {
    const seal = p.sets[k]!.as.value;
    const data = sealHashInput(p.sets.slice(0, k + 1).map((s) => ({ aar: s.aar.field, ams: s.ams.field, as: s.as.field })));
    return this.#checkSignature(await p.keys.get(keyName(seal.selector, seal.domain))!, data, seal.signature);
  }

  /** rsa-sha256 over `data` with any of the published keys (RFC 6376 §6.1.2, RFC 8301). */
  #checkSignature(keys: KeyLookup, data: Buffer, signature: Buffer): Outcome {
    if (keys.kind === 'temperror') return { result: 'temperror', reason: keys.reason };
    if (keys.kind !== 'found') return { result: 'fail', reason: keys.reason };
    const problems: string[] = [];
    for (const key of keys.keys) {
      if (key.type !== 'rsa') problems.push(`key is ${key.type}, not rsa`);
      else if (key.hashes && !key.hashes.includes('sha256')) problems.push(`key h=${key.hashes.join(':')} excludes sha256`);
      else if (key.bits < this.#options.minKeyBits) problems.push(`${key.bits}-bit key is below the ${this.#options.minKeyBits}-bit minimum`);
      else {
        let good = false;
        try {
          good = verifySignature('sha256', data, key.key, signature);
        } catch {
          good = false;
        }
        if (good) return { result: 'pass' };
        problems.push('signature did not verify');
      }
    }
    return { result: 'fail', reason: problems.join('; ') };
  }
}
