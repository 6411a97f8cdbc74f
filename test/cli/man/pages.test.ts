/**
 * man/mailanchor.8 and man/mailanchor.yml.5: the committed pages are what their sources make
 * (`npm run man`), they render without a warning from groff (man --warnings) or mandoc's
 * lint, and they leave out no command, option, exit status or config key.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { commandPage } from '../../../src/cli/man/command-page.ts';
import { configPage, EXAMPLE_CONFIG } from '../../../src/cli/man/config-page.ts';
import { manPages, pageDate, sameExceptDate } from '../../../src/cli/man/pages.ts';
import { escapeRoff } from '../../../src/cli/man/roff.ts';
import { exitLabel, exitStatuses, leafOptions } from '../../../src/cli/help.ts';
import { packageVersion } from '../../../src/cli/version.ts';
import { parseConfigText } from '../../../src/config/load.ts';
import { configSchema } from '../../../src/config/sections.ts';
import { schemaKeys } from '../../support/config-schema.ts';
import { leaves } from '../leaves.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;
const EXAMPLE = readFileSync(`${ROOT}mailanchor.example.yml`, 'utf8');
const committed = (file: string): string => readFileSync(`${ROOT}man/${file}`, 'utf8');
const manMissing = spawnSync('man', ['--version']).error ? 'man-db is not installed' : undefined;
const mandocMissing = spawnSync('mandoc', ['-T', 'lint', '/dev/null']).error ? 'mandoc is not installed (.ci/install-deps.sh)' : undefined;

test('the committed pages are what the specs, the schema and the example file make (run `npm run man`)', (t) => {
  for (const page of manPages({ version: packageVersion(), date: '2000-01-01' }, EXAMPLE)) {
    const file = committed(page.file);
    t.true(sameExceptDate(file, page.text), `man/${page.file} is stale: run \`npm run man\` and commit it`);
    t.regex(pageDate(file) ?? '', /^\d{4}-\d{2}-\d{2}$/);
    t.regex(file, new RegExp(`^\\.TH \\S+ \\d \\S+ "mailanchor ${packageVersion().replace(/\./g, '\\.')}"`, 'm'), 'the package version');
  }
});

test('the pages do not depend on the host: state directory and environment', (t) => {
  const info = { version: '0.0.0', date: '2000-01-01' };
  const before = manPages(info, EXAMPLE).map((p) => p.text);
  const saved = { STATE_DIRECTORY: process.env['STATE_DIRECTORY'], MAILANCHOR_STATE_DIR: process.env['MAILANCHOR_STATE_DIR'] };
  try {
    process.env['STATE_DIRECTORY'] = '/elsewhere/state';
    process.env['MAILANCHOR_STATE_DIR'] = '/elsewhere/var';
    t.deepEqual(manPages(info, EXAMPLE).map((p) => p.text), before);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
});

(manMissing ? test.skip : test)('man --warnings renders both without a warning', (t) => {
  for (const file of ['mailanchor.8', 'mailanchor.yml.5']) {
    const r = spawnSync('man', ['--warnings', '-E', 'UTF-8', '-l', '-Tutf8', '-Z', `${ROOT}man/${file}`], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '80' } });
    t.is(r.status, 0, r.stderr);
    t.is(r.stderr, '', file);
    const text = spawnSync('man', ['-l', `${ROOT}man/${file}`], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '80', MAN_KEEP_FORMATTING: '' } }).stdout;
    t.regex(text, file.endsWith('.8') ? /^EXIT STATUS$/m : /^MILTER$/m);
    t.false(/\S‐$/m.test(text), `${file}: nothing hyphenated at a line end (paths and options are copied as typed)`);
  }
});

(mandocMissing ? test.skip : test)('mandoc -T lint finds nothing, not even style', (t) => {
  for (const file of ['mailanchor.8', 'mailanchor.yml.5']) {
    const r = spawnSync('mandoc', ['-T', 'lint', '-W', 'style', `${ROOT}man/${file}`], { encoding: 'utf8' });
    t.is(`${r.stdout}${r.stderr}`, '', file);
  }
});

test('mailanchor(8) has every command, subcommand, option and exit status of the specs', (t) => {
  const page = commandPage({ version: '0.0.0', date: '2000-01-01' });
  for (const leaf of leaves()) {
    const name = leaf.inv.spec.selectedBy ? `${leaf.inv.prefix.join(' ')} --${leaf.inv.spec.selectedBy}` : [...leaf.inv.prefix, leaf.inv.spec.name].join(' ');
    const at = page.indexOf(`.SS "${escapeRoff(name)}"`);
    t.true(at >= 0, `a section for ${name}`);
    const next = page.indexOf('\n.SS ', at + 1);
    const section = page.slice(at, next < 0 ? undefined : next);
    for (const option of Object.keys(leaf.inv.spec.options ?? {})) t.true(section.includes(`\\fB${escapeRoff(`--${option}`)}\\fR`), `${name}: --${option}`);
    for (const e of exitStatuses(leaf.inv)) t.true(section.includes(`.TP\n\\fB${escapeRoff(exitLabel(e.code))}\\fR\n`), `${name}: exit ${e.code}`);
    for (const option of Object.keys(leafOptions(leaf.inv))) t.true(page.includes(escapeRoff(`--${option}`)), `--${option}`);
  }
  t.regex(page, /^\.SH "EXIT STATUS"$/m);
  for (const code of ['64 EX_USAGE', '65 EX_DATAERR', '66 EX_NOINPUT', '69 EX_UNAVAILABLE', '70 EX_SOFTWARE', '73 EX_CANTCREAT', '74 EX_IOERR', '75 EX_TEMPFAIL', '77 EX_NOPERM', '78 EX_CONFIG']) t.true(page.includes(`\\fB${code}\\fR`), code);
});

test('mailanchor.yml(5) has every key of the schema, at every depth, with its type and default', (t) => {
  const page = configPage({ version: '0.0.0', date: '2000-01-01' }, configSchema, EXAMPLE);
  for (const { path, key } of schemaKeys()) {
    const parent = path.includes('.') ? path.slice(0, path.lastIndexOf('.')) : '';
    if (!parent) {
      t.true(page.includes(`.SH "${key.toUpperCase()}"`), `section ${key}`);
      continue;
    }
    t.true(page.includes(`\\fB${escapeRoff(key)}\\fR`), path);
    if (parent.includes('.')) t.true(page.includes(`.SS "${escapeRoff(parent).replace(/\.\*/g, '.\\fINAME\\fR')}"`), `subsection ${parent}`);
  }
  t.regex(page, /^\\fBread_timeout\\fR\n\(duration; default \\fB5m\\fR\)$/m);
  t.regex(page, /^\\fBpath\\fR\n\(string; default: \$STATE_DIRECTORY\/mailanchor\.db/m, 'a host-dependent default described, not this host\'s value');
});

test('a key the example file does not describe stops the page', (t) => {
  const without = EXAMPLE.replace(/^audit:\n(  #.*\n)+  domains: \[\]\n/m, 'audit:\n  domains: []\n');
  t.not(without, EXAMPLE);
  t.throws(() => configPage({ version: '0', date: '2000-01-01' }, configSchema, without), { message: /describes no key audit\.domains/ });
});

test('the EXAMPLES section is a valid config', (t) => {
  t.notThrows(() => parseConfigText(EXAMPLE_CONFIG, 'EXAMPLES'));
});
