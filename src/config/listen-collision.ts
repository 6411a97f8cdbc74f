/**
 * The milter's listeners and the metrics endpoint must not name the same TCP address: the
 * second bind fails with EADDRINUSE at start, after the config looked valid. Checked when
 * the file is decoded and again after `--listen` / `--metrics-listen` override it.
 */
import type { ListenSpec } from './schema.ts';

const WILDCARDS = new Set(['', '0.0.0.0', '::', '*']);

/** Same port, and the same address or either one every address (port 0 = any free port: never). */
export function sameTcpAddress(a: { readonly host: string; readonly port: number }, b: { readonly host: string; readonly port: number }): boolean {
  if (a.port === 0 || b.port === 0 || a.port !== b.port) return false;
  const ha = a.host.toLowerCase();
  const hb = b.host.toLowerCase();
  return ha === hb || WILDCARDS.has(ha) || WILDCARDS.has(hb);
}

/** The index of the first milter listener that collides with the metrics endpoint, if any. */
export function metricsCollision(milter: readonly ListenSpec[], metrics: { readonly host: string; readonly port: number } | undefined): number | undefined {
  if (!metrics) return undefined;
  const i = milter.findIndex((l) => l.kind === 'tcp' && sameTcpAddress(l, metrics));
  return i < 0 ? undefined : i;
}
