/** `check-config --print`: the effective config as a file, defaults marked, secrets masked, decoding to the same values. */
import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { decodeConfig, parseConfigFile } from '../../src/config/load.ts';
import { printConfig } from '../../src/config/print.ts';
import { configSchema } from '../../src/config/sections.ts';
import { run } from '../../src/cli/check-config.ts';
import { captureIo } from '../support/cli-io.ts';

const FILE = [
  'milter:',
  '  listen: unix:/var/spool/postfix/mailanchor/milter.sock',
  '  drain_timeout: 45s',
  'dns:',
  '  servers: [127.0.0.1, "[::1]:5353"]',
  'keys:',
  '  domains:',
  '    example.org:',
  '      rsa_bits: 3072',
  '      publisher: { type: rfc2136, server: 192.0.2.53, tsig: "upd:hmac-sha256:c2VjcmV0c2VjcmV0" }',
  'dane:',
  '  sites:',
  '    - host: mx.example.org',
  '      cert_files: [/etc/postfix/tls/mx.pem]',
  '',
].join('\n');

test('every value is printed; those the file does not set carry "# default"', (t) => {
  const { config, raw } = parseConfigFile(FILE, 'x.yml');
  const out = printConfig(configSchema, config, raw);
  t.regex(out, /^milter:\n  listen: \[unix:\/var\/spool\/postfix\/mailanchor\/milter\.sock\]\n  socket_mode: "0660"  # default\n/m);
  t.regex(out, /^  drain_timeout: 45s$/m);
  t.regex(out, /^  read_timeout: 5m  # default$/m);
  t.regex(out, /^  # socket_owner: \(not set\)$/m);
  t.regex(out, /^log:  # default\n  format: text  # default$/m);
  t.regex(out, /^  servers: \[127\.0\.0\.1:53, "\[::1\]:5353"\]$/m);
  t.regex(out, /^    example\.org:\n      # zone: \(not set\)\n      algorithms: \[rsa-sha256, ed25519-sha256\]  # default$/m);
  t.regex(out, /^      rsa_bits: 3072$/m);
  t.regex(out, /^      lifetime: 182d  # default$/m);
  t.regex(out, /^    - host: mx\.example\.org\n      port: 25  # default$/m);
  t.notRegex(out, /c2VjcmV0/, 'an inline TSIG secret is never printed');
  t.regex(out, /^        tsig: "\(inline secret, not shown\)"$/m);
});

test('--non-default prints only what the file sets, like postconf -n', (t) => {
  const { config, raw } = parseConfigFile(FILE, 'x.yml');
  const out = printConfig(configSchema, config, raw, [], { nonDefault: true });
  t.notRegex(out, /# default/);
  t.notRegex(out, /^log:/m);
  t.deepEqual(Object.keys(parse(out) as object), ['milter', 'dns', 'keys', 'dane']);
  t.regex(out, /^milter:\n  listen: \[unix:\/var\/spool\/postfix\/mailanchor\/milter\.sock\]\n  drain_timeout: 45s\ndns:/m);
});

test('the printed config decodes to the same config (defaults, this file, the example file)', async (t) => {
  const example = await readFile(new URL('../../mailanchor.example.yml', import.meta.url), 'utf8');
  const cases: Array<[string, string]> = [['defaults', ''], ['file', FILE.replace(/, tsig: "[^"]+"/, '')], ['example', example]];
  for (const [name, text] of cases) {
    const { config, raw } = parseConfigFile(text, name);
    for (const nonDefault of [false, true]) {
      const printed = printConfig(configSchema, config, raw, ['header'], { nonDefault });
      const again = decodeConfig(parse(printed));
      t.deepEqual(again.issues, [], `${name}: ${printed}`);
      t.deepEqual(again.config, config, `${name}${nonDefault ? ' --non-default' : ''}`);
    }
  }
});

test('check-config --print writes to stdout and exits 0 for a valid file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mailanchor-print-'));
  try {
    const file = join(dir, 'mailanchor.yml');
    await writeFile(file, `store:\n  path: ${join(dir, 'mailanchor.db')}\n`);
    const io = captureIo();
    t.is(await run(['--config', file, '--print'], io), 0, io.err());
    t.regex(io.out(), new RegExp(`^# mailanchor check-config --print: the effective configuration of ${file}\n`));
    t.regex(io.out(), /^milter:  # default$/m);
    t.regex(io.out(), new RegExp(`^store:\n(?:  # .*\n)*  path: ${join(dir, 'mailanchor.db')}$`, 'm'));
    const quiet = captureIo();
    t.is(await run(['--config', file], quiet), 0);
    t.is(quiet.out(), '');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
