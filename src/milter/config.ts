/** The `milter:` section of the config file; every key documented in mailanchor.example.yml. */
import { bool, duration, fileMode, int, list, listenSpec, object, oneOf, optional, str, withDefault, type Infer } from '../config/schema.ts';
import { parseListenSpec } from '../config/schema.ts';
import type { MilterSessionSettings } from './session.ts';

export const DEFAULT_LISTEN = 'inet:127.0.0.1:8891';

export const milterSection = object({
  listen: withDefault(list(listenSpec()), () => [parseListenSpec(DEFAULT_LISTEN)!]),
  socket_mode: withDefault(fileMode(), () => 0o660),
  socket_owner: optional(str()),
  socket_group: optional(str()),
  read_timeout: withDefault(duration(), () => 5 * 60_000),
  eom_timeout: withDefault(duration(), () => 5 * 60_000),
  progress_interval: withDefault(duration(), () => 10_000),
  max_frame: withDefault(int({ min: 70_000, max: 64 * 1024 * 1024 }), () => 1024 * 1024),
  max_sessions: withDefault(int({ min: 1, max: 100_000 }), () => 1000),
  drain_timeout: withDefault(duration(), () => 30_000),
  on_filter_error: withDefault(oneOf(['tempfail', 'accept'] as const), () => 'tempfail' as const),
  log_protocol: withDefault(bool(), () => false),
  /**
   * Worker processes sharing the listening sockets (node:cluster). One process uses one core
   * for the authentication engine; set this to the number of cores on a busy MX. Each worker has
   * its own DNS cache and at most max_sessions connections.
   */
  workers: withDefault(int({ min: 1, max: 64 }), () => 1),
});

export type MilterConfig = Infer<typeof milterSection>;

export function sessionSettings(c: MilterConfig): MilterSessionSettings {
  return {
    readTimeoutMs: c.read_timeout,
    eomTimeoutMs: c.eom_timeout,
    progressIntervalMs: c.progress_interval,
    maxFrame: c.max_frame,
    onFilterError: c.on_filter_error,
    logProtocol: c.log_protocol,
  };
}

export function socketOptions(c: MilterConfig): { mode: number; owner?: string; group?: string } {
  return { mode: c.socket_mode, ...(c.socket_owner ? { owner: c.socket_owner } : {}), ...(c.socket_group ? { group: c.socket_group } : {}) };
}
