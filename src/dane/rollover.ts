/**
 * TLSA rollover decisions (RFC 7671 §8.1, RFC 7672 §8): pure functions of
 * (state, observations, now). No clock is read and no schedule is guessed: a record
 * counts as published only once every authoritative server has been seen serving it,
 * and a certificate may be deployed only when a record matching it has been served
 * everywhere for 2 × TTL — by then no resolver can still hold an RRset without it
 * (one TTL for caches that fetched just before the change, one more of margin for
 * secondaries that were observed late).
 *
 *   1. publish current + next (`publishSet`)
 *   2. next served by every authoritative server → clock starts (`observe`)
 *   3. + 2 × TTL → deploying the next certificate is safe (`deployVerdict`)
 *   4. once the next certificate is in service, the old records may go (`publishSet`
 *      no longer includes them).
 */
import type { X509Certificate } from 'node:crypto';
import { matchChain } from './match.ts';
import { sameTlsa, tlsaText, type Tlsa } from './tlsa-params.ts';

/** What one authoritative server serves at the TLSA owner, or why it could not be asked. */
export type TlsaObservation =
  | { readonly server: string; readonly ok: true; readonly records: readonly Tlsa[]; readonly ttl: number }
  | { readonly server: string; readonly ok: false; readonly error: string };

/** Persisted between runs: since when (ms) each record has been served by every server. */
export interface RolloverState {
  readonly owner: string;
  readonly everywhereSince: Readonly<Record<string, number>>;
  /** Largest RRset TTL (s) seen on any server; the 2 × TTL wait uses the larger of this and the configured TTL. */
  readonly maxTtlSeen: number;
}

export const emptyState = (owner: string): RolloverState => ({ owner, everywhereSince: {}, maxTtlSeen: 0 });

/** Records served by every server in this round; none when a server failed or none was asked. */
export function servedEverywhere(observations: readonly TlsaObservation[]): Tlsa[] {
  if (observations.length === 0 || observations.some((o) => !o.ok)) return [];
  const [first, ...rest] = observations as readonly Extract<TlsaObservation, { ok: true }>[];
  return first!.records.filter((r) => rest.every((o) => o.records.some((x) => sameTlsa(x, r))));
}

/** Advances the state with one round of observations taken at `now`. */
export function observe(state: RolloverState, observations: readonly TlsaObservation[], now: number): RolloverState {
  const everywhere = servedEverywhere(observations);
  const since: Record<string, number> = {};
  for (const r of everywhere) {
    const key = tlsaText(r);
    since[key] = state.everywhereSince[key] ?? now;
  }
  const ttls = observations.flatMap((o) => (o.ok ? [o.ttl] : []));
  return { owner: state.owner, everywhereSince: since, maxTtlSeen: Math.max(state.maxTtlSeen, ...ttls) };
}

/** Union without duplicates, first occurrence wins. */
export function unionTlsa(...sets: readonly (readonly Tlsa[])[]): Tlsa[] {
  const out: Tlsa[] = [];
  for (const r of sets.flat()) if (!out.some((x) => sameTlsa(x, r))) out.push(r);
  return out;
}

/** What to publish now: the records for what is in service plus those for the next key/cert. */
export function publishSet(inService: readonly Tlsa[], next: readonly Tlsa[]): Tlsa[] {
  return unionTlsa(inService, next);
}

export type DeployVerdict =
  | { readonly safe: true; readonly reason: string; readonly record: Tlsa }
  | { readonly safe: false; readonly reason: string; readonly safeAt?: number };

export interface DeployQuery {
  /** Either the chain to deploy (any published record matching it counts, e.g. a `2 1 1` for its CA) … */
  readonly chain?: readonly X509Certificate[];
  readonly host?: string;
  /** … or the exact records that must all be published (a bare next key). */
  readonly records?: readonly Tlsa[];
  readonly smtp: boolean;
}

/** Is deploying now safe? `ttlSec`: configured TTL; the larger of it and the TTL seen is used. */
export function deployVerdict(state: RolloverState, query: DeployQuery, ttlSec: number, now: number): DeployVerdict {
  const ttl = Math.max(ttlSec, state.maxTtlSeen);
  const wait = 2 * ttl * 1000;
  const published = Object.entries(state.everywhereSince).map(([text, since]) => ({ record: parseTlsaText(text), since }));
  if (query.chain) {
    const chain = query.chain;
    const matching = published.filter((p) => matchChain([p.record], chain, { host: query.host, now, smtp: query.smtp }).matched);
    if (matching.length === 0) return { safe: false, reason: 'no record served by every authoritative server matches this certificate: publish its TLSA record first' };
    const best = matching.reduce((a, b) => (a.since <= b.since ? a : b));
    if (best.since + wait <= now) return { safe: true, reason: `${tlsaText(best.record)} served everywhere since ${new Date(best.since).toISOString()} (≥ 2 × TTL ${ttl}s)`, record: best.record };
    return { safe: false, reason: `${tlsaText(best.record)} served everywhere only since ${new Date(best.since).toISOString()}; wait 2 × TTL (${ttl}s)`, safeAt: best.since + wait };
  }
  const want = query.records ?? [];
  if (want.length === 0) return { safe: false, reason: 'nothing to check' };
  let latest = 0;
  for (const r of want) {
    const since = state.everywhereSince[tlsaText(r)];
    if (since === undefined) return { safe: false, reason: `${tlsaText(r)} is not yet served by every authoritative server` };
    latest = Math.max(latest, since);
  }
  if (latest + wait <= now) return { safe: true, reason: `all next records served everywhere for ≥ 2 × TTL (${ttl}s)`, record: want[0]! };
  return { safe: false, reason: `next records served everywhere since ${new Date(latest).toISOString()}; wait 2 × TTL (${ttl}s)`, safeAt: latest + wait };
}

export function parseTlsaText(text: string): Tlsa {
  const [u, s, m, hex] = text.trim().split(/\s+/);
  return { usage: Number(u), selector: Number(s), matchingType: Number(m), data: Buffer.from(hex ?? '', 'hex') };
}

export type RolloverPhase = 'steady' | 'publish-next' | 'wait' | 'deploy-next' | 'retire-old';

export interface RolloverPlan {
  readonly phase: RolloverPhase;
  /** The RRset that should be published now. */
  readonly publish: readonly Tlsa[];
  /** Records on the servers that are not in `publish` (may go now). */
  readonly remove: readonly Tlsa[];
  /** Records in `publish` that some server does not serve yet. */
  readonly add: readonly Tlsa[];
  readonly deploy: DeployVerdict | undefined;
  readonly message: string;
}

/**
 * One rollover step. `inService`: records for the certificate(s) the server presents now;
 * `next`: records for the next key/certificate (empty when none is staged).
 */
export function planRollover(
  state: RolloverState,
  input: { readonly inService: readonly Tlsa[]; readonly next: readonly Tlsa[]; readonly observations: readonly TlsaObservation[]; readonly ttlSec: number; readonly smtp: boolean },
  now: number,
): { state: RolloverState; plan: RolloverPlan } {
  const next = observe(state, input.observations, now);
  const publish = publishSet(input.inService, input.next);
  const everywhere = servedEverywhere(input.observations);
  const servedAnywhere = unionTlsa(...input.observations.map((o) => (o.ok ? o.records : [])));
  const add = publish.filter((r) => !everywhere.some((x) => sameTlsa(x, r)));
  const remove = servedAnywhere.filter((r) => !publish.some((x) => sameTlsa(x, r)));
  const pending = input.next.filter((r) => !input.inService.some((x) => sameTlsa(x, r)));
  let phase: RolloverPhase;
  let deploy: DeployVerdict | undefined;
  let message: string;
  if (pending.length === 0) {
    phase = remove.length > 0 ? 'retire-old' : 'steady';
    message = remove.length > 0 ? `the in-service certificate is covered; ${remove.length} old record(s) may go` : 'published records match the certificate(s) in service; no rollover pending';
  } else {
    deploy = deployVerdict(next, { records: pending, smtp: input.smtp }, input.ttlSec, now);
    if (deploy.safe) {
      phase = 'deploy-next';
      message = 'the next records have been served by every authoritative server for 2 × TTL: deploying the next certificate is safe';
    } else if (pending.every((r) => next.everywhereSince[tlsaText(r)] !== undefined)) {
      phase = 'wait';
      message = `next records are on every authoritative server; do not deploy before ${deploy.safeAt === undefined ? '?' : new Date(deploy.safeAt).toISOString()}`;
    } else {
      phase = 'publish-next';
      message = 'publish current + next; do not deploy the next certificate until its record is on every authoritative server for 2 × TTL';
    }
  }
  return { state: next, plan: { phase, publish, add, remove, deploy, message } };
}
