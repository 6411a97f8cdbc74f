/**
 * The sidecar: keeps each configured TLSA owner in step with its certificate files,
 * through the rollover rules (`rollover.ts`). One `syncSite` call = read files, observe
 * every authoritative server, decide, publish if the RRset must change, save the state,
 * log what was done. `runSidecar` calls it on every file change and on an interval.
 * All I/O comes in through `SidecarDeps`, so tests drive it with a fake clock.
 */
import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'winston';
import { describeError } from '../errors.ts';
import { readTlsaSource, type CertChain } from './cert-input.ts';
import { lintRecords } from './lint.ts';
import { siteZone, type DaneSiteConfig } from './config.ts';
import { DaneError } from './errors.ts';
import type { TlsaPublisher } from './publisher.ts';
import { planRollover, type RolloverPlan, type RolloverState, type TlsaObservation } from './rollover.ts';
import { computeRecords } from './tlsa-compute.ts';
import { tlsaOwner, tlsaText, type Tlsa } from './tlsa-params.ts';

export interface SidecarDeps {
  readonly publisher: TlsaPublisher;
  readonly observe: (site: DaneSiteConfig, owner: string) => Promise<TlsaObservation[]>;
  readonly loadState: (owner: string) => Promise<RolloverState>;
  readonly saveState: (state: RolloverState) => Promise<void>;
  readonly now: () => number;
  readonly logger: Logger;
}

export type SiteResult =
  | { readonly ok: true; readonly owner: string; readonly plan: RolloverPlan; readonly published: boolean }
  | { readonly ok: false; readonly owner: string; readonly error: string };

async function recordsOf(files: readonly string[], site: DaneSiteConfig, now: number, log: Logger, chains: CertChain[] = []): Promise<Tlsa[]> {
  const out: Tlsa[] = [];
  for (const file of files) {
    const src = await readTlsaSource(file, { now });
    if (src.kind === 'chain') chains.push(src);
    const computed = computeRecords(src, site.records === 'dane-ee' ? { usage: 3 } : {});
    for (const w of computed.warnings) log.warn(w.message, { warning: w.code, file: w.file });
    out.push(...computed.records.map(({ usage, selector, matchingType, data }) => ({ usage, selector, matchingType, data })));
  }
  return out;
}

export async function syncSite(site: DaneSiteConfig, deps: SidecarDeps): Promise<SiteResult> {
  const owner = tlsaOwner(site.host, site.port, site.proto);
  const zone = siteZone(site);
  const now = deps.now();
  const log = deps.logger.child({ owner });
  let inService: Tlsa[];
  let next: Tlsa[];
  const chains: CertChain[] = [];
  try {
    inService = await recordsOf(site.cert_files, site, now, log, chains);
    next = await recordsOf(site.next_files, site, now, log);
  } catch (err) {
    // Bad input never becomes a record: leave DNS as it is and say why.
    log.error('certificate input rejected; TLSA RRset left unchanged', describeError(err));
    return { ok: false, owner, error: describeError(err).message };
  }
  if (inService.length === 0) {
    log.error('no certificate files configured for this site; nothing published');
    return { ok: false, owner, error: 'no cert_files' };
  }
  const state = await deps.loadState(owner);
  let observations: TlsaObservation[];
  try {
    observations = await deps.observe(site, owner);
  } catch (err) {
    log.error('authoritative servers could not be observed; nothing changed', describeError(err));
    return { ok: false, owner, error: describeError(err).message };
  }
  for (const o of observations) if (!o.ok) log.warn('authoritative server not serving', { server: o.server, error: o.error });
  const ttlSec = Math.round(site.ttl / 1000);
  const { state: nextState, plan } = planRollover(state, { inService, next, observations, ttlSec, smtp: site.port === 25 }, now);
  for (const f of lintRecords({ port: site.port, records: plan.publish, chains, host: site.host, now })) log.warn(f.message, { lint: f.code });
  let published = false;
  if (plan.add.length > 0 || plan.remove.length > 0) {
    try {
      await deps.publisher.replace(zone, owner, plan.publish, ttlSec);
      published = true;
      log.info('published TLSA RRset', { publisher: deps.publisher.name, zone, records: plan.publish.map(tlsaText), added: plan.add.map(tlsaText), removed: plan.remove.map(tlsaText) });
    } catch (err) {
      log.error('publishing the TLSA RRset failed', { publisher: deps.publisher.name, ...describeError(err) });
    }
  }
  await deps.saveState(nextState);
  log.info(plan.message, { phase: plan.phase, ...(plan.deploy ? { deploySafe: plan.deploy.safe, deployReason: plan.deploy.reason } : {}) });
  return { ok: true, owner, plan, published };
}

/**
 * Runs until `signal` aborts: a sync of every site at start, after any change in a
 * directory holding a watched file (certbot replaces files through symlinks, so the
 * directory is watched), and every `intervalMs`.
 */
export async function runSidecar(sites: readonly DaneSiteConfig[], deps: SidecarDeps, options: { intervalMs: number; signal: AbortSignal; debounceMs?: number }): Promise<void> {
  if (sites.length === 0) throw new DaneError('BAD_PARAMETER', 'dane.sites is empty: nothing for the sidecar to keep in step', {});
  let running = false;
  let again = false;
  const syncAll = async (why: string): Promise<void> => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      deps.logger.info('syncing TLSA records', { reason: why, sites: sites.length });
      for (const site of sites) await syncSite(site, deps);
    } finally {
      running = false;
    }
    if (again) {
      again = false;
      await syncAll('change during sync');
    }
  };
  const watchers: FSWatcher[] = [];
  let debounce: NodeJS.Timeout | undefined;
  const dirs = new Set(sites.flatMap((s) => [...s.cert_files, ...s.next_files]).map((f) => dirname(f)));
  for (const dir of dirs) {
    try {
      watchers.push(
        watch(dir, () => {
          clearTimeout(debounce);
          debounce = setTimeout(() => void syncAll(`file change in ${dir}`), options.debounceMs ?? 1000);
        }),
      );
    } catch (err) {
      deps.logger.warn('cannot watch directory; relying on the interval', { dir, ...describeError(err) });
    }
  }
  const timer = setInterval(() => void syncAll('interval'), options.intervalMs);
  try {
    await syncAll('start');
    await new Promise<void>((resolve) => {
      if (options.signal.aborted) resolve();
      options.signal.addEventListener('abort', () => resolve(), { once: true });
    });
  } finally {
    clearInterval(timer);
    clearTimeout(debounce);
    for (const w of watchers) w.close();
  }
}
