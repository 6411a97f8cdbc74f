/**
 * The process logger (winston), built from the `log:` section and passed down — never a
 * global. Text format is one line per event, `message key=value …`, which journald and
 * grep handle well; JSON is for log shippers. Callers add `sid` (connection id) via child
 * loggers; key material and message bodies are never logged by anyone.
 */
import winston from 'winston';
import type { LogConfig } from './config.ts';

const RESERVED = new Set(['level', 'message', 'timestamp']);

function quote(v: unknown): string {
  const s = typeof v === 'string' ? v : Array.isArray(v) ? v.join(',') : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
  return /^[^\s"=]*$/.test(s) && s !== '' ? s : JSON.stringify(s);
}

/** `message sid=… queue_id=… verdict=…` — pure, for tests. */
export function formatTextLine(info: Record<string, unknown>): string {
  const fields = Object.entries(info)
    .filter(([k, v]) => !RESERVED.has(k) && typeof k === 'string' && v !== undefined)
    .map(([k, v]) => `${k}=${quote(v)}`);
  return [`${String(info['level'])}: ${String(info['message'])}`, ...fields].join(' ');
}

export function createLogger(config: LogConfig, stream?: NodeJS.WritableStream): winston.Logger {
  const format =
    config.format === 'json'
      ? winston.format.combine(winston.format.timestamp(), winston.format.json())
      : winston.format.printf((info) => formatTextLine(info as Record<string, unknown>));
  const out = stream ?? (config.destination === 'stdout' ? process.stdout : process.stderr);
  return winston.createLogger({ level: config.level, format, transports: [new winston.transports.Stream({ stream: out })] });
}
