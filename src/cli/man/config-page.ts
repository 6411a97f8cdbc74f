/**
 * mailanchor.yml(5), made from the config schema (src/config/: every key, its type, its
 * default, its place) and the comments of mailanchor.example.yml (what each key does and
 * why). A key of the schema the example does not describe is an error here, so the page
 * cannot leave one out. `npm run man` writes it to man/mailanchor.yml.5. Pure.
 */
import { scalar } from '../../config/print.ts';
import type { Decoder, Field } from '../../config/schema.ts';
import { readExampleDocs, type ExampleDocs, type Paragraph } from './example-comments.ts';
import type { PageInfo } from './command-page.ts';
import { escapeRoff, quoted, roffProse, wrapSource } from './roff.ts';

/** A small complete file for EXAMPLES (a test checks it is a valid config). */
export const EXAMPLE_CONFIG = `milter:
  listen: unix:/var/spool/postfix/mailanchor/milter.sock
dns:
  servers: [127.0.0.1]
keys:
  domains:
    example.org:
      algorithms: [rsa-sha256, ed25519-sha256]
      publisher: { type: rfc2136, server: 192.0.2.53, tsig: /etc/mailanchor/tsig.key }
reports:
  org_name: example.org
  email: dmarc-reports@example.org
`;

const DESCRIPTION = [
  'The configuration of every mailanchor(8) command, in YAML. Each top-level section belongs to one part of mailanchor; keys are snake_case everywhere (a camelCase key of older files is refused with the name to use). A key left out keeps its default, a section left out all of its defaults, and without any file (at the default path) mailanchor runs on the defaults alone. Unknown keys are errors: a typo never passes silently.',
  '`mailanchor check-config` checks a file like `postfix check` and names every problem with its key and line; `mailanchor check-config --print` writes the effective configuration with each default marked (like `postconf`), `--non-default` only what the file sets (like `postconf -n`). The milter re-reads the file on SIGHUP and keeps the old configuration when the new one is invalid.',
  'Durations are written `30s`, `5m`, `2h`, `7d`, `6mo` (30 days), `1y`, or as a bare number of seconds. A list of one item may be written as the item alone (`servers: 127.0.0.1`).',
  'The text below is that of /opt/mailanchor/mailanchor.example.yml, which sets or shows every key with its default; the types and defaults are the schema\'s.',
];

const join = (p: string, k: string): string => (p ? `${p}.${k}` : k);
/** A key with keys of its own (a mapping, a list of mappings, a record of mappings): it gets its own subsection. */
const isMapping = (d: Decoder<unknown>): boolean => d.fields !== undefined || d.item?.fields !== undefined;
// The example's words as written (`rfc2136: the primary` stays lower case), ended with a full stop.
const sentence = (text: string): string => roffProse(`${text}${/[\w)\]]$/.test(text) ? '.' : ''}`);

/** A paragraph's source lines after `lead` (`.PP`, `.IP`, `.br`): prose as a sentence, code as one literal line. */
function paragraph(lead: string, p: Paragraph): string[] {
  if (p.kind === 'prose') return [lead, sentence(p.text)];
  return [lead === '.br' ? '.IP' : lead, '.EX', escapeRoff(p.text).replace(/^([.'])/, '\\&$1'), '.EE'];
}

/** `dane.sites[]` → `dane.sites[]`, `keys.domains.*` → `keys.domains.NAME` (roff). */
const displayPath = (path: string): string => escapeRoff(path).replace(/\.\*/g, '.\\fINAME\\fR');

/** "duration; default 5m", "one of text, json; default text", "required", "not set by default". */
export function typeAndDefault(field: Field<unknown>): string {
  const type = field.decode.type;
  let dflt: string | undefined;
  if (field.defaultDoc !== undefined) dflt = `default: ${escapeRoff(field.defaultDoc)}`;
  else if (field.default) {
    const v = field.default();
    const encoded = field.decode.encode ? field.decode.encode(v) : v;
    const isObject = typeof encoded === 'object' && encoded !== null && !Array.isArray(encoded);
    if (!isObject || Object.keys(encoded).length === 0) dflt = `default \\fB${escapeRoff(isObject ? '{}' : scalar(encoded))}\\fR`;
  } else dflt = field.optional ? 'not set by default' : 'required';
  const t = type ? escapeRoff(type) : '';
  return [t, dflt].filter(Boolean).join('; ');
}

interface Entry {
  readonly path: string;
  readonly key: string;
  readonly field: Field<unknown>;
}

/** The entries of one mapping (its fields, or a list's item fields, or a record's item fields). */
function entriesOf(path: string, decoder: Decoder<unknown>): { childPath: string; entries: Entry[] } | undefined {
  const fields = decoder.fields ?? decoder.item?.fields;
  if (!fields) return undefined;
  const childPath = decoder.fields ? path : decoder.freeKeys ? `${path}.*` : `${path}[]`;
  return { childPath, entries: Object.entries(fields).map(([key, field]) => ({ path: join(childPath, key), key, field })) };
}

function keyItems(entries: readonly Entry[], docs: ExampleDocs, missing: string[]): string[] {
  const out: string[] = [];
  const done = new Set<string>();
  for (const e of entries) {
    if (done.has(e.path)) continue;
    const doc = docs.keys.get(e.path);
    if (!doc || (doc.text.length === 0 && !doc.sharesWith && !isMapping(e.field.decode))) missing.push(e.path);
    // Keys that share this one's text come with it: `.TP` + `.TQ` tags, one type line each.
    const group = [e, ...entries.filter((o) => o !== e && docs.keys.get(o.path)?.sharesWith === e.path)];
    for (const g of group) done.add(g.path);
    group.forEach((g, i) => out.push(i === 0 ? '.TP' : '.TQ', `\\fB${escapeRoff(g.key)}\\fR`));
    if (group.length === 1) out.push(`(${typeAndDefault(e.field)})`);
    else group.forEach((g, i) => out.push(...(i ? ['.br'] : []), `\\fI${escapeRoff(g.key)}\\fR: ${typeAndDefault(g.field)}`));
    const text = doc?.sharesWith ? (docs.keys.get(doc.sharesWith)?.text ?? []) : (doc?.text ?? []);
    text.forEach((p, i) => out.push(...paragraph(i === 0 ? '.br' : '.IP', p)));
    if (isMapping(e.field.decode)) out.push(...(text.length ? ['.IP'] : ['.br']), `Its keys: \\fB${displayPath(entriesOf(e.path, e.field.decode)!.childPath)}\\fR below.`);
  }
  return out;
}

function mappingSections(entries: readonly Entry[], docs: ExampleDocs, missing: string[]): string[] {
  const out: string[] = [];
  for (const e of entries) {
    if (!isMapping(e.field.decode)) continue;
    const inner = entriesOf(e.path, e.field.decode)!;
    out.push(`.SS ${quoted(displayPath(inner.childPath))}`);
    if (inner.childPath.endsWith('[]')) out.push(roffProse(`Each entry of the list \`${e.path}\`, a mapping with these keys.`));
    else if (inner.childPath.endsWith('.*')) out.push(`Each key of the mapping \\fB${escapeRoff(e.path)}\\fR names one; its value is a mapping with these keys.`);
    else out.push(`The keys of \\fB${displayPath(e.path)}\\fR.`);
    out.push(...keyItems(inner.entries, docs, missing), ...mappingSections(inner.entries, docs, missing));
  }
  return out;
}

export function configPage(info: PageInfo, schema: Decoder<unknown>, exampleText: string): string {
  const docs = readExampleDocs(exampleText, schema);
  const missing: string[] = [];
  const lines: string[] = [
    ".\\\" mailanchor.yml(5). Generated by `npm run man` from the config schema (src/config/, the sections) and the comments of mailanchor.example.yml: edit those, not this file.",
    `.TH MAILANCHOR.YML 5 ${info.date} ${quoted(`mailanchor ${escapeRoff(info.version)}`)} "File Formats Manual"`,
    // Keys, paths and values are not hyphenated (HY: also after .EE), and lines are not stretched.
    '.nh',
    '.nr HY 0',
    '.ad l',
    '.SH NAME',
    'mailanchor.yml \\- the configuration file of mailanchor(8)',
    '.SH SYNOPSIS',
    '\\fI/etc/mailanchor/mailanchor.yml\\fR',
    '.SH DESCRIPTION',
  ];
  DESCRIPTION.forEach((p, i) => lines.push(...(i ? ['.PP'] : []), roffProse(p)));
  const sections = Object.entries(schema.fields ?? {});
  lines.push('.PP', roffProse(`The sections, each below with its keys: ${sections.map(([n]) => `\`${n}\``).join(', ')}.`));
  for (const [name, field] of sections) {
    lines.push(`.SH ${quoted(escapeRoff(name.toUpperCase()))}`, roffProse(`The keys under \`${name}:\`.`));
    for (const p of docs.intros.get(name) ?? []) lines.push(...paragraph('.PP', p));
    const inner = entriesOf(name, field.decode)!;
    lines.push(...keyItems(inner.entries, docs, missing), ...mappingSections(inner.entries, docs, missing));
  }
  if (missing.length) throw new Error(`mailanchor.example.yml describes no key ${missing.join(', ')}: add a comment above each`);
  lines.push('.SH EXAMPLES', roffProse('A host that signs for example.org, publishing its keys by RFC 2136 UPDATE, with the socket Postfix reaches from its chroot:'), '.PP', '.EX');
  for (const l of EXAMPLE_CONFIG.trimEnd().split('\n')) lines.push(escapeRoff(l).replace(/^([.'])/, '\\&$1'));
  lines.push('.EE', '.SH FILES', '.TP', '\\fI/etc/mailanchor/mailanchor.yml\\fR', roffProse('The file every command reads unless given --config FILE.'), '.TP', '\\fI/opt/mailanchor/mailanchor.example.yml\\fR', roffProse('Every key, set or shown with its default.'));
  lines.push('.SH "SEE ALSO"', '\\fBmailanchor\\fR(8), \\fBpostconf\\fR(5), \\fBopendkim.conf\\fR(5), \\fBopendmarc.conf\\fR(5)');
  return `${wrapSource(lines).join('\n')}\n`;
}
