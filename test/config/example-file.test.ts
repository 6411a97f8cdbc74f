import test from 'ava';
import { readFile } from 'node:fs/promises';
import { parseConfigText } from '../../src/config/load.ts';

// The example file documents every key; it must itself be a valid config, so a key
// renamed in code but not in the docs (or the reverse) fails here.
test('mailanchor.example.yml is a valid config', async (t) => {
  const text = await readFile(new URL('../../mailanchor.example.yml', import.meta.url), 'utf8');
  t.notThrows(() => parseConfigText(text, 'mailanchor.example.yml'));
});

import { parse } from 'yaml';
import { decodeConfig } from '../../src/config/load.ts';

/** Every key of the built-in defaults, two levels deep (section.key). */
function defaultKeys(): string[] {
  const { config } = decodeConfig({});
  return Object.entries(config).flatMap(([section, v]) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.keys(v).map((k) => `${section}.${k}`) : [section]));
}

test('every key with a default is documented in mailanchor.example.yml (set or shown in a comment)', async (t) => {
  const text = await readFile(new URL('../../mailanchor.example.yml', import.meta.url), 'utf8');
  const doc = parse(text) as Record<string, Record<string, unknown> | null>;
  const undocumented = defaultKeys().filter((path) => {
    const [section, key] = path.split('.') as [string, string];
    return !(doc[section] && key in (doc[section] ?? {})) && !new RegExp(`^\\s*#?\\s*${key}:`, 'm').test(text);
  });
  t.deepEqual(undocumented, []);
});
