/**
 * The documentation in mailanchor.example.yml, by key: the comment block above each key
 * (set, or shown commented out as `# key: value`) and its trailing `# …` comment. The schema (src/config/) says which lines are keys and where they
 * sit, so a comment line that only looks like `word: text` is prose; the key paths are
 * those of the schema walk (`dane.sites[].host`, `keys.domains.*.publisher.type`).
 *
 * Conventions the file follows, and this reads:
 * - a comment block describes the key right below it; a blank line ends a block unused;
 * - keys right below another key, with no comment of their own, share its description
 *   (`spf_max_lookups` / `spf_max_void_lookups`), unless they are mappings;
 * - inside a commented-out example block (`# arc_seal:` / `#   enabled: false`) the text
 *   after `# ` is read as YAML again, its own comments (`#   # d= of our seals`) as prose;
 * - in a section's first block, an empty comment line (`#`) divides the section's
 *   introduction from the first key's description.
 *
 * Pure: text and schema in, a map out.
 */
import type { Decoder } from '../../config/schema.ts';

/** Prose (a block's lines joined), or a line indented deeper than its key: an example to show as is. */
export type Paragraph = { readonly kind: 'prose'; readonly text: string } | { readonly kind: 'code'; readonly text: string };

export interface KeyDoc {
  /** The key's path in the schema walk's form. */
  readonly path: string;
  readonly key: string;
  /** Paragraphs (an empty comment line starts a new one). */
  readonly text: readonly Paragraph[];
  /** Another key whose description this one shares (it came right after it with none of its own). */
  readonly sharesWith?: string;
  /** 1-based line of the key in the example. */
  readonly line: number;
}

export interface ExampleDocs {
  /** Section (and nested mapping) introductions by path. */
  readonly intros: ReadonlyMap<string, readonly Paragraph[]>;
  readonly keys: ReadonlyMap<string, KeyDoc>;
}

interface Frame {
  readonly indent: number;
  readonly path: string;
  readonly decoder: Decoder<unknown>;
}

interface Line {
  readonly indent: number;
  /** The text after the indentation (and after `# ` on a commented line). */
  readonly text: string;
  readonly commented: boolean;
}

/** A line as YAML: a commented line's text after `# ` is indented from the `#`. */
function virtual(raw: string): Line {
  const lead = /^ */.exec(raw)![0].length;
  const rest = raw.slice(lead);
  if (!rest.startsWith('#')) return { indent: lead, text: rest, commented: false };
  const body = rest.slice(1).replace(/^ /, '');
  const inner = /^ */.exec(body)![0].length;
  return { indent: lead + inner, text: body.slice(inner), commented: true };
}

/** `key: value  # trailing` → the key and the trailing comment (a `#` after white space, outside quotes). */
function keyLine(text: string): { key: string; value: string; trailing?: string } | undefined {
  const m = /^([A-Za-z0-9_][A-Za-z0-9_.-]*):(?:\s+(.*))?$/.exec(text);
  if (!m) return undefined;
  const rest = m[2] ?? '';
  let quote: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const c = rest[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' && i > 0 && /\s/.test(rest[i - 1]!)) return { key: m[1]!, value: rest.slice(0, i).trim(), trailing: rest.slice(i + 1).trim() };
  }
  return { key: m[1]!, value: rest.trim() };
}

/** The child of `parent` named `key`: a field, a free key of a record, a field of a list's items. */
function child(parent: Frame, key: string): Frame | undefined {
  const d = parent.decoder;
  const join = (p: string, k: string): string => (p ? `${p}.${k}` : k);
  const field = d.fields?.[key];
  if (field) return { indent: 0, path: join(parent.path, key), decoder: field.decode };
  if (d.item && d.freeKeys) return { indent: 0, path: `${parent.path}.*`, decoder: d.item };
  const itemField = d.item?.fields?.[key];
  if (itemField) return { indent: 0, path: `${parent.path}[].${key}`, decoder: itemField.decode };
  return undefined;
}

interface ProseLine {
  readonly indent: number;
  /** '' for an empty comment line: a paragraph break. */
  readonly text: string;
}

/** Lines into paragraphs: prose lines joined up to an empty line; lines deeper than `keyIndent` as code. */
function paragraphs(lines: readonly ProseLine[], keyIndent = Infinity): Paragraph[] {
  const out: Paragraph[] = [];
  let prose: string[] = [];
  const flush = (): void => {
    const text = prose.join(' ').replace(/\s+/g, ' ').trim();
    if (text) out.push({ kind: 'prose', text });
    prose = [];
  };
  for (const l of lines) {
    if (l.text === '') flush();
    else if (l.indent > keyIndent) {
      flush();
      out.push({ kind: 'code', text: l.text });
    } else prose.push(l.text);
  }
  flush();
  return out;
}

const isMapping = (d: Decoder<unknown>): boolean => d.fields !== undefined || d.freeKeys === true;
const isList = (d: Decoder<unknown>): boolean => d.item !== undefined && d.freeKeys !== true;

export function readExampleDocs(text: string, schema: Decoder<unknown>): ExampleDocs {
  const root: Frame = { indent: -2, path: '', decoder: schema };
  const stack: Frame[] = [root];
  const keys = new Map<string, KeyDoc>();
  const intros = new Map<string, Paragraph[]>();
  const sectionsSeen = new Set<string>();
  let prose: ProseLine[] = []; // the pending block
  let previous: { parent: string; indent: number; path: string } | undefined;

  /** Where a key at `indent` belongs: two columns under its mapping, four under a list (after `- `). */
  const place = (indent: number, key: string): { depth: number; frame: Frame } | undefined => {
    for (let depth = stack.length - 1; depth >= 0; depth--) {
      const parent = stack[depth]!;
      if (parent.indent >= indent) continue;
      if (indent !== parent.indent + (isList(parent.decoder) ? 4 : 2)) return undefined;
      const found = child(parent, key);
      return found ? { depth, frame: { ...found, indent } } : undefined;
    }
    return undefined;
  };

  text.split('\n').forEach((raw, index) => {
    if (raw.trim() === '') {
      prose = [];
      previous = undefined;
      return;
    }
    if (/^#\s*-{3,}/.test(raw)) return; // a section banner
    let { indent, text: t } = virtual(raw);
    const { commented } = virtual(raw);
    if (t.startsWith('- ')) {
      // A list item: what follows the dash sits two columns further in.
      indent += 2;
      t = t.slice(2).trimStart();
    }
    if (t.startsWith('#') || (commented && t === '')) {
      prose.push({ indent, text: t.replace(/^#+ ?/, '').trim() });
      previous = undefined;
      return;
    }
    const k = keyLine(t);
    const placed = k ? place(indent, k.key) : undefined;
    if (!k || !placed) {
      // A commented line that is no key where it stands is prose; an active one is a value (`- inet:…`, `{}`).
      if (commented) {
        prose.push({ indent, text: t });
        previous = undefined;
      }
      return;
    }
    stack.length = placed.depth + 1;
    const parent = stack[placed.depth]!;
    const frame = placed.frame;
    stack.push(frame);

    let block = prose;
    prose = [];
    const section = parent.path.includes('.') || parent === root ? undefined : parent.path;
    if (section !== undefined && !sectionsSeen.has(section) && block.some((l) => l.text === '')) {
      // The section's introduction, then (after an empty comment line) the first key's own text.
      const cut = block.findIndex((l) => l.text === '');
      intros.set(section, [...(intros.get(section) ?? []), ...paragraphs(block.slice(0, cut))]);
      block = block.slice(cut + 1);
    }
    if (section !== undefined) sectionsSeen.add(section);
    const own = paragraphs([...block, ...(k.trailing ? [{ indent, text: k.trailing }] : [])], indent);
    const shares = own.length === 0 && previous?.parent === parent.path && previous.indent === indent && !isMapping(frame.decoder) ? previous.path : undefined;
    const known = keys.get(frame.path);
    if (!known || (known.text.length === 0 && !known.sharesWith)) {
      const leader = shares === undefined ? undefined : (keys.get(shares)?.sharesWith ?? shares);
      keys.set(frame.path, { path: frame.path, key: k.key, text: own, ...(leader ? { sharesWith: leader } : {}), line: known?.line ?? index + 1 });
    }
    if (isMapping(frame.decoder) && own.length > 0 && !intros.has(frame.path)) intros.set(frame.path, own);
    previous = isMapping(frame.decoder) ? undefined : { parent: parent.path, indent, path: frame.path };
  });
  return { intros, keys };
}
