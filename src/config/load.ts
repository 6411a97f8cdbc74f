/**
 * Reads and validates the config file once, at the edge. Every problem is reported with
 * its key path and line; the caller gets either a fully typed `Config` or a `ConfigError`
 * listing all issues. No file at the default path means "all defaults" (the embedded
 * default setup); a file named explicitly must exist.
 */
import { readFile } from 'node:fs/promises';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { MailanchorError } from '../errors.ts';
import { metricsCollision } from './listen-collision.ts';
import type { ConfigIssue } from './schema.ts';
import { configSchema, type Config } from './sections.ts';

export const DEFAULT_CONFIG_PATH = '/etc/mailanchor/mailanchor.yml';

export class ConfigError extends MailanchorError<'UNREADABLE' | 'SYNTAX' | 'INVALID'> {
  readonly issues: readonly ConfigIssue[];
  constructor(code: 'UNREADABLE' | 'SYNTAX' | 'INVALID', file: string, issues: readonly ConfigIssue[], cause?: unknown) {
    super(code, `${file}: ${issues.length} problem(s)\n${issues.map((i) => `  ${formatIssue(i)}`).join('\n')}`, { file }, { cause });
    this.issues = issues;
  }
}

export function formatIssue(i: ConfigIssue): string {
  return `${i.line === undefined ? '' : `line ${i.line}: `}${i.path || '(top)'}: ${i.message}`;
}

/** Decodes an already-parsed value (tests, overrides). */
export function decodeConfig(raw: unknown, lines: ReadonlyMap<string, number> = new Map()): { config: Config; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const config = configSchema(raw ?? {}, '', issues);
  if (issues.length === 0) issues.push(...crossCheck(config));
  return { config, issues: issues.map((i) => withLine(i, lines)) };
}

/** Problems no single key shows: values that contradict each other. */
function crossCheck(config: Config): ConfigIssue[] {
  const i = metricsCollision(config.milter.listen, config.metrics.listen);
  return i === undefined ? [] : [{ path: 'metrics.listen', message: `is also milter.listen[${i}]; the milter and the metrics endpoint need different ports` }];
}

/** Parses YAML text; returns the config or throws ConfigError with every problem. */
export function parseConfigText(text: string, file: string): Config {
  return parseConfigFile(text, file).config;
}

/** The config and the file as parsed (what it sets, for `check-config --print`). */
export function parseConfigFile(text: string, file: string): { config: Config; raw: unknown } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      'SYNTAX',
      file,
      doc.errors.map((e) => ({ path: '', message: e.message.split('\n')[0] ?? e.message, line: lineCounter.linePos(e.pos[0]).line })),
    );
  }
  const lines = new Map<string, number>();
  if (doc.contents) collectLines(doc.contents as Node, '', lines, lineCounter);
  const raw: unknown = doc.toJS();
  const { config, issues } = decodeConfig(raw, lines);
  if (issues.length > 0) throw new ConfigError('INVALID', file, issues);
  return { config, raw: raw ?? {} };
}

/** Loads `file`, or the default path if it exists, or all defaults. */
export async function loadConfig(file?: string): Promise<{ config: Config; source: string; raw: unknown }> {
  const path = file ?? DEFAULT_CONFIG_PATH;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (file === undefined && (err as NodeJS.ErrnoException).code === 'ENOENT') {
      return { config: decodeConfig({}).config, source: '(built-in defaults)', raw: {} };
    }
    throw new ConfigError('UNREADABLE', path, [{ path: '', message: (err as Error).message }], err);
  }
  return { ...parseConfigFile(text, path), source: path };
}

function collectLines(node: Node, path: string, out: Map<string, number>, lc: LineCounter): void {
  if (node.range) out.set(path, lc.linePos(node.range[0]).line);
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const childPath = path ? `${path}.${key}` : key;
      if (isScalar(pair.key) && pair.key.range) out.set(childPath, lc.linePos(pair.key.range[0]).line);
      if (pair.value && typeof pair.value === 'object' && 'range' in pair.value) {
        const before = out.get(childPath);
        collectLines(pair.value as Node, childPath, out, lc);
        if (before !== undefined) out.set(childPath, before); // the key's own line wins
      }
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      if (item && typeof item === 'object' && 'range' in item) collectLines(item as Node, `${path}[${i}]`, out, lc);
    });
  }
}

function withLine(issue: ConfigIssue, lines: ReadonlyMap<string, number>): ConfigIssue {
  // An issue on a key that is absent (e.g. "is required") gets its parent's line.
  for (let p = issue.path; ; p = p.replace(/(\.[^.[\]]*|\[\d+\])$/, '')) {
    const line = lines.get(p);
    if (line !== undefined) return { ...issue, line };
    if (!p || !/[.[]/.test(p)) {
      const top = lines.get(p);
      return top === undefined ? issue : { ...issue, line: top };
    }
  }
}
