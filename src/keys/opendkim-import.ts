/**
 * Reading an OpenDKIM signing setup so a site migrates keeping its keys and selectors
 * (opendkim.conf(5), OpenDKIM 2.11):
 *
 * - KeyTable: `name  domain:selector:key`. `key` is a file when it starts with `/`, `./` or
 *   `../`, else the private key itself (PEM or base64 DER); `%` in the domain or the file
 *   name stands for the sender's domain.
 * - SigningTable: `pattern  keyname [signer]`, the first match against the From address wins.
 *   As a `refile:` dataset the patterns are wildcards (`*@example.org`, `*@*.example.org`,
 *   `*`); as a plain file they are looked up as `user@host`, `host`, `user@.parent`,
 *   `.parent`, `user@*`, `*` (so `example.org` and `.example.org`). A key name of `%` is
 *   the From domain itself.
 *
 * mailanchor signs per From domain (its own keys, `outbound.signing_domains`, or a parent's
 * with `sign_subdomains`), so a rule maps when it names a domain or a domain's subdomains;
 * per-user and catch-all rules cannot be expressed and are reported, never guessed at.
 * Key files readable by group or others are refused, as OpenDKIM's RequireSafeKeys does.
 * Parsing and planning are pure; `readImportKey` reads the files.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { normalizeDomain } from '../mail/domain.ts';
import { KeystoreError } from './errors.ts';
import type { DkimAlgorithm } from './signing-keys.ts';

export interface ImportedKey {
  readonly domain: string;
  readonly selector: string;
  readonly algorithm: DkimAlgorithm;
  readonly privateKeyPem: string;
  readonly publicKeyPem: string;
  /** The key file, or `KeyTable line N` for a key written in the table itself. */
  readonly file: string;
  /** When the key file was last written (ms), as the best guess of the key's age. */
  readonly writtenAt?: number;
}

export type KeySource = { readonly kind: 'file'; readonly path: string } | { readonly kind: 'inline'; readonly data: string };

export interface KeyTableEntry {
  readonly name: string;
  /** Lower case; `%` = the sender's domain. */
  readonly domain: string;
  readonly selector: string;
  readonly key: KeySource;
  readonly line: number;
}

/** `#` starts a comment (opendkim.conf(5)); fields are separated by white space. */
function dataLines(text: string): { line: number; fields: string[] }[] {
  const out: { line: number; fields: string[] }[] = [];
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.replace(/#.*/, '').trim();
    if (line) out.push({ line: i + 1, fields: line.split(/\s+/) });
  }
  return out;
}

/** Pure: KeyTable text → entries. `cwd` resolves `./` and `../` key paths (OpenDKIM: its working directory). */
export function parseKeyTable(text: string, cwd = '/'): KeyTableEntry[] {
  const out: KeyTableEntry[] = [];
  for (const { line, fields } of dataLines(text)) {
    const [name, value] = fields;
    const parts = value?.split(':');
    if (!name || !parts || parts.length < 3 || !parts[0] || !parts[1] || !parts[2]) throw new KeystoreError('import-failed', `KeyTable line ${line}: expected "name domain:selector:keyfile"`, { line });
    const keyText = parts.slice(2).join(':');
    const key: KeySource = /^(\/|\.\/|\.\.\/)/.test(keyText) ? { kind: 'file', path: isAbsolute(keyText) ? keyText : resolve(cwd, keyText) } : { kind: 'inline', data: keyText };
    out.push({ name, domain: parts[0].toLowerCase(), selector: parts[1], key, line });
  }
  return out;
}

export type SigningTableType = 'refile' | 'file';

/** What a SigningTable pattern selects, in mailanchor's terms. */
export type SigningMatch =
  | { readonly kind: 'domain'; readonly domain: string }
  | { readonly kind: 'subdomains'; readonly domain: string }
  | { readonly kind: 'unsupported'; readonly reason: string };

export interface SigningRule {
  readonly line: number;
  readonly pattern: string;
  readonly keyName: string;
  /** The optional second value (the signature's i=). */
  readonly signer?: string;
  readonly match: SigningMatch;
}

const domainOrUndefined = (d: string): string | undefined => (d.includes('*') || d.includes('%') ? undefined : normalizeDomain(d));

/** Pure: one pattern → what it selects. */
export function classifyPattern(pattern: string, type: SigningTableType): SigningMatch {
  const p = pattern.toLowerCase();
  const unsupported = (reason: string): SigningMatch => ({ kind: 'unsupported', reason });
  if (type === 'refile') {
    if (p === '*' || p === '*@*') return unsupported('a catch-all rule signs mail from any domain with one key; mailanchor signs only domains it has keys for (list them)');
    const at = p.lastIndexOf('@');
    if (at < 0) return unsupported(`in a refile: table the pattern is matched against the whole From address, so "${pattern}" matches none (write *@${pattern})`);
    const local = p.slice(0, at);
    const host = p.slice(at + 1);
    if (local !== '*') return unsupported('a per-address rule: mailanchor signs every address of a domain alike');
    if (host.startsWith('*.')) {
      const d = domainOrUndefined(host.slice(2));
      return d ? { kind: 'subdomains', domain: d } : unsupported(`a wildcard mailanchor cannot express: ${pattern}`);
    }
    const d = domainOrUndefined(host);
    return d ? { kind: 'domain', domain: d } : unsupported(`a wildcard mailanchor cannot express: ${pattern}`);
  }
  if (p === '*') return unsupported('a catch-all rule signs mail from any domain with one key; mailanchor signs only domains it has keys for (list them)');
  if (p.includes('@')) {
    if (p.includes('*') && !p.endsWith('@*')) return unsupported(`a plain file: table looks patterns up literally, so "${pattern}" never matches; if opendkim.conf says refile:, import it as refile:PATH`);
    return unsupported('a per-address rule: mailanchor signs every address of a domain alike');
  }
  if (p.includes('*')) return unsupported(`a plain file: table looks patterns up literally, so "${pattern}" never matches; if opendkim.conf says refile:, import it as refile:PATH`);
  if (p.startsWith('.')) {
    const d = domainOrUndefined(p.slice(1));
    return d ? { kind: 'subdomains', domain: d } : unsupported(`not a domain: ${pattern}`);
  }
  const d = domainOrUndefined(p);
  return d ? { kind: 'domain', domain: d } : unsupported(`not a domain: ${pattern}`);
}

/** opendkim(8) dataset types that are not a file we can read. */
const OTHER_DATASETS = ['csl', 'db', 'dsn', 'ldap', 'ldapi', 'ldaps', 'lua', 'memcache', 'mdb', 'erlang', 'socket'];

/**
 * `refile:/etc/opendkim/SigningTable` → type and path, as opendkim.conf names datasets.
 * Datasets held elsewhere (SQL, LDAP, Berkeley DB …) are refused by name: export them to a file.
 */
export function datasetSpec(spec: string, what: string): { type: SigningTableType; path: string } {
  const m = /^([a-z]+):(.*)$/.exec(spec);
  if (m && (m[1] === 'refile' || m[1] === 'file')) return { type: m[1], path: m[2]! };
  if (m && OTHER_DATASETS.includes(m[1]!)) throw new KeystoreError('import-failed', `${what} ${spec}: a ${m[1]}: dataset is not read; export it to a file and pass that`, { spec });
  return { type: 'file', path: spec };
}

export const signingTableSpec = (spec: string): { type: SigningTableType; path: string } => datasetSpec(spec, 'SigningTable');

/** Pure: SigningTable text → rules in file order. */
export function parseSigningTable(text: string, type: SigningTableType): SigningRule[] {
  return dataLines(text).map(({ line, fields }) => {
    const [pattern, keyName, signer] = fields;
    if (!pattern || !keyName) throw new KeystoreError('import-failed', `SigningTable line ${line}: expected "pattern keyname [signer]"`, { line });
    return { line, pattern, keyName, ...(signer ? { signer } : {}), match: classifyPattern(pattern, type) };
  });
}

/** One key to import: the KeyTable entry, the domain whose key it becomes, and why. */
export interface PlannedKey {
  readonly entry: KeyTableEntry;
  /** The d= domain the key is stored under (the KeyTable's, or the From domain for `%`). */
  readonly domain: string;
  /** SigningTable lines that select it (empty when no SigningTable was given). */
  readonly rules: readonly number[];
}

export interface ImportPlan {
  readonly keys: readonly PlannedKey[];
  /** `outbound.signing_domains` entries: From domain → d= domain. */
  readonly signingDomains: Readonly<Record<string, string>>;
  /** Domains whose subdomains OpenDKIM signs with the domain's own key (`outbound.sign_subdomains`). */
  readonly subdomainSigning: readonly string[];
  /** Everything that is not carried over, with the reason. */
  readonly notes: readonly string[];
}

/**
 * Pure: which keys to import and what configuration reproduces the SigningTable. Without a
 * SigningTable every KeyTable entry is imported under its own domain (entries with `%` need
 * one, and are reported).
 */
export function planImport(keyTable: readonly KeyTableEntry[], rules: readonly SigningRule[] | undefined): ImportPlan {
  const notes: string[] = [];
  const keys: PlannedKey[] = [];
  const signingDomains: Record<string, string> = {};
  const subdomainSigning: string[] = [];
  const add = (entry: KeyTableEntry, domain: string, rule?: number): void => {
    const same = keys.find((k) => k.entry === entry && k.domain === domain);
    if (same) {
      if (rule !== undefined) keys[keys.indexOf(same)] = { ...same, rules: [...same.rules, rule] };
      return;
    }
    keys.push({ entry, domain, rules: rule === undefined ? [] : [rule] });
  };
  if (!rules) {
    for (const e of keyTable) {
      if (e.domain === '%') notes.push(`KeyTable line ${e.line} (${e.name}): its domain is "%" (the sender's); give the SigningTable to say which domains use it`);
      else add(e, e.domain);
    }
    return { keys, signingDomains, subdomainSigning, notes };
  }
  const byName = new Map(keyTable.map((e) => [e.name, e]));
  /** First rule per exact From domain: OpenDKIM applies only the first match. */
  const claimed = new Map<string, number>();
  for (const r of rules) {
    const where = `SigningTable line ${r.line} (${r.pattern} ${r.keyName})`;
    if (r.match.kind === 'unsupported') {
      notes.push(`${where}: not carried over: ${r.match.reason}`);
      continue;
    }
    const from = r.match.domain;
    const entry = byName.get(r.keyName === '%' ? from : r.keyName);
    if (!entry) {
      notes.push(`${where}: no KeyTable entry named ${r.keyName === '%' ? `${from} (key name "%" = the From domain)` : r.keyName}`);
      continue;
    }
    if (r.signer) notes.push(`${where}: signer ${r.signer} (i=) is not carried over: mailanchor signs without i= (the identity is then @d=, RFC 6376 §3.5)`);
    if (r.match.kind === 'subdomains') {
      if (entry.domain === from) {
        if (!subdomainSigning.includes(from)) subdomainSigning.push(from);
        add(entry, from, r.line);
      } else {
        notes.push(`${where}: subdomains of ${from} signed as ${entry.domain === '%' ? 'each subdomain itself' : entry.domain}: not carried over (outbound.signing_domains maps exact domains; list the subdomains, or give them keys of their own)`);
      }
      continue;
    }
    const earlier = claimed.get(from);
    if (earlier !== undefined) {
      notes.push(`${where}: ${from} already matched SigningTable line ${earlier}, and OpenDKIM signs with the first match; this key is not imported for ${from}`);
      continue;
    }
    claimed.set(from, r.line);
    const d = entry.domain === '%' ? from : entry.domain;
    add(entry, d, r.line);
    if (d !== from) signingDomains[from] = d;
  }
  for (const e of keyTable) if (!keys.some((k) => k.entry === e)) notes.push(`KeyTable line ${e.line} (${e.name}): no SigningTable rule uses it; not imported`);
  return { keys, signingDomains, subdomainSigning, notes };
}

function loadPrivateKey(where: string, bytes: Buffer | string): KeyObject {
  try {
    return createPrivateKey(bytes);
  } catch (pemErr) {
    // opendkim.conf(5): an inline key may also be base64 DER.
    if (typeof bytes === 'string' && /^[A-Za-z0-9+/=\s]+$/.test(bytes)) {
      try {
        return createPrivateKey({ key: Buffer.from(bytes, 'base64'), format: 'der', type: 'pkcs8' });
      } catch {
        try {
          return createPrivateKey({ key: Buffer.from(bytes, 'base64'), format: 'der', type: 'pkcs1' });
        } catch {
          /* fall through to the first error */
        }
      }
    }
    throw new KeystoreError('import-failed', `${where} is not a private key: ${(pemErr as Error).message}`, { where }, { cause: pemErr });
  }
}

/** Refuses a file group or others can read (RequireSafeKeys); returns its mtime. */
export function assertPrivateFile(file: string, what = 'key file'): number {
  let st;
  try {
    st = statSync(file);
  } catch (err) {
    throw new KeystoreError('import-failed', `cannot read ${what} ${file}: ${(err as Error).message}`, { file }, { cause: err });
  }
  if (st.mode & 0o077) {
    throw new KeystoreError('import-failed', `${file} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it first`, { file });
  }
  return st.mtimeMs;
}

/** Reads one planned key (a file, or the KeyTable's own text) as the d= domain `domain`. */
export function readImportKey(entry: KeyTableEntry, domain: string = entry.domain): ImportedKey {
  let where: string;
  let key: KeyObject;
  let writtenAt: number | undefined;
  if (entry.key.kind === 'file') {
    where = entry.key.path.replaceAll('%', domain);
    writtenAt = assertPrivateFile(where);
    key = loadPrivateKey(where, readFileSync(where));
  } else {
    where = `KeyTable line ${entry.line}`;
    key = loadPrivateKey(where, entry.key.data);
  }
  const type = key.asymmetricKeyType;
  if (type !== 'rsa' && type !== 'ed25519') throw new KeystoreError('import-failed', `${where}: ${type} keys cannot sign DKIM`, { where });
  if (type === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 1024) {
    throw new KeystoreError('key-too-small', `${where}: RSA keys under 1024 bits are refused (RFC 8301 §3.2)`, { where });
  }
  return {
    domain,
    selector: entry.selector,
    algorithm: type === 'rsa' ? 'rsa-sha256' : 'ed25519-sha256',
    privateKeyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString(),
    file: where,
    ...(writtenAt !== undefined ? { writtenAt } : {}),
  };
}

/** Compatibility: one KeyTable-style entry read as its own domain's key. */
export function readKeyFile(entry: { readonly domain: string; readonly selector: string; readonly file: string }): ImportedKey {
  return readImportKey({ name: entry.selector, domain: entry.domain, selector: entry.selector, key: { kind: 'file', path: entry.file }, line: 0 });
}
