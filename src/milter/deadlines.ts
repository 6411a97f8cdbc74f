/**
 * Deadlines on the MTA's side of one milter connection, which bytes do not reset (a socket
 * idle timer does: 1,000 connections sending one byte every 5 s stayed open forever):
 *
 * - frame (`frame_timeout`): a frame must be complete within this of its first byte;
 * - read (`read_timeout`): when it is the MTA's turn (we are not working on its commands
 *   and no frame is half-received), the next frame must come within this — Postfix is
 *   silent between SMTP commands while its client thinks, up to smtpd_timeout (300 s);
 * - data rate (`min_data_rate`): message content (first header to end of message) must
 *   arrive at this many bytes per second on average, after a grace of `frame_timeout`.
 *   Postfix's cleanup sends a message's content from the finished queue file, so a stall
 *   there is never the SMTP client's; time we spend working is not counted against it.
 *
 * Time we spend on its commands, and time we keep the socket paused (our backpressure),
 * never counts against the MTA. One timer per session, armed at the nearest deadline and
 * re-checked when it fires, so events only update numbers (no timer churn per frame).
 * Pure apart from the injected timers and clock.
 */
import type { MilterErrorCode } from './errors.ts';

export interface PeerDeadlineSettings {
  readonly readTimeoutMs: number;
  readonly frameTimeoutMs: number;
  /** Bytes per second; 0 switches the rule off. */
  readonly minDataRate: number;
}

export interface DeadlineTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export type DeadlineCode = Extract<MilterErrorCode, 'read-timeout' | 'frame-timeout' | 'data-rate'>;

interface Content {
  readonly startedAt: number;
  bytes: number;
  /** Time within the content phase that was ours (working, or the socket paused). */
  oursMs: number;
}

export class PeerDeadlines {
  readonly #s: PeerDeadlineSettings;
  readonly #timers: DeadlineTimers;
  readonly #now: () => number;
  readonly #expire: (code: DeadlineCode, detail: string) => void;
  #busy = false;
  #paused = false;
  #inFrame = false;
  #frameStartedAt = 0;
  /** When it last became the MTA's turn (a frame completed or our work ended). */
  #turnStartedAt: number;
  /** Since when the time is ours (busy or paused); undefined while it is the MTA's. */
  #oursSince: number | undefined;
  #content: Content | undefined;
  #timer: unknown;
  #armedAt = Infinity;
  #stopped = false;

  constructor(settings: PeerDeadlineSettings, timers: DeadlineTimers, now: () => number, expire: (code: DeadlineCode, detail: string) => void) {
    this.#s = settings;
    this.#timers = timers;
    this.#now = now;
    this.#expire = expire;
    this.#turnStartedAt = now();
    this.#reschedule();
  }

  /** After bytes were decoded: `completed` frames came out, `inFrame` = a frame is half-received. */
  received(completed: number, inFrame: boolean): void {
    const t = this.#now();
    if (completed > 0) this.#turnStartedAt = t;
    // A frame completed and another began in the same chunk: the new one starts its own clock.
    if (inFrame && (!this.#inFrame || completed > 0)) this.#frameStartedAt = t;
    this.#inFrame = inFrame;
    this.#reschedule();
  }

  /** We are working on the MTA's commands (true) or waiting for it (false). */
  setBusy(busy: boolean): void {
    if (busy === this.#busy) return;
    this.#ours(() => (this.#busy = busy));
    if (!busy) this.#turnStartedAt = this.#now();
  }

  /** The socket is paused by our backpressure: the MTA cannot send, so nothing runs against it. */
  setPaused(paused: boolean): void {
    if (paused === this.#paused) return;
    this.#ours(() => (this.#paused = paused));
    // Resumed: the half-received frame could not progress while we held it up.
    if (!paused) {
      this.#frameStartedAt = this.#now();
      this.#turnStartedAt = this.#now();
    }
  }

  contentStarted(): void {
    if (!this.#content) this.#content = { startedAt: this.#now(), bytes: 0, oursMs: 0 };
    this.#reschedule();
  }

  contentBytes(n: number): void {
    if (this.#content) this.#content.bytes += n;
  }

  contentEnded(): void {
    this.#content = undefined;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Applies a busy/paused change, keeping the count of our time within the content phase. */
  #ours(change: () => void): void {
    const wasOurs = this.#oursSince !== undefined;
    change();
    const isOurs = this.#busy || this.#paused;
    const t = this.#now();
    if (!wasOurs && isOurs) this.#oursSince = t;
    else if (wasOurs && !isOurs) {
      if (this.#content) this.#content.oursMs += t - Math.max(this.#oursSince!, this.#content.startedAt);
      this.#oursSince = undefined;
    }
    this.#reschedule();
  }

  #next(): { at: number; code: DeadlineCode; detail: string } | undefined {
    if (this.#stopped) return undefined;
    let best: { at: number; code: DeadlineCode; detail: string } | undefined;
    const consider = (at: number, code: DeadlineCode, detail: string): void => {
      if (!best || at < best.at) best = { at, code, detail };
    };
    if (this.#inFrame && !this.#paused) consider(this.#frameStartedAt + this.#s.frameTimeoutMs, 'frame-timeout', `a frame not complete ${this.#s.frameTimeoutMs} ms after its first byte`);
    if (!this.#inFrame && !this.#busy && !this.#paused) consider(this.#turnStartedAt + this.#s.readTimeoutMs, 'read-timeout', `no command from the MTA for ${this.#s.readTimeoutMs} ms`);
    const c = this.#content;
    if (c && this.#s.minDataRate > 0 && !this.#busy && !this.#paused) {
      const allowanceMs = this.#s.frameTimeoutMs + (c.bytes * 1000) / this.#s.minDataRate;
      consider(c.startedAt + c.oursMs + allowanceMs, 'data-rate', `message content slower than ${this.#s.minDataRate} bytes/s (${c.bytes} bytes)`);
    }
    return best;
  }

  #reschedule(): void {
    const d = this.#next();
    if (!d || d.at >= this.#armedAt) return;
    this.#arm(d.at);
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#armedAt = at;
    this.#timer = this.#timers.setTimeout(() => this.#fire(), Math.max(1, Math.ceil(at - this.#now())));
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedAt = Infinity;
    const d = this.#next();
    if (!d) return;
    if (d.at <= this.#now()) {
      this.stop();
      this.#expire(d.code, d.detail);
    } else this.#arm(d.at);
  }
}
