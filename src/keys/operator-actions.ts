/**
 * The changes an operator makes by hand — `keys retire` and `keys import` — made the way
 * rotation makes its own: under the domain's rotation lease (src/keys/lease.ts), so a
 * timer-driven `keys rotate` on any host of the fleet never acts on the same domain at the
 * same moment, with every write fenced by that lease, and decided by the lifecycle
 * (`decideRetire`, `decideImport`), never by state written directly.
 *
 * A rotation holds a domain's lease for a few seconds; an operator's command waits for it
 * (`leaseWaitMs`) rather than failing at once, then gives up with `lease-busy`.
 */
import { randomUUID } from 'node:crypto';
import type { DnsLookup } from '../dns/types.ts';
import type { DomainKeysConfig } from './config.ts';
import { KeystoreError } from './errors.ts';
import type { KeyStore, StoredKey } from './key-store.ts';
import { leaseHolder, staleHolder, type Lease, type LeaseFence } from './lease.ts';
import { decideImport, decideRetire, type ImportDecision } from './lifecycle.ts';
import type { ImportedKey } from './opendkim-import.ts';
import { domainLease, LEASE_MS, observeKey } from './rotate.ts';

export interface OperatorDeps {
  readonly store: KeyStore;
  readonly lease: Lease;
  /** Recursive resolver, to find a zone's NS when no nameservers are configured. */
  readonly dns: DnsLookup;
  readonly now: () => number;
  readonly observeTimeoutMs?: number;
  /** How long to wait while a rotation holds the domain's lease. Default 30 s. */
  readonly leaseWaitMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly holder?: string;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs `fn` holding the domain's lease; `fence()` renews it before each write. */
export async function underDomainLease<T>(domain: string, deps: OperatorDeps, fn: (fence: () => Promise<LeaseFence>) => Promise<T>): Promise<T> {
  const name = domainLease(domain);
  const holder = deps.holder ?? leaseHolder();
  const sleep = deps.sleep ?? defaultSleep;
  const waitMs = deps.leaseWaitMs ?? 30_000;
  const start = deps.now();
  while (!(await deps.lease.acquire(name, holder, deps.now(), LEASE_MS, staleHolder))) {
    if (deps.now() - start >= waitMs) {
      throw new KeystoreError('lease-busy', `a key rotation of ${domain} holds its lease (waited ${Math.round(waitMs / 1000)} s); try again when it has finished`, { domain });
    }
    await sleep(Math.min(500, waitMs));
  }
  const fence = async (): Promise<LeaseFence> => {
    const now = deps.now();
    if (!(await deps.lease.renew(name, holder, now, LEASE_MS))) throw new KeystoreError('lease-lost', `the lease for ${domain} expired and was taken over; stopping without writing`, { domain });
    return { name, holder, now };
  };
  try {
    return await fn(fence);
  } finally {
    await deps.lease.release(name, holder).catch(() => undefined); // it expires by itself
  }
}

export type RetireOutcome =
  | { readonly ok: true; readonly key: StoredKey; readonly leavesNoActive: boolean }
  | { readonly ok: false; readonly reason: string };

/** `keys retire --domain D --selector S`. */
export async function retireKey(domain: string, selector: string, deps: OperatorDeps): Promise<RetireOutcome> {
  return underDomainLease(domain, deps, async (fence) => {
    const all = await deps.store.list(domain);
    const key = all.find((k) => k.selector === selector);
    if (!key) return { ok: false, reason: `no key ${selector} for ${domain}` };
    const d = decideRetire(all.filter((k) => k.algorithm === key.algorithm), key.id);
    if (!d.ok) return d;
    await deps.store.apply(d.actions.map((a) => ({ id: a.keyId, state: 'retired' as const })), deps.now(), { fence: await fence() });
    return { ok: true, key, leavesNoActive: d.leavesNoActive };
  });
}

export type ImportOutcome =
  | { readonly kind: 'present' }
  | { readonly kind: Exclude<ImportDecision['kind'], 'refused'>; readonly reason?: string }
  | { readonly kind: 'refused'; readonly reason: string };

/** `keys import`: one key, under its domain's lease; observed on every nameserver before it is stored. */
export async function importKey(k: ImportedKey, cfg: DomainKeysConfig, deps: OperatorDeps): Promise<ImportOutcome> {
  return underDomainLease(k.domain, deps, async (fence) => {
    const all = await deps.store.list(k.domain);
    if (all.some((x) => x.selector === k.selector)) return { kind: 'present' };
    const now = deps.now();
    const candidate: StoredKey = { id: randomUUID(), domain: k.domain, selector: k.selector, algorithm: k.algorithm, state: 'published', stateSince: now, createdAt: now, privateKeyPem: k.privateKeyPem, publicKeyPem: k.publicKeyPem };
    const existing = all.filter((x) => x.algorithm === k.algorithm);
    const first = decideImport(existing, undefined);
    if (first.kind === 'refused') return first;
    const observation = await observeKey(k.domain, cfg, candidate, deps.dns, deps.observeTimeoutMs ?? 3000);
    const d = decideImport(existing, observation);
    if (d.kind === 'refused') return d;
    // Its lifetime counts from today: the import is when mailanchor starts to answer for it.
    await deps.store.insert(
      { id: candidate.id, domain: k.domain, selector: k.selector, algorithm: k.algorithm, state: d.kind, createdAt: now, privateKeyPem: k.privateKeyPem, publicKeyPem: k.publicKeyPem },
      { fence: await fence() },
    );
    return d.kind === 'published' ? { kind: 'published', reason: d.reason } : { kind: 'active' };
  });
}
