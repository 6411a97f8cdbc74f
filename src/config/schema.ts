/**
 * Small typed decoders for the config file. Each feature declares its own section with
 * these (in its own folder, e.g. `src/keys/config.ts`); `src/config/load.ts` composes the
 * sections, decodes the whole file once and reports every problem with its key path and
 * line. A decoder records problems in `issues` and keeps going, so one run shows them all;
 * its return value is only used when `issues` stays empty.
 *
 * The schema can be walked: `object` decoders carry their `fields`, `list`/`record` their
 * `item`, and decoders whose value is not the file's own syntax (durations, listen specs,
 * host:port, modes) an `encode` back to it. `check-config --print` and the naming and
 * documentation tests read the schema this way; nothing else needs to.
 *
 * Keys are snake_case, everywhere. An unknown key whose snake_case form is known is
 * reported as renamed, naming the key to use (files written for 0.1 used some camelCase).
 */
import { isIP } from 'node:net';

export interface ConfigIssue {
  /** Dotted key path, e.g. `keys.domains[1].selector`. */
  readonly path: string;
  readonly message: string;
  /** 1-based line in the config file, where known. */
  readonly line?: number;
}

export interface Decoder<T> {
  (value: unknown, path: string, issues: ConfigIssue[]): T;
  /** The decoded value in the file's syntax (`30000` ms → `"30s"`), for `check-config --print`. */
  // A method, so Decoder<number> is still a Decoder<unknown> (parameters are bivariant).
  encode?(value: T): unknown;
  /** An `object` decoder's fields. */
  readonly fields?: Readonly<Record<string, Field<unknown>>>;
  /** A `list` or `record` decoder's item decoder. */
  readonly item?: Decoder<unknown>;
  /** A `record`: its keys are data (domain names …), not names of the schema. */
  readonly freeKeys?: true;
}
export type Infer<D> = D extends Decoder<infer T> ? T : never;

/** Attaches schema metadata to a decoder function. */
function withMeta<T>(fn: (value: unknown, path: string, issues: ConfigIssue[]) => T, meta: Pick<Decoder<T>, 'encode' | 'fields' | 'item' | 'freeKeys'>): Decoder<T> {
  return Object.assign(fn, meta) as Decoder<T>;
}

/** `cacheMaxTtl` → `cache_max_ttl`. */
export function snakeCase(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/([A-Z])([A-Z][a-z])/g, '$1_$2').toLowerCase();
}

export const isSnakeCase = (key: string): boolean => /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/.test(key);

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

/** Milliseconds in the largest unit that divides them exactly: 600000 → `10m`, 0 → `0`. */
export function formatDuration(ms: number): string | 0 {
  if (ms === 0) return 0;
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = DURATION_UNITS[unit]!;
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** A duration in milliseconds: `30s`, `5m`, `7d`, `6mo`, or a number of seconds. */
export const duration = (opts: { min?: number; max?: number } = {}): Decoder<number> =>
  withMeta(
    (v, path, issues) => {
      const ms = typeof v === 'number' ? v * 1000 : typeof v === 'string' ? parseDuration(v) : undefined;
      if (ms === undefined || !Number.isFinite(ms) || ms < 0) return fail(issues, path, `expected a duration such as 30s, 5m, 7d or 6mo, got ${describe(v)}`);
      if (opts.min !== undefined && ms < opts.min) return fail(issues, path, `must be at least ${formatDuration(opts.min) || '0'}`);
      if (opts.max !== undefined && ms > opts.max) return fail(issues, path, `must be at most ${formatDuration(opts.max)}`);
      return ms;
    },
    { encode: formatDuration },
  );

export const list = <T>(item: Decoder<T>, opts: { minLength?: number } = {}): Decoder<T[]> =>
  withMeta(
    (v, path, issues) => {
      // A single scalar where a list is expected is taken as a one-item list (`dns: 127.0.0.1`).
      const arr = Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
      if (opts.minLength !== undefined && arr.length < opts.minLength) return fail(issues, path, `needs at least ${opts.minLength} item(s)`);
      return arr.map((x, i) => item(x, `${path}[${i}]`, issues));
    },
    { item: item as Decoder<unknown>, ...(item.encode ? { encode: (xs: T[]) => xs.map((x) => item.encode!(x)) } : {}) },
  );

/** A mapping with free keys (e.g. per-domain settings), each value decoded alike. */
export const record = <T>(item: Decoder<T>, keyDecoder: Decoder<string> = str()): Decoder<Record<string, T>> =>
  withMeta(
    (v, path, issues) => {
      if (v === undefined || v === null) return {};
      if (typeof v !== 'object' || Array.isArray(v)) return fail(issues, path, `expected a mapping, got ${describe(v)}`);
      const out: Record<string, T> = {};
      for (const [k, x] of Object.entries(v)) {
        const key = keyDecoder(k, `${path}.${k}`, issues);
        out[key] = item(x, `${path}.${k}`, issues);
      }
      return out;
    },
    { item: item as Decoder<unknown>, freeKeys: true },
  );

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

/** What is wrong with a key the shape does not have: renamed to snake_case, or unknown. */
function unknownKey(key: string, path: string, shape: Record<string, unknown>): string {
  const renamed = snakeCase(key);
  if (renamed !== key && renamed in shape) return `renamed: use ${join(path, renamed)} (config keys are snake_case)`;
  return `unknown key (known: ${Object.keys(shape).join(', ')})`;
}

/** A mapping with known keys; unknown keys are reported (typos must not pass silently). */
export const object = <S extends Record<string, Field<unknown>>>(shape: S): Decoder<FieldsOf<S>> =>
  withMeta(
    (v, path, issues) => {
      const input = v === undefined || v === null ? {} : v;
      if (typeof input !== 'object' || Array.isArray(input)) return fail(issues, path, `expected a mapping, got ${describe(v)}`);
      const src = input as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(src)) {
        if (!(key in shape)) issues.push({ path: join(path, key), message: unknownKey(key, path, shape) });
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
    },
    { fields: shape },
  );

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

/** A listen spec in Postfix syntax again: `inet:127.0.0.1:8891`, `inet6:[::1]:8891`, `unix:/path`. */
export function formatListenSpec(spec: ListenSpec): string {
  if (spec.kind === 'unix') return `unix:${spec.path}`;
  return isIP(spec.host) === 6 ? `inet6:[${spec.host}]:${spec.port}` : `inet:${spec.host}:${spec.port}`;
}

/** `HOST:PORT`, IPv6 in brackets. */
export function formatHostPort(hp: { readonly host: string; readonly port: number }): string {
  return isIP(hp.host) === 6 ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

export const listenSpec = (): Decoder<ListenSpec> =>
  withMeta(
    (v, path, issues) => {
      const spec = typeof v === 'string' ? parseListenSpec(v) : undefined;
      return spec ?? fail(issues, path, `expected inet:HOST:PORT, inet6:[ADDR]:PORT or unix:/path, got ${describe(v)}`);
    },
    { encode: formatListenSpec },
  );

export const hostPort = (defaultPort: number): Decoder<{ host: string; port: number }> =>
  withMeta(
    (v, path, issues) => {
      const hp = typeof v === 'string' ? parseHostPort(v, defaultPort) : undefined;
      return hp ?? fail(issues, path, `expected HOST[:PORT], got ${describe(v)}`);
    },
    { encode: formatHostPort },
  );

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
export const fileMode = (): Decoder<number> =>
  withMeta(
    (v, path, issues) => {
      if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0o7777) return v;
      if (typeof v === 'string' && /^0?[0-7]{3,4}$/.test(v)) return parseInt(v, 8);
      return fail(issues, path, `expected an octal mode such as "0660", got ${describe(v)}`);
    },
    { encode: (mode) => mode.toString(8).padStart(4, '0') },
  );
