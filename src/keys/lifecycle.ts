/**
 * Key lifecycle for one (domain, algorithm): a pure decision function. The runner observes
 * DNS, calls `decide`, then performs the actions. Nothing advances on a schedule alone:
 * published → active needs the exact record seen on EVERY authoritative server, then the
 * TTL plus a margin since it was first seen everywhere (the DNSSEC key-roll lesson).
 */
export type KeyState = 'generated' | 'published' | 'active' | 'retired' | 'revoked' | 'removed';

export interface LifecycleKey {
  readonly id: string;
  readonly state: KeyState;
  /** When the key entered its current state (ms since epoch). */
  readonly stateSince: number;
  /** When the record was first seen on all servers at once; undefined until then. */
  readonly seenEverywhereAt?: number;
}

export type ServerStatus = 'match' | 'mismatch' | 'missing' | 'error';
export interface ServerObservation {
  readonly server: string;
  readonly status: ServerStatus;
  readonly detail?: string;
}
/** What the authoritative servers answered for a key's record (queried with RD=0). */
export interface PublicationObservation {
  readonly servers: readonly ServerObservation[];
  /** TTL of the record as served, seconds. */
  readonly ttlSeconds: number;
}

export interface LifecyclePolicy {
  readonly lifetimeMs: number;
  readonly retirePeriodMs: number;
  readonly ttlMarginMs: number;
  /** TTL assumed for revoked → removed when none was observed. */
  readonly recordTtlSeconds: number;
}

export type LifecycleAction =
  | { readonly type: 'generate' }
  | { readonly type: 'publish'; readonly keyId: string }
  | { readonly type: 'mark-seen'; readonly keyId: string; readonly at: number }
  | { readonly type: 'clear-seen'; readonly keyId: string }
  | { readonly type: 'activate'; readonly keyId: string }
  | { readonly type: 'retire'; readonly keyId: string }
  | { readonly type: 'revoke'; readonly keyId: string }
  | { readonly type: 'remove'; readonly keyId: string };

export interface Decision {
  readonly actions: readonly LifecycleAction[];
  /** Human status per key: what it waits for. */
  readonly waiting: ReadonlyMap<string, string>;
}

/** "seen on 1 of 2 nameservers; ns2: timeout" */
export function describeObservation(obs: PublicationObservation | undefined): string {
  if (obs === undefined || obs.servers.length === 0) return 'no observation of the nameservers';
  const ok = obs.servers.filter((s) => s.status === 'match').length;
  const bad = obs.servers
    .filter((s) => s.status !== 'match')
    .map((s) => `${s.server}: ${s.detail ?? s.status}`);
  return [`seen on ${ok} of ${obs.servers.length} nameservers`, ...bad].join('; ');
}

function servedEverywhere(obs: PublicationObservation | undefined): boolean {
  return obs !== undefined && obs.servers.length > 0 && obs.servers.every((s) => s.status === 'match');
}

/** A published key seen on every nameserver at `seenAt` may become active at this time. */
export const activationAt = (seenAt: number, ttlSeconds: number, policy: LifecyclePolicy): number => seenAt + ttlSeconds * 1000 + policy.ttlMarginMs;
/** A retired key is revoked (p= empty) at this time. */
export const revocationAt = (k: LifecycleKey, policy: LifecyclePolicy): number => k.stateSince + policy.retirePeriodMs;
/** A revoked key's record is removed at this time (its empty record outlived every cache). */
export const removalAt = (k: LifecycleKey, policy: LifecyclePolicy): number => k.stateSince + policy.recordTtlSeconds * 1000 + policy.ttlMarginMs;
/** The active key's successor is generated at this time. */
export const rotationDueAt = (active: LifecycleKey, policy: LifecyclePolicy): number => active.stateSince + policy.lifetimeMs;
const newestActive = (active: readonly LifecycleKey[]): LifecycleKey | undefined => active.reduce<LifecycleKey | undefined>((m, k) => (m === undefined || k.stateSince > m.stateSince ? k : m), undefined);

export function decide(
  keys: readonly LifecycleKey[],
  observations: ReadonlyMap<string, PublicationObservation>,
  now: number,
  policy: LifecyclePolicy,
  options: { readonly rotateNow?: boolean } = {},
): Decision {
  const actions: LifecycleAction[] = [];
  const waiting = new Map<string, string>();
  const active = keys.filter((k) => k.state === 'active');
  const pending = keys.filter((k) => k.state === 'generated' || k.state === 'published');

  for (const k of keys) {
    if (k.state === 'generated') {
      actions.push({ type: 'publish', keyId: k.id });
      waiting.set(k.id, 'waiting for publication to be sent');
    } else if (k.state === 'published') {
      const obs = observations.get(k.id);
      if (!servedEverywhere(obs)) {
        // Never advance on errors, timeouts or partial publication; restart the TTL clock.
        if (k.seenEverywhereAt !== undefined) actions.push({ type: 'clear-seen', keyId: k.id });
        waiting.set(k.id, describeObservation(obs));
        continue;
      }
      const seenAt = k.seenEverywhereAt ?? now;
      if (k.seenEverywhereAt === undefined) actions.push({ type: 'mark-seen', keyId: k.id, at: now });
      const readyAt = activationAt(seenAt, obs?.ttlSeconds ?? 0, policy);
      if (now < readyAt) {
        waiting.set(k.id, `seen on all ${obs?.servers.length} nameservers; waiting for TTL + margin until ${new Date(readyAt).toISOString()}`);
        continue;
      }
      // Exactly one active key: the newest ready key replaces every current active key.
      actions.push({ type: 'activate', keyId: k.id });
      for (const a of active) actions.push({ type: 'retire', keyId: a.id });
      waiting.set(k.id, 'activating');
    } else if (k.state === 'retired') {
      const until = revocationAt(k, policy);
      if (now >= until) actions.push({ type: 'revoke', keyId: k.id });
      else waiting.set(k.id, `retired; revoked at ${new Date(until).toISOString()}`);
    } else if (k.state === 'revoked') {
      const until = removalAt(k, policy);
      if (now >= until) actions.push({ type: 'remove', keyId: k.id });
      else waiting.set(k.id, `revoked; removed at ${new Date(until).toISOString()}`);
    }
  }

  const activating = actions.some((a) => a.type === 'activate');
  if (pending.length === 0 && !activating) {
    const newest = newestActive(active);
    if (newest === undefined || options.rotateNow === true || now >= rotationDueAt(newest, policy)) {
      actions.push({ type: 'generate' });
    }
  }
  return { actions, waiting };
}

/**
 * The next time-driven step of one (domain, algorithm), for monitoring (`mailanchor_dkim_next_step_seconds`):
 * what `decide` will do next and the earliest time it can, from the same rules.
 *
 * - `publish`: a generated key (the next rotation run sends it); due at once.
 * - `wait-dns`: a published key not yet seen on every nameserver: it cannot activate before
 *   TTL + margin after it is, so the earliest is counted from its publication — a time long
 *   past means DNS never showed it (a manual publisher nobody acted on, a lagging secondary).
 * - `activate`: seen everywhere; active after TTL (as configured; the run uses the TTL served) + margin.
 * - `revoke`, `remove`: a retired / revoked key's next step.
 * - `rotate`: the active key reaches its lifetime; `generate`: no key at all (due at once).
 *
 * The earliest of the algorithm's steps is returned. A time in the past means the step is
 * due: `keys rotate` does it on its next run, or is not running.
 */
export type NextStep = 'publish' | 'wait-dns' | 'activate' | 'revoke' | 'remove' | 'rotate' | 'generate';

export function nextStep(keys: readonly LifecycleKey[], policy: LifecyclePolicy, now: number): { readonly step: NextStep; readonly at: number } {
  const steps: { step: NextStep; at: number }[] = [];
  for (const k of keys) {
    if (k.state === 'generated') steps.push({ step: 'publish', at: k.stateSince });
    else if (k.state === 'published') {
      steps.push(k.seenEverywhereAt === undefined ? { step: 'wait-dns', at: activationAt(k.stateSince, policy.recordTtlSeconds, policy) } : { step: 'activate', at: activationAt(k.seenEverywhereAt, policy.recordTtlSeconds, policy) });
    } else if (k.state === 'retired') steps.push({ step: 'revoke', at: revocationAt(k, policy) });
    else if (k.state === 'revoked') steps.push({ step: 'remove', at: removalAt(k, policy) });
  }
  const pending = keys.some((k) => k.state === 'generated' || k.state === 'published');
  if (!pending) {
    const newest = newestActive(keys.filter((k) => k.state === 'active'));
    steps.push(newest ? { step: 'rotate', at: rotationDueAt(newest, policy) } : { step: 'generate', at: now });
  }
  return steps.reduce((a, b) => (b.at < a.at ? b : a));
}

/**
 * `keys retire` by hand: an active or published key becomes retired — it stays published
 * for the retire period (queued and forwarded mail), then rotation revokes and removes it.
 * `keys` are the domain's keys of the same algorithm. A generated key was never in DNS and
 * is not retired (the next rotation run publishes it); a retired or later key already is.
 */
export type RetireDecision =
  | { readonly ok: true; readonly actions: readonly Extract<LifecycleAction, { type: 'retire' }>[]; readonly leavesNoActive: boolean }
  | { readonly ok: false; readonly reason: string };

export function decideRetire(keys: readonly (LifecycleKey & { readonly selector: string })[], keyId: string): RetireDecision {
  const k = keys.find((x) => x.id === keyId);
  if (!k) return { ok: false, reason: 'no such key' };
  if (k.state !== 'active' && k.state !== 'published') return { ok: false, reason: `${k.selector} is ${k.state}; only active or published keys can be retired` };
  const leavesNoActive = k.state === 'active' && !keys.some((x) => x.id !== k.id && x.state === 'active');
  return { ok: true, actions: [{ type: 'retire', keyId: k.id }], leavesNoActive };
}

/**
 * `keys import` of a key that another signer (OpenDKIM) uses today. It enters the lifecycle
 * like any key, with one shortcut: a key whose exact record every authoritative server serves
 * already is active at once — it has been in DNS and signing mail, so there is nothing for
 * caches to catch up on. Otherwise it is published and the rotation activates it when DNS
 * shows it (TTL + margin after that, as for a key we generated). A domain that already has
 * keys of this algorithm in the store is not taken over a second time.
 */
export type ImportDecision =
  | { readonly kind: 'active' }
  | { readonly kind: 'published'; readonly reason: string }
  | { readonly kind: 'refused'; readonly reason: string };

export function decideImport(existing: readonly (LifecycleKey & { readonly selector: string })[], observation: PublicationObservation | undefined): ImportDecision {
  const live = existing.filter((k) => k.state !== 'removed');
  if (live.length > 0) {
    return { kind: 'refused', reason: `the store already holds keys of this algorithm for the domain (${live.map((k) => `${k.selector} ${k.state}`).join(', ')}); retire them first if the imported key should sign` };
  }
  if (servedEverywhere(observation)) return { kind: 'active' };
  return { kind: 'published', reason: `not yet served as is by every authoritative nameserver (${describeObservation(observation)}); \`keys rotate\` activates it once it is` };
}
