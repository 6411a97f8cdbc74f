/**
 * Which milter session the running code works for. The server runs everything a session
 * does inside `sessionScope.run(session, …)`, so promises, timers and callbacks created for
 * it carry it along (AsyncLocalStorage). Node 24 calls `unhandledRejection` in the context
 * of the promise that rejected, and `uncaughtException` in that of the callback that threw,
 * so the process-level policy (src/app/process-errors.ts) can end that one session instead
 * of the process.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface ScopedSession {
  readonly id: string;
  /** Ends this session after an error no filter call caught. */
  failInternal(err: unknown): void;
}

export const sessionScope = new AsyncLocalStorage<ScopedSession>();
