/**
 * MTA-STS (RFC 8461): the `_mta-sts` TXT record (§3.1), the policy file (§3.2) and MX
 * pattern matching (§4.1). Pure parsers that report every problem they find; the sender
 * rules they follow are quoted where they decide something.
 */

/** §3.2: "plaintext non-negative integer seconds, maximum value of 31557600". */
export const MAX_AGE_LIMIT = 31_557_600;
/** §3.3: senders "SHOULD impose a limit … 64 kilobytes". */
export const MAX_POLICY_BYTES = 64 * 1024;

export type StsRecordParse = { readonly ok: true; readonly id: string; readonly extensions: readonly string[] } | { readonly ok: false; readonly reason: string };

/**
 * One TXT record at `_mta-sts.<domain>`: `v=STSv1` first, then `id=` of 1–32 letters or
 * digits (case-sensitive literals, `%s` in the ABNF), fields separated by `;` with optional
 * whitespace; extension fields are allowed (§3.1).
 */
export function parseStsRecord(text: string): StsRecordParse {
  if (text.length > 1024) return { ok: false, reason: `record of ${text.length} characters` };
  const fields = text.split(';').map((f) => f.replace(/^[ \t]+|[ \t]+$/g, ''));
  if (fields.at(-1) === '') fields.pop();
  if (fields[0] !== 'v=STSv1') return { ok: false, reason: 'does not start with v=STSv1' };
  let id: string | undefined;
  const extensions: string[] = [];
  for (const f of fields.slice(1)) {
    const m = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,31})=([\x21-\x3a\x3c\x3e-\x7e]+)$/.exec(f);
    if (!m) return { ok: false, reason: `field "${f}" is not name=value (RFC 8461 §3.1)` };
    if (m[1] === 'id') {
      if (id !== undefined) return { ok: false, reason: 'id= appears twice' };
      if (!/^[A-Za-z0-9]{1,32}$/.test(m[2]!)) return { ok: false, reason: `id=${m[2]} is not 1 to 32 letters and digits` };
      id = m[2];
    } else if (m[1] === 'v') {
      return { ok: false, reason: 'v= appears twice' };
    } else extensions.push(m[1]!);
  }
  if (id === undefined) return { ok: false, reason: 'no id= field' };
  return { ok: true, id, extensions };
}

export type StsMode = 'enforce' | 'testing' | 'none';

export interface StsPolicy {
  readonly version: string;
  readonly mode: StsMode;
  readonly maxAge: number;
  /** `mx` patterns in file order, lower case, without a trailing dot. */
  readonly mx: readonly string[];
}

export type StsPolicyParse = { readonly ok: true; readonly policy: StsPolicy; readonly warnings: readonly string[] } | { readonly ok: false; readonly reason: string };

const DOMAIN_PATTERN = /^(\*\.)?([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;

/**
 * The policy body (§3.2): `key: value` lines ended by LF or CRLF; `version: STSv1`,
 * `mode` (enforce/testing/none), `max_age` (0–31557600, at most 10 digits) are required,
 * `mx` at least once unless mode is none; unknown keys are ignored (a warning here). For a
 * repeated single-valued key the first wins (a warning).
 */
export function parseStsPolicy(body: string): StsPolicyParse {
  if (Buffer.byteLength(body) > MAX_POLICY_BYTES) return { ok: false, reason: `policy larger than ${MAX_POLICY_BYTES} bytes` };
  const warnings: string[] = [];
  const single = new Map<string, string>();
  const mx: string[] = [];
  const lines = body.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  for (const [i, raw] of lines.entries()) {
    const line = raw.replace(/[ \t]+$/, '');
    if (line === '') continue;
    const m = /^([A-Za-z0-9_.-]{1,32}):[ \t]*(.*)$/.exec(line);
    if (!m) return { ok: false, reason: `line ${i + 1} "${line.slice(0, 80)}" is not "key: value"` };
    const key = m[1]!;
    const value = m[2]!;
    if (key === 'mx') {
      const v = value.toLowerCase().replace(/\.$/, '');
      if (!DOMAIN_PATTERN.test(v)) return { ok: false, reason: `line ${i + 1}: mx: ${value} is not a host name or *.domain pattern` };
      mx.push(v);
    } else if (key === 'version' || key === 'mode' || key === 'max_age') {
      if (single.has(key)) warnings.push(`${key} appears more than once; the first (${single.get(key)}) is used`);
      else single.set(key, value);
    } else warnings.push(`unknown key ${key} (ignored)`);
  }
  const version = single.get('version');
  if (version !== 'STSv1') return { ok: false, reason: version === undefined ? 'no version: line' : `version: ${version} is not STSv1` };
  const mode = single.get('mode');
  if (mode !== 'enforce' && mode !== 'testing' && mode !== 'none') return { ok: false, reason: mode === undefined ? 'no mode: line' : `mode: ${mode} is not enforce, testing or none` };
  const age = single.get('max_age');
  if (age === undefined) return { ok: false, reason: 'no max_age: line' };
  if (!/^\d{1,10}$/.test(age)) return { ok: false, reason: `max_age: ${age} is not a number of seconds` };
  const maxAge = Number(age);
  if (maxAge > MAX_AGE_LIMIT) return { ok: false, reason: `max_age: ${maxAge} is above the limit of ${MAX_AGE_LIMIT} (RFC 8461 §3.2)` };
  if (mx.length === 0 && mode !== 'none') return { ok: false, reason: `mode: ${mode} without any mx: line` };
  return { ok: true, policy: { version, mode, maxAge, mx }, warnings };
}

/**
 * §4.1: an MX host matches a pattern when equal, or when the pattern is `*.rest` and the
 * host is exactly one label more than `rest` ("the wildcard … only matches the left-most
 * label"). Case-insensitive, trailing dots ignored.
 */
export function mxMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase().replace(/\.$/, '');
  const h = host.toLowerCase().replace(/\.$/, '');
  if (!p.startsWith('*.')) return p === h;
  const rest = p.slice(2);
  const dot = h.indexOf('.');
  return dot > 0 && h.slice(dot + 1) === rest;
}
