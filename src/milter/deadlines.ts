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
    const wasOurs = this.#isOurs();
    this.#busy = busy;
    this.#oursChanged(wasOurs);
    if (!busy) this.#turnStartedAt = this.#now();
  }

  /** The socket is paused by our backpressure: the MTA cannot send, so nothing runs against it. */
  setPaused(paused: boolean): void {
    if (paused === this.#paused) return;
    const wasOurs = this.#isOurs();
    this.#paused = paused;
    this.#oursChanged(wasOurs);
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

  #isOurs(): boolean {
    return this.#oursSince !== undefined;
  }

  /** After a busy/paused change: keeps the count of our time within the content phase. */
  #oursChanged(wasOurs: boolean): void {
    const isOurs = this.#busy || this.#paused;
    const t = this.#now();
    if (!wasOurs && isOurs) this.#oursSince = t;
    else if (wasOurs && !isOurs) {
      if (this.#content) this.#content.oursMs += t - Math.max(this.#oursSince!, this.#content.startedAt);
      this.#oursSince = undefined;
    }
    this.#reschedule();
  }

  // The three deadlines, Infinity when one does not run. Called on every chunk and every
  // busy/paused change, so they build nothing; the detail is written only when one expires.
  #frameAt(): number {
    return this.#inFrame && !this.#paused ? this.#frameStartedAt + this.#s.frameTimeoutMs : Infinity;
  }

  #readAt(): number {
    return !this.#inFrame && !this.#busy && !this.#paused ? this.#turnStartedAt + this.#s.readTimeoutMs : Infinity;
  }

  #rateAt(): number {
    const c = this.#content;
    if (!c || this.#s.minDataRate <= 0 || this.#busy || this.#paused) return Infinity;
    const allowanceMs = this.#s.frameTimeoutMs + (c.bytes * 1000) / this.#s.minDataRate;
    return c.startedAt + c.oursMs + allowanceMs;
  }

  /** The nearest deadline (the first of equals in the order frame, read, data rate). */
  #next(): { at: number; code: DeadlineCode; detail: string } | undefined {
    if (this.#stopped) return undefined;
    const frame = this.#frameAt();
    const read = this.#readAt();
    const rate = this.#rateAt();
    if (frame === Infinity && read === Infinity && rate === Infinity) return undefined;
    if (frame <= read && frame <= rate) return { at: frame, code: 'frame-timeout', detail: `a frame not complete ${this.#s.frameTimeoutMs} ms after its first byte` };
    if (read <= rate) return { at: read, code: 'read-timeout', detail: `no command from the MTA for ${this.#s.readTimeoutMs} ms` };
    return { at: rate, code: 'data-rate', detail: `message content slower than ${this.#s.minDataRate} bytes/s (${this.#content!.bytes} bytes)` };
  }

  #reschedule(): void {
    if (this.#stopped) return;
    const at = Math.min(this.#frameAt(), this.#readAt(), this.#rateAt());
    if (at === Infinity || at >= this.#armedAt) return;
    this.#arm(at);
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
