/**
 * The rotation job: one idempotent pass per domain, safe to run every hour and to kill at any
 * point. For each domain it takes a lease in the store (two runs never act at once), observes
 * what every authoritative server serves for the keys waiting to become active, asks the pure
 * lifecycle what to do, and then: (1) stores newly generated keys, (2) publishes the domain's
 * whole wanted record set, (3) commits every state change in one transaction. A crash between
 * (2) and (3) repeats (2) next time — publication is idempotent — and no key is ever active
 * before it was seen everywhere, nor removed before its retire period.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'winston';
import { observeZone } from '../dns/authoritative.ts';
import type { DnsAnswer, DnsLookup, DnsServer } from '../dns/types.ts';
import { describeError } from '../errors.ts';
import type { Publisher } from '../publish/publisher.ts';
import type { DnsRecord } from '../publish/zone-fragment.ts';
import type { DomainKeysConfig } from './config.ts';
import { dkimRecordForKey, dkimRecordValue, recordServesKey, splitTxt } from './dkim-record.ts';
import { generateKey, nextSelector } from './generate.ts';
import { KeystoreError } from './errors.ts';
import { freeHostedSelector, hostedTargetName } from './hosted.ts';
import type { KeyChange, KeyStore, StoredKey } from './key-store.ts';
import { leaseHolder, staleHolder, type Lease, type LeaseFence } from './lease.ts';
import { decide, type KeyState, type LifecycleAction, type PublicationObservation, type ServerObservation } from './lifecycle.ts';

export interface RotationDeps {
  readonly store: KeyStore;
  /** Shared by every host on the store: one rotation per domain at a time. */
  readonly lease: Lease;
  readonly publisherFor: (domain: string, cfg: DomainKeysConfig) => Publisher;
  /** Recursive resolver, to find a zone's NS when no nameservers are configured. */
  readonly dns: DnsLookup;
  readonly now: () => number;
  readonly logger: Logger;
  /** Test hook: called at named points so a test can kill the process there. */
  readonly checkpoint?: (point: 'after-generate' | 'after-publish' | 'after-commit') => void;
  readonly observeTimeoutMs?: number;
  /** Told before the nameservers are asked for a waiting key (the CLI's progress line); never affects the pass. */
  readonly onObserve?: (what: { readonly domain: string; readonly selector: string; readonly name: string }) => void;
}

export interface KeyStatus {
  readonly selector: string;
  readonly algorithm: string;
  readonly state: KeyState;
  readonly since: number;
  readonly waiting?: string;
}

export interface DomainReport {
  readonly domain: string;
  readonly actions: readonly string[];
  readonly keys: readonly KeyStatus[];
  readonly error?: string;
  readonly skipped?: string;
  /** Things that hold the domain up and are not one key's state (e.g. no free hosted selector). */
  readonly notes?: readonly string[];
}

/**
 * How long a rotation's lease lasts without renewal. It is renewed before each write, so only
 * a holder that died (or hangs) lets it lapse; another host then takes over after this long.
 */
export const LEASE_MS = 10 * 60_000;

/** The lease every change to a domain's keys is made under: rotation, `keys retire`, `keys import`. */
export const domainLease = (domain: string): string => `keys:${domain}`;

export const recordName = (domain: string, selector: string): string => `${selector}._domainkey.${domain}`;

/** The zone we publish a domain's key records in: its own, or a hosted domain's target zone. */
export const publicationZone = (domain: string, cfg: DomainKeysConfig): string => (cfg.hosted ? cfg.hosted.target : (cfg.zone ?? domain));

/** Where we publish a key's TXT record: under the domain, or for a hosted domain in the target zone. */
export function publishedName(domain: string, cfg: DomainKeysConfig, selector: string): { zone: string; name: string } {
  return { zone: publicationZone(domain, cfg), name: cfg.hosted ? hostedTargetName(cfg.hosted, domain, selector) : recordName(domain, selector) };
}

/** The value DNS must serve for a key in `state` (revoked: empty p=, RFC 6376 §3.6.1). */
export function wantedValue(k: StoredKey, state: KeyState): string | undefined {
  if (state === 'published' || state === 'active' || state === 'retired') return dkimRecordForKey(k.algorithm, k.publicKeyPem);
  if (state === 'revoked') return dkimRecordValue(k.algorithm, '');
  return undefined;
}

/** What the authoritative servers serve for one key's record, against the value wanted. */
export async function observeKey(domain: string, cfg: DomainKeysConfig, key: StoredKey, dns: DnsLookup, timeoutMs: number): Promise<PublicationObservation> {
  const txt = await observeTxt(domain, cfg, key, dns, timeoutMs);
  if (!cfg.hosted) return txt;
  // A hosted key is usable only once the customer's CNAME leads verifiers to it.
  return { servers: [...txt.servers, ...(await observeCustomerCname(domain, cfg, key.selector, dns, timeoutMs))], ttlSeconds: txt.ttlSeconds };
}

/**
 * Asks every authoritative server of `zone` (the configured `servers`, else the zone's NS via
 * `dns`) for `name`/`type` directly, and judges each answer. Errors and timeouts, and servers
 * that could not be found, are `error` observations; so is a zone whose servers cannot be
 * found at all.
 */
async function observeAll<T extends 'TXT' | 'CNAME'>(
  q: { readonly zone: string; readonly name: string; readonly type: T; readonly servers: readonly { host: string; port: number }[]; readonly dns: DnsLookup; readonly timeoutMs: number },
  judge: (answer: DnsAnswer<T>) => Omit<ServerObservation, 'server'>,
  describe: { readonly server?: (s: string) => string; readonly failure?: string } = {},
): Promise<ServerObservation[]> {
  const servers: DnsServer[] = q.servers.map((s) => ({ host: s.host, port: s.port }));
  try {
    const obs = await observeZone(q.zone, q.name, q.type, servers.length ? { servers } : { lookup: q.dns }, { timeoutMs: q.timeoutMs, attempts: 1 });
    const list: ServerObservation[] = obs.observations.map((o) => {
      const server = describe.server ? describe.server(o.server) : o.server;
      if (!o.ok) return { server, status: 'error', detail: o.error.code === 'TIMEOUT' ? 'timeout' : o.error.message };
      return { server, ...judge(o.answer) };
    });
    for (const p of obs.problems) list.push({ server: p.nameserver, status: 'error', detail: p.error.message });
    return list;
  } catch (err) {
    return [{ server: q.zone, status: 'error', detail: `${describe.failure ?? ''}${describeError(err).message}` }];
  }
}

/** The customer's `<selector>._domainkey.<domain>` on each of its authoritative servers: a CNAME to our target name? */
function observeCustomerCname(domain: string, cfg: DomainKeysConfig, selector: string, dns: DnsLookup, timeoutMs: number): Promise<ServerObservation[]> {
  const hosted = cfg.hosted!;
  const zone = cfg.zone ?? domain;
  const name = recordName(domain, selector);
  const target = hostedTargetName(hosted, domain, selector);
  const fix = `the customer must publish ${name}. CNAME ${target}.`;
  return observeAll(
    { zone, name, type: 'CNAME', servers: hosted.customer_nameservers, dns, timeoutMs },
    (answer) => {
      const targets = answer.records.map((r) => r.toLowerCase().replace(/\.$/, ''));
      if (targets.includes(target)) return { status: 'match' };
      if (targets.length === 0) return { status: 'missing', detail: `customer CNAME missing: ${fix}` };
      return { status: 'mismatch', detail: `customer CNAME points to ${targets.join(', ')}: ${fix}` };
    },
    { server: (s) => `${s} (customer zone ${zone})`, failure: 'customer zone: ' },
  );
}

async function observeTxt(domain: string, cfg: DomainKeysConfig, key: StoredKey, dns: DnsLookup, timeoutMs: number): Promise<PublicationObservation> {
  const expected = wantedValue(key, 'published')!;
  const { zone, name } = publishedName(domain, cfg, key.selector);
  let ttl = 0;
  const servers = await observeAll({ zone, name, type: 'TXT', servers: cfg.nameservers, dns, timeoutMs }, (answer) => {
    ttl = Math.max(ttl, answer.ttl);
    const values = answer.records.map((r) => r.join(''));
    if (values.includes(expected) || values.some((v) => recordServesKey(v, key.algorithm, key.publicKeyPem))) return { status: 'match' };
    if (values.length === 0) return { status: 'missing', detail: answer.cnameChain.length ? `CNAME to ${answer.canonicalName ?? '?'} not served there` : 'not served yet' };
    return { status: 'mismatch', detail: 'serves a different key' };
  });
  return { servers, ttlSeconds: ttl || Math.round(cfg.ttl / 1000) };
}

/** The domain's whole record set for the publisher, given the target state of each key. */
export function recordSet(domain: string, cfg: DomainKeysConfig, keys: readonly StoredKey[], target: ReadonlyMap<string, KeyState>) {
  const ttl = Math.round(cfg.ttl / 1000);
  const records: DnsRecord[] = [];
  const names: string[] = [];
  for (const k of keys) {
    const state = target.get(k.id) ?? k.state;
    if (k.state === 'removed' && state === 'removed') continue; // long gone: not ours to touch any more
    const { name } = publishedName(domain, cfg, k.selector);
    names.push(name);
    const value = wantedValue(k, state);
    if (value !== undefined) records.push({ name, type: 'TXT', ttl, data: splitTxt(value) });
  }
  return { zone: publicationZone(domain, cfg), owner: `dkim:${domain}`, names, records };
}

const TARGET: Partial<Record<LifecycleAction['type'], KeyState>> = {
  publish: 'published',
  activate: 'active',
  retire: 'retired',
  revoke: 'revoked',
  remove: 'removed',
};

/** One pass for one domain. `rotateNow` forces a new key (idempotent while one is pending). */
export async function rotateDomain(domain: string, cfg: DomainKeysConfig, deps: RotationDeps, options: { rotateNow?: boolean; holder?: string; leaseMs?: number } = {}): Promise<DomainReport> {
  const holder = options.holder ?? leaseHolder();
  const lease = domainLease(domain);
  const leaseMs = options.leaseMs ?? LEASE_MS;
  if (!(await deps.lease.acquire(lease, holder, deps.now(), leaseMs, staleHolder))) {
    return { domain, actions: [], keys: statusOf(await deps.store.list(domain), new Map()), skipped: 'another rotation holds the lease; nothing done' };
  }
  /**
   * Before every write: renew the lease (observing DNS may have taken a while) and hand the
   * store a fence, so the write commits only while the lease is still ours. A run that lost it
   * (expired, and another host took over) stops without writing.
   */
  const fence = async (): Promise<LeaseFence> => {
    const now = deps.now();
    if (!(await deps.lease.renew(lease, holder, now, leaseMs))) {
      throw new KeystoreError('lease-lost', `the rotation lease for ${domain} expired and was taken over; stopping without writing`, { domain });
    }
    return { name: lease, holder, now };
  };
  const done: string[] = [];
  const notes: string[] = [];
  try {
    const policy = { lifetimeMs: cfg.lifetime, retirePeriodMs: cfg.retire_period, ttlMarginMs: cfg.ttl_margin, recordTtlSeconds: Math.round(cfg.ttl / 1000) };
    let waiting = new Map<string, string>();
    // Pass 1 may only generate; pass 2 then publishes what pass 1 generated.
    for (let pass = 0; pass < 2; pass++) {
      const now = deps.now();
      const all = await deps.store.list(domain);
      const actions: Array<Exclude<LifecycleAction, { type: 'generate' }>> = [];
      waiting = new Map();
      const generate: Array<StoredKey['algorithm']> = [];
      for (const algorithm of cfg.algorithms) {
        const keys = all.filter((k) => k.algorithm === algorithm && k.state !== 'removed');
        const observations = new Map<string, PublicationObservation>();
        for (const k of keys.filter((x) => x.state === 'published')) {
          deps.onObserve?.({ domain, selector: k.selector, name: publishedName(domain, cfg, k.selector).name });
          observations.set(k.id, await observeKey(domain, cfg, k, deps.dns, deps.observeTimeoutMs ?? 3000));
        }
        const d = decide(keys, observations, now, policy, { rotateNow: options.rotateNow === true && pass === 0 });
        for (const [id, w] of d.waiting) waiting.set(id, w);
        for (const a of d.actions) (a.type === 'generate' ? generate.push(algorithm) : actions.push(a));
      }
      // (1) New keys: stored as `generated` — neither published nor used yet, so safe at any moment.
      const taken = new Set(all.map((k) => k.selector));
      let generated = 0;
      for (const algorithm of generate) {
        let selector: string;
        let replacingRemoved: string | undefined;
        if (cfg.hosted) {
          const free = freeHostedSelector(cfg.hosted, algorithm, all.filter((k) => k.algorithm === algorithm));
          if (free === undefined) {
            if (pass === 0) notes.push(`${algorithm}: both hosted selectors hold live keys; the next key waits until the older one is removed`);
            continue;
          }
          selector = free;
          replacingRemoved = all.find((k) => k.selector === free && k.state === 'removed')?.id;
        } else {
          selector = nextSelector(algorithm, now, taken);
        }
        const g = generateKey(algorithm, cfg.rsa_bits);
        if (g.warning) deps.logger.warn('key generated with a warning', { domain, warning: g.warning });
        taken.add(selector);
        await deps.store.insert(
          { id: randomUUID(), domain, selector, algorithm, state: 'generated', createdAt: now, privateKeyPem: g.privateKeyPem, publicKeyPem: g.publicKeyPem },
          { fence: await fence(), ...(replacingRemoved ? { replacingRemoved } : {}) },
        );
        done.push(`generated ${algorithm} ${selector}`);
        generated++;
      }
      if (generated) deps.checkpoint?.('after-generate');

      const target = new Map<string, KeyState>();
      const changes: KeyChange[] = [];
      for (const a of actions) {
        const state = TARGET[a.type];
        if (state) {
          target.set(a.keyId, state);
          changes.push({ id: a.keyId, state });
        } else if (a.type === 'mark-seen') changes.push({ id: a.keyId, seenEverywhereAt: a.at });
        else if (a.type === 'clear-seen') changes.push({ id: a.keyId, seenEverywhereAt: null });
      }
      // (2) Publication before the states that depend on it are committed.
      if (actions.some((a) => a.type === 'publish' || a.type === 'revoke' || a.type === 'remove')) {
        const publisher = deps.publisherFor(domain, cfg);
        await fence(); // a run that lost the lease must not publish an older record set over the new holder's
        await publisher.publish(recordSet(domain, cfg, all, target));
        deps.checkpoint?.('after-publish');
      }
      // (3) Every state change at once: never zero or two active keys for an algorithm.
      if (changes.length) {
        await deps.store.apply(changes, now, { fence: await fence() });
        deps.checkpoint?.('after-commit');
        const byId = new Map(all.map((k) => [k.id, k]));
        for (const [id, state] of target) done.push(`${byId.get(id)?.selector ?? id} → ${state}`);
      }
      if (generated === 0) break;
    }
    for (const line of done) deps.logger.info('key rotation', { domain, action: line });
    for (const note of notes) deps.logger.warn('key rotation waits', { domain, note });
    return { domain, actions: done, keys: statusOf(await deps.store.list(domain), waiting), ...(notes.length ? { notes } : {}) };
  } catch (err) {
    const e = describeError(err);
    deps.logger.error('key rotation failed; nothing past the failing step was changed', { domain, ...e });
    const keys = await deps.store.list(domain).catch(() => [] as StoredKey[]);
    return { domain, actions: done, keys: statusOf(keys, new Map()), error: e.message };
  } finally {
    await deps.lease.release(lease, holder).catch((err: unknown) => deps.logger.warn('rotation lease not released; it expires by itself', { domain, ...describeError(err) }));
  }
}

function statusOf(keys: readonly StoredKey[], waiting: ReadonlyMap<string, string>): KeyStatus[] {
  return keys.map((k) => ({ selector: k.selector, algorithm: k.algorithm, state: k.state, since: k.stateSince, ...(waiting.has(k.id) ? { waiting: waiting.get(k.id)! } : {}) }));
}
