/**
 * TLSA match state per `dane.sites` entry, checked by the milter in the background every
 * `dane.interval` (src/dane/match-state.ts) through its own resolver, and exported as
 *
 * - `mailanchor_dane_tlsa_state{site, state}`: 1 for the site's current state (match,
 *   mismatch, missing, error), 0 for the others (a state set: alert on `state="mismatch"`);
 * - `mailanchor_dane_tlsa_authenticated{site}`: 1 when the answer was DNSSEC-validated;
 * - `mailanchor_dane_tlsa_checked_timestamp_seconds{site}`: when it was last checked.
 *
 * A site not checked yet has no series. Registered in one process only (the single milter,
 * or worker 0 of a cluster). Checks never overlap; a slow round delays the next one.
 */
import type { Logger } from 'winston';
import { Gauge, type Registry } from 'prom-client';
import type { DaneConfig } from '../dane/config.ts';
import { checkSiteTlsa, TLSA_MATCH_STATES, type TlsaSiteState } from '../dane/match-state.ts';
import type { DnsLookup } from '../dns/types.ts';
import { describeError } from '../errors.ts';

export interface DaneMetricsOptions {
  /** The config in use now (it changes on SIGHUP). */
  readonly config: () => DaneConfig;
  /** The resolver in use now. */
  readonly dns: () => DnsLookup;
  readonly now: () => number;
  readonly logger: Logger;
}

export interface DaneMetrics {
  /** One round now (tests; the timer calls it too). */
  check(): Promise<void>;
  stop(): void;
}

export function startDaneMetrics(registry: Registry, o: DaneMetricsOptions): DaneMetrics {
  let results = new Map<string, TlsaSiteState & { at: number }>();
  const registers = [registry];
  new Gauge({
    name: 'mailanchor_dane_tlsa_state',
    help: 'TLSA records senders see for a dane.sites entry against its cert_files: 1 for the current state (match, mismatch, missing, error)',
    labelNames: ['site', 'state'],
    registers,
    collect() {
      this.reset();
      for (const r of results.values()) for (const state of TLSA_MATCH_STATES) this.set({ site: r.site, state }, r.state === state ? 1 : 0);
    },
  });
  new Gauge({
    name: 'mailanchor_dane_tlsa_authenticated',
    help: '1 when the TLSA answer for the site was DNSSEC-validated (AD); senders ignore records that are not',
    labelNames: ['site'],
    registers,
    collect() {
      this.reset();
      for (const r of results.values()) this.set({ site: r.site }, r.authenticated ? 1 : 0);
    },
  });
  new Gauge({
    name: 'mailanchor_dane_tlsa_checked_timestamp_seconds',
    help: 'When the TLSA match state of the site was last checked',
    labelNames: ['site'],
    registers,
    collect() {
      this.reset();
      for (const r of results.values()) this.set({ site: r.site }, Math.floor(r.at / 1000));
    },
  });

  let running: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const round = async (): Promise<void> => {
    const sites = o.config().sites;
    const next = new Map<string, TlsaSiteState & { at: number }>();
    for (const site of sites) {
      const r = await checkSiteTlsa(site, o.dns(), o.now());
      const before = results.get(r.site);
      // Logged when it changes, and at the first check when it is not a match.
      if (before ? before.state !== r.state : r.state !== 'match') o.logger.log(r.state === 'match' ? 'info' : 'warn', 'TLSA match state', { site: r.site, ...(before ? { from: before.state } : {}), state: r.state, detail: r.detail });
      next.set(r.site, { ...r, at: o.now() });
    }
    results = next; // sites removed from the config lose their series
  };
  const check = (): Promise<void> =>
    (running ??= round()
      .catch((err: unknown) => void o.logger.error('TLSA match check failed', describeError(err)))
      .finally(() => (running = undefined)));
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => void check().then(schedule), o.config().interval);
    timer.unref();
  };
  if (o.config().sites.length > 0) void check().then(schedule);
  else schedule();
  return {
    check,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
