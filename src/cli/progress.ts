/**
 * One progress line for long work (a rotation asking nameservers, report deliveries, an
 * audit), written only when its stream — stderr — is a terminal: `git` and `rsync` do the
 * same, so a pipe, a log file, cron and systemd (stderr is the journal) see nothing of it
 * and the command's output stays what it was. stdout keeps the results either way.
 *
 * The line is rewritten in place (`\r`, then erase to the end of the line; a `TERM=dumb`
 * terminal gets spaces instead), cut to the terminal's width so it never wraps, updated at
 * most every 100 ms, and carries the seconds since the work began, refreshed each second.
 * Anything else written to the same terminal while it shows goes through `guard()`, which
 * clears the line first and draws it again after, so log lines and results never land in
 * the middle of it.
 */
import { Writable } from 'node:stream';
import type { CliIo } from './io.ts';

export interface Progress {
  /** False when the stream is not a terminal: every method then does nothing. */
  readonly active: boolean;
  /** The text after the label (`3/120 domains, now example.org`). */
  set(text: string): void;
  /** Removes the line (it comes back with the next `set`). */
  clear(): void;
  /** Removes the line for good and stops the clock. */
  done(): void;
  /** `stream` for other output to the same terminal: writes clear the line first. Unchanged when inactive. */
  guard(stream: NodeJS.WritableStream): NodeJS.WritableStream;
}

export interface ProgressOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly now?: () => number;
  /** Shortest time between two drawings, ms. Default 100. */
  readonly minIntervalMs?: number;
}

/** A progress that shows nothing, for work too short to need one. */
export const NO_PROGRESS: Progress = { active: false, set() {}, clear() {}, done() {}, guard: (s) => s };
const INACTIVE = NO_PROGRESS;

export const isTerminal = (stream: NodeJS.WritableStream): boolean => (stream as { isTTY?: boolean }).isTTY === true;

/** A progress line `LABEL: TEXT — N s` on `stream` (stderr), or nothing when it is not a terminal. */
export function startProgress(stream: NodeJS.WritableStream, label: string, options: ProgressOptions = {}): Progress {
  if (!isTerminal(stream)) return INACTIVE;
  const now = options.now ?? Date.now;
  const minInterval = options.minIntervalMs ?? 100;
  const dumb = (options.env ?? process.env)['TERM'] === 'dumb';
  const started = now();
  let text = '';
  let shown = 0; // characters on screen (0: nothing)
  let lastDraw = -Infinity;
  let pending: NodeJS.Timeout | undefined;
  let finished = false;

  // A terminal that reports no size (0: a pseudo-terminal nobody sized) is taken as 80 columns.
  const width = (): number => Math.max(20, ((stream as { columns?: number }).columns || 80) - 1);
  const erase = (): void => {
    if (shown === 0) return;
    stream.write(dumb ? `\r${' '.repeat(shown)}\r` : '\r\x1b[K');
    shown = 0;
  };
  const draw = (): void => {
    if (finished || text === '') return;
    if (pending) clearTimeout(pending);
    pending = undefined;
    let line = `${label}: ${text} — ${Math.round((now() - started) / 1000)} s`;
    if (line.length > width()) line = `${line.slice(0, width() - 1)}…`;
    stream.write(dumb ? `\r${line.padEnd(shown)}` : `\r${line}\x1b[K`);
    shown = line.length;
    lastDraw = now();
  };
  // The seconds keep moving while one step (a nameserver that does not answer) takes long.
  const clock = setInterval(draw, 1000);
  clock.unref();

  const schedule = (): void => {
    const wait = lastDraw + minInterval - now();
    if (wait <= 0) draw();
    else if (!pending) {
      pending = setTimeout(draw, wait);
      pending.unref();
    }
  };

  const progress: Progress = {
    active: true,
    set(t) {
      text = t.replace(/[\r\n]+/g, ' ');
      schedule();
    },
    clear: erase,
    done() {
      erase();
      finished = true;
      clearInterval(clock);
      if (pending) clearTimeout(pending);
    },
    guard(target) {
      return new Writable({
        // Passed on at once (not when the target calls back), so the order of writes to both
        // streams is the order they were made in, and nothing is still queued when a command returns.
        write(chunk: Buffer | string, _encoding, callback) {
          erase();
          target.write(chunk);
          if (String(chunk).endsWith('\n')) schedule();
          callback();
        },
      });
    },
  };
  return progress;
}

/** The command's io with stdout and stderr guarded, so nothing it prints lands inside the line. */
export function guardIo(io: CliIo, progress: Progress): CliIo {
  return progress.active ? { ...io, stdout: progress.guard(io.stdout), stderr: progress.guard(io.stderr) } : io;
}
