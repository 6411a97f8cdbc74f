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
      const readyAt = seenAt + (obs?.ttlSeconds ?? 0) * 1000 + policy.ttlMarginMs;
      if (now < readyAt) {
        waiting.set(k.id, `seen on all ${obs?.servers.length} nameservers; waiting for TTL + margin until ${new Date(readyAt).toISOString()}`);
        continue;
      }
      // Exactly one active key: the newest ready key replaces every current active key.
      actions.push({ type: 'activate', keyId: k.id });
      for (const a of active) actions.push({ type: 'retire', keyId: a.id });
      waiting.set(k.id, 'activating');
    } else if (k.state === 'retired') {
      const until = k.stateSince + policy.retirePeriodMs;
      if (now >= until) actions.push({ type: 'revoke', keyId: k.id });
      else waiting.set(k.id, `retired; revoked at ${new Date(until).toISOString()}`);
    } else if (k.state === 'revoked') {
      const until = k.stateSince + policy.recordTtlSeconds * 1000 + policy.ttlMarginMs;
      if (now >= until) actions.push({ type: 'remove', keyId: k.id });
      else waiting.set(k.id, `revoked; removed at ${new Date(until).toISOString()}`);
    }
  }

  const activating = actions.some((a) => a.type === 'activate');
  if (pending.length === 0 && !activating) {
    const newest = active.reduce<LifecycleKey | undefined>((m, k) => (m === undefined || k.stateSince > m.stateSince ? k : m), undefined);
    if (newest === undefined || options.rotateNow === true || now - newest.stateSince >= policy.lifetimeMs) {
      actions.push({ type: 'generate' });
    }
  }
  return { actions, waiting };
}
