import test from 'ava';
import { readFile } from 'node:fs/promises';
import { parseConfigText } from '../../src/config/load.ts';

// The example file documents every key; it must itself be a valid config, so a key
// renamed in code but not in the docs (or the reverse) fails here.
test('mailanchor.example.yml is a valid config', async (t) => {
  const text = await readFile(new URL('../../mailanchor.example.yml', import.meta.url), 'utf8');
  t.notThrows(() => parseConfigText(text, 'mailanchor.example.yml'));
});
