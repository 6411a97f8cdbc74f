import test from 'ava';
import { readFile } from 'node:fs/promises';
import { parseConfigText } from '../../src/config/load.ts';
import { schemaKeys } from '../support/config-schema.ts';

// The example file documents every key; it must itself be a valid config, so a key
// renamed in code but not in the docs (or the reverse) fails here.
test('mailanchor.example.yml is a valid config', async (t) => {
  const text = await readFile(new URL('../../mailanchor.example.yml', import.meta.url), 'utf8');
  t.notThrows(() => parseConfigText(text, 'mailanchor.example.yml'));
});

/** The example's text per top-level section (`milter:` … up to the next top-level key). */
function sections(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let name = '';
  for (const line of text.split('\n')) {
    const top = /^([a-z_]+):/.exec(line);
    if (top) name = top[1]!;
    if (name) out.set(name, `${out.get(name) ?? ''}${line}\n`);
  }
  return out;
}

// Every key at every depth (lists of sites, per-domain keys, publishers …) appears in its
// section, set or in a comment (`# key:`), so the file really documents the whole schema.
test('every key of the schema, at every depth, is documented in its section of mailanchor.example.yml', async (t) => {
  const text = await readFile(new URL('../../mailanchor.example.yml', import.meta.url), 'utf8');
  const bySection = sections(text);
  const undocumented = schemaKeys().filter(({ path, key }) => {
    const section = bySection.get(path.split(/[.[]/)[0]!) ?? '';
    return !new RegExp(`^\\s*(#\\s*)?(-\\s+)?${key}:`, 'm').test(section);
  });
  t.deepEqual(undocumented.map((k) => k.path), []);
});
