/**
 * The keystore as the operator graphs it, read by the milter from the store (prom-client):
 *
 * - `mailanchor_dkim_keys{domain, algorithm, state}`: keys per lifecycle state (removed ones left out);
 * - `mailanchor_dkim_active_key_age_seconds{domain, algorithm}`: since the active key became active
 *   (what `lifetime` is measured against);
 * - `mailanchor_dkim_next_step_seconds{domain, algorithm, step}`: until the next time-driven
 *   lifecycle step (`nextStep` in src/keys/lifecycle.ts) — negative when it is due and
 *   `keys rotate` has not done it (the timer is not running, or a nameserver never showed the key);
 * - `mailanchor_dkim_rotation_configured{domain}`: 1 when keys.domains lists the domain (rotation
 *   manages it), 0 for a domain with keys in the store that nothing rotates (imported, say).
 *
 * Read at scrape time; the key rows are re-read only when the store's key generation moved
 * (one cheap query), and only the states and times are kept, never the keys. Registered in one
 * process only (the single milter, or worker 0 of a cluster), so the primary's sum is one count.
 */
import { Gauge, type Registry } from 'prom-client';
import { domainDefaults, type DomainKeysConfig, type KeysConfig } from '../keys/config.ts';
import type { KeyStore } from '../keys/key-store.ts';
import { nextStep, type KeyState, type LifecycleKey } from '../keys/lifecycle.ts';

interface KeyRow extends LifecycleKey {
  readonly domain: string;
  readonly algorithm: string;
}

export interface KeystoreMetricsOptions {
  readonly store: Pick<KeyStore, 'list' | 'generation'>;
  /** The config in use now (it changes on SIGHUP). */
  readonly config: () => KeysConfig;
  readonly now: () => number;
}

const policyOf = (cfg: DomainKeysConfig) => ({ lifetimeMs: cfg.lifetime, retirePeriodMs: cfg.retire_period, ttlMarginMs: cfg.ttl_margin, recordTtlSeconds: Math.round(cfg.ttl / 1000) });

export function registerKeystoreMetrics(registry: Registry, o: KeystoreMetricsOptions): void {
  let rows: KeyRow[] = [];
  let generation: number | undefined;
  let inFlight: Promise<void> | undefined;
  const load = async (): Promise<void> => {
    const g = await o.store.generation();
    if (g === generation) return;
    rows = (await o.store.list()).filter((k) => k.state !== 'removed').map((k) => ({ id: k.id, domain: k.domain, algorithm: k.algorithm, state: k.state, stateSince: k.stateSince, ...(k.seenEverywhereAt !== undefined ? { seenEverywhereAt: k.seenEverywhereAt } : {}) }));
    generation = g;
  };
  // Several gauges collect at once: one read serves them. A store that cannot be read keeps
  // the last rows (mailanchor_store_up says it is down).
  const refresh = (): Promise<void> => (inFlight ??= load().catch(() => undefined).finally(() => (inFlight = undefined)));

  /** (domain, algorithm) pairs to report: the configured ones, and any with keys in the store. */
  const groups = (): { domain: string; algorithm: string; cfg: DomainKeysConfig; keys: KeyRow[] }[] => {
    const domains = o.config().domains;
    const out = new Map<string, { domain: string; algorithm: string; cfg: DomainKeysConfig; keys: KeyRow[] }>();
    for (const [domain, cfg] of Object.entries(domains)) for (const algorithm of cfg.algorithms) out.set(`${domain}|${algorithm}`, { domain, algorithm, cfg, keys: [] });
    for (const k of rows) {
      const key = `${k.domain}|${k.algorithm}`;
      const g = out.get(key) ?? { domain: k.domain, algorithm: k.algorithm, cfg: domains[k.domain] ?? domainDefaults(), keys: [] };
      g.keys.push(k);
      out.set(key, g);
    }
    return [...out.values()];
  };

  const registers = [registry];
  new Gauge({
    name: 'mailanchor_dkim_keys',
    help: 'DKIM keys in the store by domain, algorithm and lifecycle state (generated, published, active, retired, revoked)',
    labelNames: ['domain', 'algorithm', 'state'],
    registers,
    async collect() {
      await refresh();
      this.reset();
      const counts = new Map<string, { domain: string; algorithm: string; state: KeyState; n: number }>();
      for (const k of rows) {
        const key = `${k.domain}|${k.algorithm}|${k.state}`;
        const c = counts.get(key) ?? { domain: k.domain, algorithm: k.algorithm, state: k.state, n: 0 };
        c.n++;
        counts.set(key, c);
      }
      for (const c of counts.values()) this.set({ domain: c.domain, algorithm: c.algorithm, state: c.state }, c.n);
    },
  });
  new Gauge({
    name: 'mailanchor_dkim_active_key_age_seconds',
    help: 'Seconds since the active DKIM key of the domain and algorithm became active',
    labelNames: ['domain', 'algorithm'],
    registers,
    async collect() {
      await refresh();
      this.reset();
      const now = o.now();
      for (const g of groups()) {
        const newest = g.keys.filter((k) => k.state === 'active').reduce<KeyRow | undefined>((m, k) => (m === undefined || k.stateSince > m.stateSince ? k : m), undefined);
        if (newest) this.set({ domain: g.domain, algorithm: g.algorithm }, Math.round((now - newest.stateSince) / 1000));
      }
    },
  });
  new Gauge({
    name: 'mailanchor_dkim_next_step_seconds',
    help: 'Seconds until the next key lifecycle step of the domain and algorithm (negative: due and not done by keys rotate)',
    labelNames: ['domain', 'algorithm', 'step'],
    registers,
    async collect() {
      await refresh();
      this.reset();
      const now = o.now();
      for (const g of groups()) {
        const s = nextStep(g.keys, policyOf(g.cfg), now);
        this.set({ domain: g.domain, algorithm: g.algorithm, step: s.step }, Math.round((s.at - now) / 1000));
      }
    },
  });
  new Gauge({
    name: 'mailanchor_dkim_rotation_configured',
    help: '1 when keys.domains lists the domain, so keys rotate manages it; 0 for a domain with keys in the store that nothing rotates',
    labelNames: ['domain'],
    registers,
    async collect() {
      await refresh();
      this.reset();
      const domains = o.config().domains;
      for (const d of new Set([...Object.keys(domains), ...rows.map((k) => k.domain)])) this.set({ domain: d }, Object.hasOwn(domains, d) ? 1 : 0);
    },
  });
}
