/** Every command and subcommand of the specs, with the argv that reaches it. */
import type { Invocation } from '../../src/cli/help.ts';
import type { CommandSpec } from '../../src/cli/spec.ts';
import { COMMANDS } from '../../src/cli/specs/index.ts';

export interface Leaf {
  readonly inv: Invocation;
  /** argv after `mailanchor` that selects it (the selecting option gets a value). */
  readonly argv: readonly string[];
  readonly name: string;
}

export function leaves(): Leaf[] {
  return COMMANDS.flatMap((c): Leaf[] => {
    if (!c.subcommands) return [{ inv: { prefix: ['mailanchor'], spec: c }, argv: [c.name], name: c.name }];
    return c.subcommands.map((s) => ({
      inv: { prefix: ['mailanchor', c.name], parent: c, spec: s },
      argv: s.selectedBy ? [c.name, `--${s.selectedBy}`, 'x.pem'] : [c.name, s.name],
      name: `${c.name} ${s.name}`,
    }));
  });
}

export const groups = (): CommandSpec[] => COMMANDS.filter((c) => c.subcommands);
