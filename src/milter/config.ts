/** The `milter:` section of the config file; every key documented in mailanchor.example.yml. */
import { bool, described, duration, fileMode, int, list, listenSpec, object, oneOf, optional, str, withDefault, type Decoder, type Infer } from '../config/schema.ts';
import { parseListenSpec } from '../config/schema.ts';
import type { MilterSessionSettings } from './session.ts';

export const DEFAULT_LISTEN = 'inet:127.0.0.1:8891';

/** A whole number from 1 to 64, or `auto`: one worker per core (os.availableParallelism). */
const workerCount = (): Decoder<number | 'auto'> =>
  described('whole number from 1 to 64, or auto', (v, path, issues) => {
    if (v === 'auto') return 'auto';
    return int({ min: 1, max: 64 })(v, path, issues);
  });

export const milterSection = object({
  listen: withDefault(list(listenSpec()), () => [parseListenSpec(DEFAULT_LISTEN)!]),
  socket_mode: withDefault(fileMode(), () => 0o660),
  socket_owner: optional(str()),
  socket_group: optional(str()),
  /**
   * Deadlines on the MTA's side, none of which bytes reset (docs/milter.md "Budgets and
   * deadlines"): the next frame when it is the MTA's turn; a frame from its first byte to
   * its last; message content from its first header to end of message, at least this rate.
   */
  read_timeout: withDefault(duration({ min: 1000 }), () => 5 * 60_000),
  frame_timeout: withDefault(duration({ min: 100 }), () => 10_000),
  min_data_rate: withDefault(int({ min: 0, max: 1024 * 1024 * 1024 }), () => 16 * 1024),
  /** Deadlines on our side: a filter callback before end of message, and end of message. */
  command_timeout: withDefault(duration({ min: 100 }), () => 25_000),
  eom_timeout: withDefault(duration({ min: 100 }), () => 5 * 60_000),
  progress_interval: withDefault(duration(), () => 10_000),
  max_frame: withDefault(int({ min: 70_000, max: 64 * 1024 * 1024 }), () => 1024 * 1024),
  /** Bytes the process holds for all sessions' frames together; a new frame past it is refused. */
  max_buffered: withDefault(int({ min: 1024 * 1024, max: 64 * 1024 * 1024 * 1024 }), () => 64 * 1024 * 1024),
  max_sessions: withDefault(int({ min: 1, max: 100_000 }), () => 1000),
  drain_timeout: withDefault(duration(), () => 30_000),
  on_filter_error: withDefault(oneOf(['tempfail', 'accept'] as const), () => 'tempfail' as const),
  log_protocol: withDefault(bool(), () => false),
  /**
   * Worker processes, each with its own listener (node:cluster): one process uses one core
   * for the authentication engine; `auto` = the number of cores. Each worker has its own DNS
   * cache and at most max_sessions connections.
   */
  workers: withDefault(workerCount(), () => 1),
});

export type MilterConfig = Infer<typeof milterSection>;

export function sessionSettings(c: MilterConfig): MilterSessionSettings {
  return {
    readTimeoutMs: c.read_timeout,
    frameTimeoutMs: c.frame_timeout,
    minDataRate: c.min_data_rate,
    commandTimeoutMs: c.command_timeout,
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
