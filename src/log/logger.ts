/**
 * The process logger (winston), built from the `log:` section and passed down — never a
 * global. Every command (milter, keys, tlsa, report …) logs through this one factory, so a
 * line looks the same whoever wrote it:
 *
 * - `text` (default): one line per event, `message key=value …`. Values with spaces,
 *   quotes, `=` or control characters are JSON-quoted, so a line never breaks in two and
 *   `grep`/`awk` can split it. When the stream is the systemd journal (`$JOURNAL_STREAM`
 *   names its device and inode, systemd.exec(5)) the level is written as the sd-daemon(3)
 *   priority prefix `<3>`…`<7>`, which journald turns into the entry's PRIORITY (so
 *   `journalctl -p warning` works) and does not show; elsewhere (a terminal, a pipe, cron)
 *   it is written as `warn: `. No timestamp: journald and syslog add their own.
 * - `json`: one object per line with `time` (ISO 8601), `level`, `message` and the same
 *   fields, for log shippers.
 *
 * Callers add context (`sid`, `queue_id`, `domain`, `selector` …) as fields, in snake_case
 * like the config keys; key material and message bodies are never logged by anyone.
 */
import { fstatSync } from 'node:fs';
import winston from 'winston';
import type { LogConfig } from './config.ts';

const RESERVED = new Set(['level', 'message', 'timestamp', 'time']);

/** syslog(3) priorities of our levels (sd-daemon(3) prefixes). */
export const SYSLOG_PRIORITY: Readonly<Record<string, number>> = { error: 3, warn: 4, info: 6, debug: 7 };

/** One line: control characters (CR, LF …) become visible escapes instead of breaking it. */
function oneLine(s: string): string {
  return /[\u0000-\u001f\u007f]/.test(s) ? JSON.stringify(s).slice(1, -1) : s;
}

function quote(v: unknown): string {
  const s = typeof v === 'string' ? v : Array.isArray(v) ? v.join(',') : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
  return /^[^\s"=\u0000-\u001f\u007f]+$/.test(s) ? s : JSON.stringify(s);
}

export interface TextLineOptions {
  /** Write the level as `<N>` (the journal) instead of `level: `. */
  readonly syslogPrefix?: boolean;
}

const SPLAT = Symbol.for('splat');

/**
 * Callers spread `describeError(err)` (`{ message, code }`) into the fields; winston then
 * appends that message to the line's own ("cannot watch directory EACCES: …"). Undo it,
 * so the error text is always the `error` field, whoever logged it. The original fields
 * are winston's documented `Symbol.for('splat')`.
 */
export function separateError(info: Record<string | symbol, unknown>): Record<string, unknown> {
  const meta = (info[SPLAT] as unknown[] | undefined)?.[0] as { message?: unknown } | undefined;
  const message = String(info['message']);
  if (meta && typeof meta === 'object' && typeof meta.message === 'string' && message.endsWith(` ${meta.message}`)) {
    const { message: _merged, ...fields } = info as Record<string, unknown>;
    return { message: message.slice(0, -meta.message.length - 1), ...fields, error: meta.message };
  }
  return info as Record<string, unknown>;
}

/** `warn: message sid=… queue_id=… verdict=…` (or `<4>message …` for the journal) — pure, for tests. */
export function formatTextLine(info: Record<string, unknown>, o: TextLineOptions = {}): string {
  const level = String(info['level']);
  const fields = Object.entries(info)
    .filter(([k, v]) => !RESERVED.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${quote(v)}`);
  const prefix = o.syslogPrefix ? `<${SYSLOG_PRIORITY[level] ?? 6}>` : `${level}: `;
  return [`${prefix}${oneLine(String(info['message']))}`, ...fields].join(' ');
}

/** `{"time":…,"level":…,"message":…,…}` — pure, for tests. */
export function formatJsonLine(info: Record<string, unknown>, time: Date): string {
  const { level, message, ...fields } = info;
  return JSON.stringify({ time: time.toISOString(), level, message, ...fields });
}

/**
 * Whether `stream` is systemd's journal: `$JOURNAL_STREAM` is `DEVICE:INODE` of the socket
 * systemd connected stdout/stderr to; a stream redirected elsewhere has another inode.
 */
export function isJournalStream(stream: NodeJS.WritableStream, env: NodeJS.ProcessEnv = process.env): boolean {
  const want = env['JOURNAL_STREAM'];
  const fd = (stream as { fd?: unknown }).fd;
  if (!want || typeof fd !== 'number') return false;
  try {
    const st = fstatSync(fd, { bigint: true });
    return want === `${st.dev}:${st.ino}`;
  } catch {
    return false;
  }
}

export interface LoggerOptions {
  /** Where lines go; default from `log.destination`. */
  readonly stream?: NodeJS.WritableStream;
  readonly env?: NodeJS.ProcessEnv;
  readonly now?: () => Date;
}

export function createLogger(config: LogConfig, streamOrOptions?: NodeJS.WritableStream | LoggerOptions): winston.Logger {
  const o: LoggerOptions = streamOrOptions && 'write' in streamOrOptions ? { stream: streamOrOptions } : ((streamOrOptions as LoggerOptions | undefined) ?? {});
  const out = o.stream ?? (config.destination === 'stdout' ? process.stdout : process.stderr);
  const now = o.now ?? (() => new Date());
  const syslogPrefix = isJournalStream(out, o.env);
  const format =
    config.format === 'json'
      ? winston.format.printf((info) => formatJsonLine(separateError(info), now()))
      : winston.format.printf((info) => formatTextLine(separateError(info), { syslogPrefix }));
  const logger = winston.createLogger({ level: config.level, format, transports: [new winston.transports.Stream({ stream: out })] });
  skipDisabledLevels(logger);
  return logger;
}

type LevelMethod = (this: winston.Logger, ...args: unknown[]) => winston.Logger;

/**
 * winston drops a line below the level only in its transport, after the line went through
 * its stream and our format (every `info` of every message, at `level: warn`): a call for a
 * level no transport takes returns at once instead. The level is read at each call, so a
 * logger whose level is changed later still follows it; child loggers inherit the methods.
 */
function skipDisabledLevels(logger: winston.Logger): void {
  const methods = logger as unknown as Record<string, LevelMethod>;
  for (const level of Object.keys(logger.levels)) {
    const write = methods[level];
    if (typeof write !== 'function') continue;
    methods[level] = function (this: winston.Logger, ...args: unknown[]): winston.Logger {
      return this.isLevelEnabled(level) ? write.apply(this, args) : this;
    };
  }
}
