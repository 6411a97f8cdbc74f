/**
 * argv → a command's parsed options, from its spec and nothing else: the options node:util
 * parseArgs is given are made here from the spec (strict: an option the spec does not list
 * is a usage error), so no command has an option its help does not show.
 *
 * A command with subcommands takes its shared options before or after the subcommand's
 * name (`mailanchor report --config F send`, `mailanchor report send --config F`); `help`
 * in the subcommand's place (`mailanchor keys help rotate`), `--help` and `-h` anywhere
 * ask for help. Pure: the caller prints (outcome.ts).
 */
import { parseArgs } from 'node:util';
import type { ExitCode } from './exit-codes.ts';
import { displayName, groupHelp, groupUsageHint, HELP_OPTION, leafHelp, leafOptions, usageExit, usageHint, type Invocation } from './help.ts';
import type { AllOptions, CommandSpec, OptionSpecs, SubcommandName, Values } from './spec.ts';

export type Parsed<S extends CommandSpec> =
  | {
      readonly kind: 'run';
      /** The subcommand chosen (`undefined` for a command without subcommands). */
      readonly sub: SubcommandName<S>;
      readonly values: Values<AllOptions<S>>;
      readonly positionals: readonly string[];
      readonly invocation: Invocation;
    }
  | { readonly kind: 'help'; readonly text: string }
  | { readonly kind: 'usage'; readonly message: string; readonly text: string; readonly exit: ExitCode };

/** The parseArgs option table of a leaf: exactly the spec's options and -h/--help. */
export function parseArgsOptions(options: OptionSpecs): Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> {
  return Object.fromEntries(Object.entries(options).map(([name, o]) => [name, { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) }]));
}

const isParseArgsError = (err: unknown): err is Error => typeof (err as { code?: unknown }).code === 'string' && (err as { code: string }).code.startsWith('ERR_PARSE_ARGS');
const asksHelp = (args: readonly string[]): boolean => {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
};

function parseLeaf(inv: Invocation, args: readonly string[]): Parsed<CommandSpec> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options: parseArgsOptions(leafOptions(inv)), allowPositionals: inv.spec.operands !== undefined, strict: true });
  } catch (err) {
    if (!isParseArgsError(err)) throw err;
    if (asksHelp(args)) return { kind: 'help', text: leafHelp(inv) };
    return { kind: 'usage', message: `${displayName(inv)}: ${err.message}`, text: usageHint(inv), exit: usageExit(inv) };
  }
  if (parsed.values['help'] === true) return { kind: 'help', text: leafHelp(inv) };
  return { kind: 'run', sub: (inv.parent ? inv.spec.name : undefined) as never, values: parsed.values as never, positionals: parsed.positionals, invocation: inv };
}

/** Does this option token take the next token as its value? (`--config F`, not `--config=F`, not `--now`.) */
function takesValue(token: string, options: OptionSpecs): boolean {
  if (token.startsWith('--')) return !token.includes('=') && options[token.slice(2)]?.type === 'string';
  const short = Object.values(options).find((o) => o.short === token.slice(1, 2));
  return token.length === 2 && short?.type === 'string';
}

export function parseCommand<S extends CommandSpec>(spec: S, argv: readonly string[], prefix: readonly string[] = ['mailanchor']): Parsed<S> {
  const subs = spec.subcommands;
  if (!subs) return parseLeaf({ prefix, spec }, argv) as Parsed<S>;
  const group = [...prefix, spec.name];
  const usage = (message: string): Parsed<S> => ({ kind: 'usage', message: `${group.join(' ')}: ${message}`, text: groupUsageHint(prefix, spec), exit: usageExit({ spec }) });
  const every: OptionSpecs = Object.assign({}, spec.options, ...subs.map((s) => s.options ?? {}), { help: HELP_OPTION });

  // The subcommand's place: the first word that is neither an option nor an option's value.
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      i = argv.length;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    if (takesValue(a, every)) i++;
  }
  const word = argv[i];
  const named = (name: string | undefined) => subs.find((s) => s.name === name);
  if (word === 'help') {
    const target = argv[i + 1];
    if (target === undefined) return { kind: 'help', text: groupHelp(prefix, spec) };
    const sub = named(target);
    return sub ? { kind: 'help', text: leafHelp({ prefix: group, parent: spec, spec: sub }) } : usage(`no subcommand "${target}"`);
  }
  let sub = named(word);
  let rest = [...argv];
  if (sub) rest.splice(i, 1);
  else {
    sub = subs.find((s) => s.selectedBy !== undefined && argv.some((a) => a === `--${s.selectedBy}` || a.startsWith(`--${s.selectedBy}=`)));
    if (!sub && asksHelp(argv)) return { kind: 'help', text: groupHelp(prefix, spec) };
    sub ??= named(spec.defaultSubcommand);
    rest = [...argv];
  }
  if (!sub) return usage(word === undefined ? 'missing subcommand' : `unknown subcommand "${word}"`);
  return parseLeaf({ prefix: group, parent: spec, spec: sub }, rest) as Parsed<S>;
}
