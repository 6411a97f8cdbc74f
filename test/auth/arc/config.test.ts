/** The `inbound.arc_seal` section: defaults, every problem reported with its key, and the example file's block matching the decoder. */
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { arcSealSection } from '../../../src/auth/arc/config.ts';
import type { ConfigIssue } from '../../../src/config/schema.ts';

const decode = (v: unknown) => {
  const issues: ConfigIssue[] = [];
  const config = arcSealSection(v, 'inbound.arc_seal', issues);
  return { config, issues };
};

test('absent section: off, no rules, From signed and oversigned', (t) => {
  const { config, issues } = decode(undefined);
  t.deepEqual(issues, []);
  t.false(config.enabled);
  t.deepEqual([config.recipient_domains, config.daemons, config.forward_to], [[], [], []]);
  t.true(config.headers.includes('from'));
  t.true(config.oversign.includes('from'));
  t.true(config.headers.includes('dkim-signature'), 'RFC 8617 §4.1.2: SHOULD include DKIM-Signature fields');
});

test('destinations and domains are normalized: IDN to A-labels, case folded, trailing dot dropped', (t) => {
  const { config, issues } = decode({ enabled: true, domain: 'Example.ORG.', recipient_domains: ['Lists.Bücher.example'], forward_to: ['Someone@Example.NET', 'gmail.com'] });
  t.deepEqual(issues, []);
  t.is(config.domain, 'example.org');
  t.deepEqual(config.recipient_domains, ['lists.xn--bcher-kva.example']);
  t.deepEqual(config.forward_to, ['someone@example.net', 'gmail.com']);
});

test('every problem is reported with its key', (t) => {
  const { issues } = decode({ enabled: true, headers: ['to', 'ARC-Seal', 'Authentication-Results', 'bad name'], forward_to: ['@example.net', 'not a domain'], colour: 'blue' });
  const paths = issues.map((i) => i.path).sort();
  t.deepEqual(paths, [
    'inbound.arc_seal.colour',
    'inbound.arc_seal.domain',
    'inbound.arc_seal.forward_to[0]',
    'inbound.arc_seal.forward_to[1]',
    'inbound.arc_seal.headers',
    'inbound.arc_seal.headers[1]',
    'inbound.arc_seal.headers[2]',
    'inbound.arc_seal.headers[3]',
  ]);
  t.true(issues.some((i) => /must include from/.test(i.message)));
  t.true(issues.some((i) => /RFC 8617 §4\.1\.2/.test(i.message)));
});

test('enabled without any rule is an error: it would seal nothing', (t) => {
  const { issues } = decode({ enabled: true, domain: 'example.org' });
  t.deepEqual(issues.map((i) => [i.path, /nothing would be sealed/.test(i.message)]), [['inbound.arc_seal', true]]);
});

test('mailanchor.example.yml documents every key of inbound.arc_seal with its default', async (t) => {
  const text = await readFile(new URL('../../../mailanchor.example.yml', import.meta.url), 'utf8');
  // The block is commented out until the inbound filter wires it in: uncomment it and read it.
  const lines = text.split('\n');
  const start = lines.findIndex((l) => /^\s*#\s*arc_seal:/.test(l));
  t.true(start > 0);
  const block: string[] = [];
  for (const l of lines.slice(start)) {
    const m = /^(\s*)# ?(.*)$/.exec(l);
    if (!m || (block.length > 0 && !/^\s{2,}/.test(m[2]!))) break;
    block.push(`${m[1]}${m[2]}`);
  }
  const documented = (parse(block.join('\n')) as { arc_seal: Record<string, unknown> }).arc_seal;
  const defaults = decode(undefined).config as Record<string, unknown>;
  t.deepEqual(Object.keys(documented).sort(), Object.keys(defaults).sort());
  for (const key of ['enabled', 'recipient_domains', 'daemons', 'forward_to', 'headers', 'oversign']) t.deepEqual(documented[key], defaults[key], key);
  // The documented block is itself a valid (if enabled, complete) section.
  t.deepEqual(decode({ ...documented, enabled: true, recipient_domains: ['lists.example.org'] }).issues, []);
});
