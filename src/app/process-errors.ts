/**
 * The process-level policy for errors no code caught: an `unhandledRejection` or an
 * `uncaughtException`. Node's default is to end the process, which for a milter means every
 * session at once — and issue 16 showed one internet sender could trigger it at will. Here:
 *
 * - each is logged and counted (`mailanchor_process_errors_total{kind, scope}`);
 * - when it happened in the work of one milter session (the `sessionScope` the server runs
 *   every session in), that session ends — Postfix applies milter_default_action to its
 *   message — and the process and every other session go on;
 * - outside any session it is logged and counted and the process goes on, unless such
 *   errors keep coming (more than `maxOutside` within `windowMs`): then something is broken
 *   for good, and the process exits (code 70) so systemd or the cluster primary starts a
 *   fresh one. One message can never cause that: its errors land in its session.
 *
 * Installed by the CLI (`src/cli/milter.ts`) once the runtime is up; importing this module
 * installs nothing.
 */
import type { Logger } from 'winston';
import { Counter, type Registry } from 'prom-client';
import { describeError } from '../errors.ts';
import { sessionScope } from '../milter/session-scope.ts';

export type ProcessErrorKind = 'unhandledRejection' | 'uncaughtException';

export interface ProcessErrorPolicyOptions {
  readonly logger: Logger;
  readonly registry?: Registry;
  /** Errors outside any session tolerated within `windowMs` before the process exits. Default 10. */
  readonly maxOutside?: number;
  readonly windowMs?: number;
  /** How the process ends when errors outside sessions keep coming; tests replace it. */
  readonly exit?: (code: number) => void;
  readonly now?: () => number;
}

export interface ProcessErrorPolicy {
  /** What the handlers do, callable directly (tests). */
  handle(kind: ProcessErrorKind, err: unknown): void;
  uninstall(): void;
}

export function installProcessErrorPolicy(o: ProcessErrorPolicyOptions): ProcessErrorPolicy {
  const counter = o.registry
    ? new Counter({ name: 'mailanchor_process_errors_total', help: 'Errors no code caught, by kind and whether a session could be held responsible', labelNames: ['kind', 'scope'], registers: [o.registry] })
    : undefined;
  const maxOutside = o.maxOutside ?? 10;
  const windowMs = o.windowMs ?? 60_000;
  const now = o.now ?? Date.now;
  const exit = o.exit ?? ((code: number) => process.exit(code));
  const recent: number[] = [];

  const handle = (kind: ProcessErrorKind, err: unknown): void => {
    const session = sessionScope.getStore();
    counter?.inc({ kind, scope: session ? 'session' : 'process' });
    const e = describeError(err);
    if (session) {
      o.logger.error('error no code caught, in one milter session: ending that session only', { kind, sid: session.id, error: e.message, code: e.code, stack: err instanceof Error ? err.stack : undefined });
      session.failInternal(err);
      return;
    }
    o.logger.error('error no code caught, outside any milter session', { kind, error: e.message, code: e.code, stack: err instanceof Error ? err.stack : undefined });
    const t = now();
    recent.push(t);
    while (recent.length && recent[0]! < t - windowMs) recent.shift();
    if (recent.length > maxOutside) {
      o.logger.error('errors outside any session keep coming: exiting so that a fresh process takes over', { errors: recent.length, window_ms: windowMs });
      exit(70);
    }
  };
  const onRejection = (reason: unknown): void => handle('unhandledRejection', reason);
  const onException = (err: Error): void => handle('uncaughtException', err);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return {
    handle,
    uninstall() {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    },
  };
}
