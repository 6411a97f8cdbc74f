/**
 * `--help` text from a command's spec: the usage lines, the description, the options with
 * their arguments, the subcommands, the exit statuses. Pure; 80 columns, like the tools a
 * postmaster reads beside it.
 */
import { EX, SYSEXITS, type ExitCode, type SysExit } from './exit-codes.ts';
import type { CommandSpec, ExitSpec, OptionSpec, OptionSpecs } from './spec.ts';

export const WIDTH = 80;

/** Every command and subcommand takes it; the parser adds it. */
export const HELP_OPTION: OptionSpec = { type: 'boolean', short: 'h', help: 'show this help and exit 0' };

/** Where a leaf sits: the program words before it, its command (when it is a subcommand) and itself. */
export interface Invocation {
  /** `['mailanchor']` or `['mailanchor', 'keys']`. */
  readonly prefix: readonly string[];
  readonly parent?: CommandSpec;
  readonly spec: CommandSpec;
}

/** `mailanchor keys rotate`, as the user types it (`mailanchor tlsa` for its default subcommand). */
export function programName(inv: Invocation): string {
  if (inv.parent && (inv.parent.defaultSubcommand === inv.spec.name || inv.spec.selectedBy)) return inv.prefix.join(' ');
  return [...inv.prefix, inv.spec.name].join(' ');
}

/** The name a help or error message calls it: `mailanchor keys rotate`, `mailanchor tlsa --deploy-check`. */
export function displayName(inv: Invocation): string {
  if (inv.parent && inv.spec.selectedBy) return `${inv.prefix.join(' ')} --${inv.spec.selectedBy}`;
  return [...inv.prefix, inv.spec.name].join(' ');
}

/** The options a leaf accepts, its own first, then its command's shared ones, then -h. */
export function leafOptions(inv: Invocation): OptionSpecs {
  return { ...inv.spec.options, ...inv.parent?.options, help: HELP_OPTION };
}

export function optionLabel(name: string, o: OptionSpec): string {
  return `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ` ${o.arg ?? 'VALUE'}` : ''}`;
}

function synopsisWord(name: string, o: OptionSpec): string {
  return `[--${name}${o.type === 'string' ? ` ${o.arg ?? 'VALUE'}` : ''}]${o.multiple ? '...' : ''}`;
}

/** Words wrapped to `width`, continuation lines indented by `indent`. */
export function wrapWords(words: readonly string[], first: string, indent: string, width = WIDTH): string[] {
  const lines: string[] = [];
  let line = first;
  let fresh = true; // nothing but the lead on this line yet
  for (const w of words) {
    if (!fresh && line.length + 1 + w.length > width) {
      lines.push(line);
      line = `${indent}${w}`;
    } else {
      line = line.length === 0 || (fresh && line.endsWith(' ')) ? `${line}${w}` : `${line} ${w}`;
    }
    fresh = false;
  }
  lines.push(line);
  return lines;
}

/** A paragraph wrapped at `width`, every line indented by `indent`. */
export function wrapText(text: string, indent = '', width = WIDTH): string[] {
  return wrapWords(text.split(/\s+/).filter(Boolean), indent, indent, width);
}

/**
 * The usage lines of a leaf: its explicit forms, or one generated from its options and
 * operands; then its command's shared options (left out in the command's own list).
 */
export function synopsisLines(inv: Invocation, o: { readonly shared?: boolean } = {}): string[] {
  const program = programName(inv);
  const selector = inv.spec.selectedBy ? inv.spec.options?.[inv.spec.selectedBy] : undefined;
  const head = selector ? `${program} --${inv.spec.selectedBy} ${selector.arg ?? 'VALUE'}` : program;
  const shared = o.shared === false ? [] : Object.entries(inv.parent?.options ?? {}).map(([n, opt]) => synopsisWord(n, opt));
  if (inv.spec.forms) return inv.spec.forms.map((f) => [head, f, ...shared].join(' '));
  const own = Object.entries(inv.spec.options ?? {}).filter(([n]) => n !== inv.spec.selectedBy);
  return [[head, ...own.map(([n, opt]) => synopsisWord(n, opt)), ...shared, ...(inv.spec.operands ? [inv.spec.operands] : [])].join(' ')];
}

/** A synopsis line's words: `[--dns HOST[:PORT]]...` is one, spaces inside brackets do not split. */
export function synopsisWords(line: string): string[] {
  const words: string[] = [];
  let depth = 0;
  let word = '';
  for (const c of line) {
    if (c === ' ' && depth === 0) {
      if (word) words.push(word);
      word = '';
      continue;
    }
    if (c === '[') depth++;
    if (c === ']') depth = Math.max(0, depth - 1);
    word += c;
  }
  if (word) words.push(word);
  return words;
}

function usageBlock(lines: readonly string[]): string[] {
  return lines.flatMap((l, i) => {
    const words = synopsisWords(l);
    // Continuation lines start under the first option: after `mailanchor keys rotate`.
    const command = words.findIndex((w) => /^[[<A-Z-]/.test(w));
    const head = words.slice(0, command < 0 ? words.length : command).join(' ');
    const indent = ' '.repeat(7 + Math.min(head.length + 1, 30));
    return wrapWords(words, i === 0 ? 'usage:' : '       ', indent);
  });
}

function optionRows(options: OptionSpecs): string[] {
  const labels = Object.entries(options).map(([n, o]) => [optionLabel(n, o), o.help] as const);
  const col = Math.min(28, Math.max(...labels.map(([l]) => l.length)) + 4);
  return labels.flatMap(([label, help]) => {
    const left = `  ${label}`;
    if (left.length + 2 > col) return [left, ...wrapText(help, ' '.repeat(col))];
    const body = wrapText(help, ' '.repeat(col));
    return [`${left.padEnd(col)}${body[0]!.trimStart()}`, ...body.slice(1)];
  });
}

/** The exit statuses of a leaf (its own, else its command's), with the usage status when none names it. */
export function exitStatuses(inv: Invocation): ExitSpec[] {
  const listed = [...(inv.spec.exits ?? inv.parent?.exits ?? [])];
  const usage = usageExit(inv);
  if (!listed.some((e) => e.code === usage)) listed.push({ code: usage, meaning: SYSEXITS[EX.USAGE].meaning });
  return listed.sort((a, b) => a.code - b.code);
}

export const usageExit = (inv: Pick<Invocation, 'spec' | 'parent'>): ExitCode => inv.spec.usageExit ?? inv.parent?.usageExit ?? EX.USAGE;

/** `64 EX_USAGE`, or just `1` for an answer status. */
export function exitLabel(code: ExitCode): string {
  const sys = code === 1 || code === 2 ? undefined : SYSEXITS[code as SysExit];
  return sys && code !== 0 ? `${code} ${sys.name}` : `${code}`;
}

function exitRows(exits: readonly ExitSpec[]): string[] {
  const col = Math.max(...exits.map((e) => exitLabel(e.code).length)) + 4;
  return exits.flatMap((e) => {
    const body = wrapText(e.meaning, ' '.repeat(col));
    return [`${`  ${exitLabel(e.code)}`.padEnd(col)}${body[0]!.trimStart()}`, ...body.slice(1)];
  });
}

/** `--help` of a leaf: a command without subcommands, or one subcommand. */
export function leafHelp(inv: Invocation): string {
  const out = [...usageBlock(synopsisLines(inv)), ''];
  for (const p of inv.spec.description ?? [inv.spec.summary]) out.push(...wrapText(p), '');
  out.push('Options:', ...optionRows(leafOptions(inv)), '');
  out.push('Exit status:', ...exitRows(exitStatuses(inv)), '');
  out.push(`See mailanchor(8) for every command, mailanchor.yml(5) for the config file.`);
  return `${out.join('\n')}\n`;
}

/** `--help` of a command with subcommands: each one's usage, what it does, the shared options. */
export function groupHelp(prefix: readonly string[], spec: CommandSpec): string {
  const program = [...prefix, spec.name].join(' ');
  const subs = spec.subcommands ?? [];
  const group = [...prefix, spec.name];
  const out = [...usageBlock(subs.flatMap((s) => synopsisLines({ prefix: group, parent: spec, spec: s }, { shared: false }))), ''];
  for (const p of spec.description ?? [spec.summary]) out.push(...wrapText(p), '');
  const tags = subs.map((s) => [`${s.name}${spec.defaultSubcommand === s.name ? ' (default)' : ''}`, s.summary] as const);
  const col = Math.max(...tags.map(([t]) => t.length)) + 4;
  out.push('Subcommands:');
  for (const [tag, summary] of tags) {
    const body = wrapText(summary, ' '.repeat(col));
    out.push(`${`  ${tag}`.padEnd(col)}${body[0]!.trimStart()}`, ...body.slice(1));
  }
  out.push('', 'Options of every subcommand:', ...optionRows({ ...spec.options, help: HELP_OPTION }), '');
  if (spec.exits) out.push('Exit status:', ...exitRows(exitStatuses({ prefix, spec })), '');
  out.push(...wrapText(`\`${program} <subcommand> --help\` shows a subcommand's options and exit statuses; mailanchor(8) has them all.`));
  return `${out.join('\n')}\n`;
}

/** What a usage error prints after its message: the usage lines and where the help is. */
export function usageHint(inv: Invocation): string {
  // `--deploy-check --help` would read --help as the option's argument.
  const ask = inv.spec.selectedBy ? `${inv.prefix.join(' ')} help ${inv.spec.name}` : `${displayName(inv)} --help`;
  return `${usageBlock(synopsisLines(inv)).join('\n')}\nRun \`${ask}\` for the options.\n`;
}

export function groupUsageHint(prefix: readonly string[], spec: CommandSpec): string {
  const program = [...prefix, spec.name].join(' ');
  return `usage: ${program} <${(spec.subcommands ?? []).map((s) => s.name).join('|')}> [options]\nRun \`${program} --help\` for the subcommands.\n`;
}
