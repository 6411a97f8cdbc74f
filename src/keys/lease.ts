/**
 * The rotation lease port: one rotation advances a domain at a time, across every host that
 * shares the store. A lease is a row (name, holder, expires_at); a holder killed while holding
 * it (kill -9, a host that died) releases it by expiry, and a holder on this host whose
 * process is gone is recognised at once (`staleHolder`). Expiry uses the callers' clocks, so
 * the hosts of a fleet must keep NTP time (they must anyway: DKIM t= and report periods).
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

/** A lease held: passed to the writes that must happen only while it is held. */
export interface LeaseFence {
  readonly name: string;
  readonly holder: string;
  /** The writer's clock now; the lease must expire after it. */
  readonly now: number;
}

export interface Lease {
  /**
   * True when `holder` now holds `name` until `now + ttlMs`; false when someone else holds
   * an unexpired lease that `isStale` does not declare dead.
   */
  acquire(name: string, holder: string, now: number, ttlMs: number, isStale?: (holder: string) => boolean): Promise<boolean>;
  /** Extends a lease `holder` still holds; false when it expired and someone else took it. */
  renew(name: string, holder: string, now: number, ttlMs: number): Promise<boolean>;
  release(name: string, holder: string): Promise<void>;
}

/** `host:pid:uuid`, so a lease left by a killed process on this host can be recognised. */
export const leaseHolder = (host: string = hostname()): string => `${host}:${process.pid}:${randomUUID()}`;

/** A lease whose holder process on this host no longer exists (kill -9) is stale. */
export function staleHolder(holder: string): boolean {
  const [host, pid] = holder.split(':');
  if (host !== hostname() || !pid || !/^\d+$/.test(pid)) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
