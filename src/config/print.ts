/**
 * `mailanchor check-config --print`: the effective configuration written as a config file,
 * every value the file does not set marked `# default` — what `postconf` (all parameters)
 * and `opendkim -n` show; `--non-default` prints only what the file sets, like `postconf -n`.
 * The output is itself a valid config that decodes to the same values (tested), so it can
 * be diffed between hosts or used as a starting point.
 *
 * Pure: walks the schema (`fields`, `item`, `encode` of src/config/schema.ts) beside the
 * decoded config and the raw file; no I/O.
 */
import { stringify } from 'yaml';
import type { Decoder, Field } from './schema.ts';

export interface PrintOptions {
  /** Only values the file sets (`postconf -n`). */
  readonly nonDefault?: boolean;
}

/** Keys whose value may hold a secret inline (`name:algorithm:base64secret`); printed masked. */
const INLINE_SECRET: Readonly<Record<string, RegExp>> = { tsig: /^[^/][^:]*:[^:]+:.+$/ };
const MASK = '(inline secret, not shown)';
const DEFAULT_MARK = '  # default';

type Raw = Record<string, unknown> | undefined;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const present = (raw: Raw, key: string): boolean => raw !== undefined && raw[key] !== undefined && raw[key] !== null;

/** One scalar or list of scalars in YAML flow syntax, quoted where YAML would read it otherwise. */
function scalar(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(scalar).join(', ')}]`;
  return stringify(value, { collectionStyle: 'flow', lineWidth: 0 }).trimEnd();
}

function encoded(decoder: Decoder<unknown>, value: unknown): unknown {
  return decoder.encode ? decoder.encode(value) : value;
}

/** A value that prints on its key's line: anything but a mapping or a list of mappings. */
function inline(decoder: Decoder<unknown>, value: unknown): boolean {
  if (decoder.fields || decoder.freeKeys) return false;
  if (decoder.item?.fields && Array.isArray(value) && value.length > 0) return false;
  return true;
}

function mapping(fields: Readonly<Record<string, Field<unknown>>>, value: Record<string, unknown>, raw: Raw, defaulted: boolean, indent: string, o: PrintOptions): string[] {
  const out: string[] = [];
  for (const [key, field] of Object.entries(fields)) {
    const v = value[key];
    const isDefault = defaulted || !present(raw, key);
    if (o.nonDefault && isDefault) continue;
    if (v === undefined) {
      out.push(`${indent}# ${key}: (not set)`);
      continue;
    }
    const childRaw = raw && isRecord(raw[key]) ? (raw[key] as Record<string, unknown>) : undefined;
    out.push(...entry(key, field.decode, v, childRaw, raw?.[key], isDefault, indent, o));
  }
  return out;
}

function entry(key: string, decoder: Decoder<unknown>, value: unknown, childRaw: Raw, rawValue: unknown, isDefault: boolean, indent: string, o: PrintOptions): string[] {
  const mark = isDefault ? DEFAULT_MARK : '';
  const secret = INLINE_SECRET[key];
  if (secret && typeof value === 'string' && secret.test(value)) return [`${indent}${key}: ${scalar(MASK)}${mark}`];
  if (inline(decoder, value)) return [`${indent}${key}: ${scalar(encoded(decoder, value))}${mark}`];
  const inner = `${indent}  `;
  if (decoder.fields) {
    const lines = mapping(decoder.fields, value as Record<string, unknown>, childRaw, isDefault, inner, o);
    return lines.length ? [`${indent}${key}:${mark}`, ...lines] : [`${indent}${key}: {}${mark}`];
  }
  if (decoder.freeKeys && decoder.item) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) return [`${indent}${key}: {}${mark}`];
    const lines = entries.flatMap(([k, v]) => {
      const r = childRaw?.[k];
      return entry(k, decoder.item!, v, isRecord(r) ? r : undefined, r, isDefault, inner, o);
    });
    return [`${indent}${key}:${mark}`, ...lines];
  }
  // A list of mappings: each item as a block, `- ` on its first line.
  const rawItems = Array.isArray(rawValue) ? rawValue : [];
  const items = (value as unknown[]).flatMap((item, i) => {
    const r = rawItems[i];
    const lines = mapping(decoder.item!.fields!, item as Record<string, unknown>, isRecord(r) ? r : undefined, isDefault, `${inner}  `, o);
    return lines.length ? [`${inner}- ${lines[0]!.trimStart()}`, ...lines.slice(1)] : [`${inner}- {}`];
  });
  return [`${indent}${key}:${mark}`, ...items];
}

/**
 * The config as YAML text. `raw` is the file as parsed (`{}` for the built-in defaults);
 * `schema` the top-level object decoder (`configSchema`). `header` lines become comments.
 */
export function printConfig(schema: Decoder<unknown>, config: unknown, raw: unknown, header: readonly string[] = [], o: PrintOptions = {}): string {
  if (!schema.fields || !isRecord(config)) throw new TypeError('printConfig needs an object schema and a decoded config');
  const lines = mapping(schema.fields, config, isRecord(raw) ? raw : {}, false, '', o);
  return `${[...header.map((h) => `# ${h}`), ...lines].join('\n')}\n`;
}
