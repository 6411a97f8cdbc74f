/**
 * The macros the MTA sent on one connection (SMFIC_MACRO), by the stage they precede. A
 * later stage's value wins; MAIL's arrival clears the previous message's stages. Bounded:
 * only the stages libmilter knows carry macros, and all of them together hold at most
 * MAX_MACRO_BYTES — Postfix sends a few hundred bytes, a peer sending megabytes of macros
 * for 256 made-up stages would otherwise pin that much per session.
 */
import { MAX_MACRO_BYTES, SMFIC, commandName } from './constants.ts';
import { MilterProtocolError } from './errors.ts';
import { normaliseMacroName } from './commands.ts';
import type { MacroView } from './filter.ts';

/** Macro lookup order: the latest stage first (the SMFIC command bytes the macros precede). */
const MACRO_ORDER = [SMFIC.BODYEOB, SMFIC.EOH, SMFIC.HEADER, SMFIC.BODY, SMFIC.DATA, SMFIC.RCPT, SMFIC.MAIL, SMFIC.HELO, SMFIC.CONNECT, SMFIC.UNKNOWN];
const MACRO_STAGES: ReadonlySet<number> = new Set(MACRO_ORDER);
/** Stages whose macros belong to one message: cleared when the next MAIL's macros arrive. */
const MESSAGE_MACRO_STAGES = [SMFIC.MAIL, SMFIC.RCPT, SMFIC.DATA, SMFIC.HEADER, SMFIC.EOH, SMFIC.BODY, SMFIC.BODYEOB];

export class Macros implements MacroView {
  /**
   * The entries as they came, per stage: a few per stage, looked up a few times per message,
   * so a scan (from the end: a later duplicate wins) beats building a Map for every frame.
   */
  readonly #stages = new Map<number, { readonly values: ReadonlyArray<readonly [string, string]>; readonly bytes: number }>();
  #bytes = 0;

  /** Throws MilterProtocolError for a stage that carries no macros or when over the bound. */
  set(stage: number, entries: ReadonlyArray<readonly [string, string]>): void {
    if (!MACRO_STAGES.has(stage)) {
      throw new MilterProtocolError('malformed-payload', `macros for ${commandName(stage)}, which is not a stage`, { stage });
    }
    if (stage === SMFIC.MAIL) for (const s of MESSAGE_MACRO_STAGES) this.#drop(s);
    this.#drop(stage);
    let bytes = 0;
    for (const [k, v] of entries) bytes += k.length + v.length + 2;
    if (this.#bytes + bytes > MAX_MACRO_BYTES) {
      throw new MilterProtocolError('macros-too-large', `macros over ${MAX_MACRO_BYTES} bytes on one connection`, { stage: commandName(stage), bytes: this.#bytes + bytes });
    }
    this.#stages.set(stage, { values: entries, bytes });
    this.#bytes += bytes;
  }

  #drop(stage: number): void {
    const old = this.#stages.get(stage);
    if (!old) return;
    this.#bytes -= old.bytes;
    this.#stages.delete(stage);
  }

  clear(): void {
    this.#stages.clear();
    this.#bytes = 0;
  }

  get(name: string): string | undefined {
    const key = normaliseMacroName(name.startsWith('{') || name.length === 1 ? name : `{${name}}`);
    for (const s of MACRO_ORDER) {
      const values = this.#stages.get(s)?.values;
      if (!values) continue;
      for (let i = values.length - 1; i >= 0; i--) if (values[i]![0] === key) return values[i]![1];
    }
    return undefined;
  }

  *entries(): IterableIterator<[string, string]> {
    const seen = new Set<string>();
    for (const s of MACRO_ORDER) {
      // Map: the stage's own duplicates collapse to the last value, in first-seen order.
      for (const [k, v] of new Map(this.#stages.get(s)?.values ?? [])) {
        if (!seen.has(k)) {
          seen.add(k);
          yield [k, v];
        }
      }
    }
  }
}
