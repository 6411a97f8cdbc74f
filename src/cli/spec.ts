/**
 * The declarative description of a command: the one source its option parsing
 * (`parse.ts`), its `--help` (`help.ts`) and the man page mailanchor(8) (`man/`) are made
 * from, so what a command accepts and what it documents cannot drift apart.
 *
 * Specs are plain data (src/cli/specs/, one per command) and load nothing: `mailanchor
 * --help` and the man page generator read every spec without loading any command.
 *
 * Text fields are prose; `` `literal` `` marks a command, key or value (bold in the man page).
 */
import type { ExitCode } from './exit-codes.ts';

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  /** One letter: `-v` beside `--verbose`. */
  readonly short?: string;
  /** May be given more than once; the values are a list in order. */
  readonly multiple?: boolean;
  /** The argument's name in usage and help (`FILE`, `HOST[:PORT]`); string options only. */
  readonly arg?: string;
  /** One or two sentences: what it does, and the default when it is not given. */
  readonly help: string;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

export interface ExitSpec {
  readonly code: ExitCode;
  readonly meaning: string;
}

export interface CommandSpec {
  readonly name: string;
  /** One line for command lists: what it does. */
  readonly summary: string;
  /** Operands after the options (`DOMAIN…`); a command without it takes none. */
  readonly operands?: string;
  /** Usage lines after the command's path, when one generated line cannot say it (alternative forms). */
  readonly forms?: readonly string[];
  /** Paragraphs. */
  readonly description?: readonly string[];
  /** With subcommands: the options every subcommand takes (also before the subcommand's name). */
  readonly options?: OptionSpecs;
  readonly subcommands?: readonly CommandSpec[];
  /** The subcommand used when the first operand names none (`mailanchor tlsa FILE…` computes). */
  readonly defaultSubcommand?: string;
  /** A subcommand chosen by the presence of this option of its own (`mailanchor tlsa --deploy-check CERT`). */
  readonly selectedBy?: string;
  /** Exit statuses; a subcommand without its own has its command's. */
  readonly exits?: readonly ExitSpec[];
  /** The status of a usage error when it is not EX_USAGE (64): the audit's contract says 2. */
  readonly usageExit?: ExitCode;
  /** Paragraphs for the man page only (examples, notes), after the options. */
  readonly notes?: readonly string[];
}

// ------------------------------------------------------------------ typed option values

type OptionsOf<S> = S extends { readonly options: infer O } ? O : Record<never, never>;
type SubcommandsOf<S> = S extends { readonly subcommands: readonly (infer C)[] } ? C : never;
type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

/** What parsing needs of an option (its help text differs between subcommands; its type may not). */
type Shape<O> = { [K in keyof O]: { readonly type: O[K] extends { readonly type: infer T } ? T : never; readonly multiple: O[K] extends { readonly multiple: true } ? true : false } };

/** Every option a command's parse may return: its own and those of each of its subcommands. */
export type AllOptions<S> = Shape<OptionsOf<S>> & UnionToIntersection<Shape<OptionsOf<SubcommandsOf<S>>>>;

type ValueOf<O> = O extends { readonly type: 'boolean' } ? (O extends { readonly multiple: true } ? boolean[] : boolean) : O extends { readonly multiple: true } ? string[] : string;

/** The parsed values, one optional property per option (`values.domain`, `values['dry-run']`). */
export type Values<O> = { -readonly [K in keyof O as K extends string ? K : never]?: ValueOf<O[K]> };

/** The subcommand names of a command, or `undefined` for a command without subcommands. */
export type SubcommandName<S> = [SubcommandsOf<S>] extends [never] ? undefined : SubcommandsOf<S> extends { readonly name: infer N } ? N : never;
