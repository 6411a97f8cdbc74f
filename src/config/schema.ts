/**
 * Small typed decoders for the config file. Each feature declares its own section with
 * these (in its own folder, e.g. `src/keys/config.ts`); `src/config/load.ts` composes the
 * sections, decodes the whole file once and reports every problem with its key path and
 * line. A decoder records problems in `issues` and keeps going, so one run shows them all;
 * its return value is only used when `issues` stays empty.
 */
import { isIP } from 'node:net';

export interface ConfigIssue {
  /** Dotted key path, e.g. `keys.domains[1].selector`. */
  readonly path: string;
  readonly message: string;
  /** 1-based line in the config file, where known. */
  readonly line?: number;
}

export type Decoder<T> = (value: unknown, path: string, issues: ConfigIssue[]) => T;
export type Infer<D> = D extends Decoder<infer T> ? T : never;

function fail<T>(issues: ConfigIssue[], path: string, message: string): T {
  issues.push({ path, message });
  return undefined as T;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

export const str =
  (opts: { pattern?: RegExp; hint?: string; nonEmpty?: boolean } = {}): Decoder<string> =>
  (v, path, issues) => {
    if (typeof v !== 'string') return fail(issues, path, `expected a string, got ${describe(v)}`);
    if (opts.nonEmpty !== false && v.length === 0) return fail(issues, path, 'must not be empty');
    if (opts.pattern && !opts.pattern.test(v)) return fail(issues, path, `invalid value ${JSON.stringify(v)}${opts.hint ? `: ${opts.hint}` : ''}`);
    return v;
  };

export const int =
  (opts: { min?: number; max?: number } = {}): Decoder<number> =>
  (v, path, issues) => {
    if (typeof v !== 'number' || !Number.isInteger(v)) return fail(issues, path, `expected a whole number, got ${describe(v)}`);
    if (opts.min !== undefined && v < opts.min) return fail(issues, path, `must be at least ${opts.min}`);
    if (opts.max !== undefined && v > opts.max) return fail(issues, path, `must be at most ${opts.max}`);
    return v;
  };

export const bool = (): Decoder<boolean> => (v, path, issues) =>
  typeof v === 'boolean' ? v : fail(issues, path, `expected true or false, got ${describe(v)}`);

export const oneOf =
  <const T extends string>(choices: readonly T[]): Decoder<T> =>
  (v, path, issues) =>
    typeof v === 'string' && (choices as readonly string[]).includes(v)
      ? (v as T)
      : fail(issues, path, `expected one of ${choices.join(', ')}, got ${describe(v)}`);

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  mo: 30 * 86_400_000, // a month, for key lifetimes: 30 days
  y: 365 * 86_400_000,
};

/** Parses `90s`, `5m`, `7d`, `6mo`, `1y` (or a bare number of seconds) into milliseconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w|mo|y)?\s*$/.exec(text);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2] ?? 's']!);
}

/** A duration in milliseconds: `30s`, `5m`, `7d`, `6mo`, or a number of seconds. */
export const duration =
  (opts: { min?: number; max?: number } = {}): Decoder<number> =>
  (v, path, issues) => {
    const ms = typeof v === 'number' ? v * 1000 : typeof v === 'string' ? parseDuration(v) : undefined;
    if (ms === undefined || !Number.isFinite(ms) || ms < 0) return fail(issues, path, `expected a duration such as 30s, 5m, 7d or 6mo, got ${describe(v)}`);
    if (opts.min !== undefined && ms < opts.min) return fail(issues, path, `must be at least ${opts.min} ms`);
    if (opts.max !== undefined && ms > opts.max) return fail(issues, path, `must be at most ${opts.max} ms`);
    return ms;
  };

export const list =
  <T>(item: Decoder<T>, opts: { minLength?: number } = {}): Decoder<T[]> =>
  (v, path, issues) => {
    // A single scalar where a list is expected is taken as a one-item list (`dns: 127.0.0.1`).
    const arr = Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
    if (opts.minLength !== undefined && arr.length < opts.minLength) return fail(issues, path, `needs at least ${opts.minLength} item(s)`);
    return arr.map((x, i) => item(x, `${path}[${i}]`, issues));
  };

/** A mapping with free keys (e.g. per-domain settings), each value decoded alike. */
export const record =
  <T>(item: Decoder<T>, keyDecoder: Decoder<string> = str()): Decoder<Record<string, T>> =>
  (v, path, issues) => {
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) return fail(issues, path, `expected a mapping, got ${describe(v)}`);
    const out: Record<string, T> = {};
    for (const [k, x] of Object.entries(v)) {
      const key = keyDecoder(k, `${path}.${k}`, issues);
      out[key] = item(x, `${path}.${k}`, issues);
    }
    return out;
  };

/** A field of an object: its decoder and the default used when the key is absent. */
export interface Field<T> {
  readonly decode: Decoder<T>;
  readonly default?: () => T;
  readonly optional?: boolean;
}
export const required = <T>(decode: Decoder<T>): Field<T> => ({ decode });
export const withDefault = <T>(decode: Decoder<T>, value: T | (() => T)): Field<T> => ({
  decode,
  default: typeof value === 'function' ? (value as () => T) : () => value,
});
export const optional = <T>(decode: Decoder<T>): Field<T | undefined> => ({ decode, optional: true });

type FieldsOf<S> = { [K in keyof S]: S[K] extends Field<infer T> ? T : never };

/** A mapping with known keys; unknown keys are reported (typos must not pass silently). */
export const object =
  <S extends Record<string, Field<unknown>>>(shape: S): Decoder<FieldsOf<S>> =>
  (v, path, issues) => {
    const input = v === undefined || v === null ? {} : v;
    if (typeof input !== 'object' || Array.isArray(input)) return fail(issues, path, `expected a mapping, got ${describe(v)}`);
    const src = input as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(src)) {
      if (!(key in shape)) issues.push({ path: join(path, key), message: `unknown key (known: ${Object.keys(shape).join(', ')})` });
    }
    for (const [key, field] of Object.entries(shape)) {
      const raw = src[key];
      if (raw === undefined || raw === null) {
        if (field.default) out[key] = field.default();
        else if (field.optional) out[key] = undefined;
        else issues.push({ path: join(path, key), message: 'is required' });
        continue;
      }
      out[key] = field.decode(raw, join(path, key), issues);
    }
    return out as FieldsOf<S>;
  };

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** Postfix-style milter listen spec: `inet:HOST:PORT`, `inet6:[ADDR]:PORT` or `HOST:PORT`, `unix:/path`. */
export type ListenSpec =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string };

export function parseListenSpec(text: string): ListenSpec | undefined {
  if (text.startsWith('unix:')) {
    const p = text.slice(5);
    return p.startsWith('/') ? { kind: 'unix', path: p } : undefined;
  }
  const body = text.replace(/^inet6?:/, '');
  const hp = parseHostPort(body, undefined);
  return hp ? { kind: 'tcp', host: hp.host, port: hp.port } : undefined;
}

/** `HOST[:PORT]`, IPv6 as `[::1]:53` or bare `::1`. */
export function parseHostPort(text: string, defaultPort: number | undefined): { host: string; port: number } | undefined {
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (v6) {
    host = v6[1]!;
    portText = v6[2];
  } else if (isIP(text) === 6) {
    host = text;
  } else {
    const i = text.lastIndexOf(':');
    host = i < 0 ? text : text.slice(0, i);
    portText = i < 0 ? undefined : text.slice(i + 1);
  }
  if (!host || /\s/.test(host)) return undefined;
  const port = portText === undefined ? defaultPort : Number(portText);
  if (port === undefined || !Number.isInteger(port) || port < 0 || port > 65535 || (portText !== undefined && !/^\d+$/.test(portText))) return undefined;
  return { host, port };
}

export const listenSpec = (): Decoder<ListenSpec> => (v, path, issues) => {
  const spec = typeof v === 'string' ? parseListenSpec(v) : undefined;
  return spec ?? fail(issues, path, `expected inet:HOST:PORT, inet6:[ADDR]:PORT or unix:/path, got ${describe(v)}`);
};

export const hostPort =
  (defaultPort: number): Decoder<{ host: string; port: number }> =>
  (v, path, issues) => {
    const hp = typeof v === 'string' ? parseHostPort(v, defaultPort) : undefined;
    return hp ?? fail(issues, path, `expected HOST[:PORT], got ${describe(v)}`);
  };

/** A domain name: lower-cased, no trailing dot. */
export const domain = (): Decoder<string> => (v, path, issues) => {
  if (typeof v !== 'string' || !/^(?=.{1,253}$)([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)(\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)*\.?$/i.test(v)) {
    return fail(issues, path, `expected a domain name, got ${describe(v)}`);
  }
  return v.toLowerCase().replace(/\.$/, '');
};

/** An IP network in CIDR notation (`192.0.2.0/24`, `2001:db8::/32`) or a single address. */
export const cidr = (): Decoder<string> => (v, path, issues) => {
  if (typeof v !== 'string') return fail(issues, path, `expected an address or network, got ${describe(v)}`);
  const [addr, bits, extra] = v.split('/');
  const fam = isIP(addr ?? '');
  const max = fam === 4 ? 32 : 128;
  if (!fam || extra !== undefined || (bits !== undefined && (!/^\d+$/.test(bits) || Number(bits) > max))) {
    return fail(issues, path, `expected an address or CIDR network, got ${describe(v)}`);
  }
  return v;
};

/** Octal file mode (`"0660"` or 0o660). */
export const fileMode = (): Decoder<number> => (v, path, issues) => {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0o7777) return v;
  if (typeof v === 'string' && /^0?[0-7]{3,4}$/.test(v)) return parseInt(v, 8);
  return fail(issues, path, `expected an octal mode such as "0660", got ${describe(v)}`);
};
