/** One naming style: every key of every section is snake_case, and a 0.1 camelCase key gets an error naming its new name. */
import test from 'ava';
import { ConfigError, parseConfigText } from '../../src/config/load.ts';
import { isSnakeCase, snakeCase } from '../../src/config/schema.ts';
import { schemaKeys } from '../support/config-schema.ts';

test('every config key in the schema is snake_case', (t) => {
  const keys = schemaKeys();
  t.true(keys.length > 100, `walked ${keys.length} keys`);
  t.deepEqual(keys.filter((k) => !isSnakeCase(k.key)).map((k) => k.path), []);
});

test('snakeCase turns the 0.1 names into the new ones', (t) => {
  t.is(snakeCase('cacheMaxTtl'), 'cache_max_ttl');
  t.is(snakeCase('certFiles'), 'cert_files');
  t.is(snakeCase('maxZipEntries'), 'max_zip_entries');
  t.is(snakeCase('drain_timeout'), 'drain_timeout');
  t.is(snakeCase('TTLMargin'), 'ttl_margin');
});

test('a camelCase key from a 0.1 file is an error that names the key to use, with its line', (t) => {
  const text = ['dns:', '  cacheMaxTtl: 1h', 'dane:', '  stateDir: /x', '  sites:', '    - host: mx.example.org', '      certFiles: [/a.pem]', 'reports:', '  orgName: Example', '  bounceLimit: 2', '  read: { maxZipEntries: 3 }', ''].join('\n');
  const err = t.throws(() => parseConfigText(text, 'old.yml'), { instanceOf: ConfigError });
  t.deepEqual(
    err.issues.map((i) => [i.line, i.path, i.message]),
    [
      [2, 'dns.cacheMaxTtl', 'renamed: use dns.cache_max_ttl (config keys are snake_case)'],
      [4, 'dane.stateDir', 'renamed: use dane.state_dir (config keys are snake_case)'],
      [7, 'dane.sites[0].certFiles', 'renamed: use dane.sites[0].cert_files (config keys are snake_case)'],
      [9, 'reports.orgName', 'renamed: use reports.org_name (config keys are snake_case)'],
      [10, 'reports.bounceLimit', 'renamed: use reports.bounce_limit (config keys are snake_case)'],
      [11, 'reports.read.maxZipEntries', 'renamed: use reports.read.max_zip_entries (config keys are snake_case)'],
    ],
  );
});

test('an unknown key that is no old name still lists the known ones', (t) => {
  const err = t.throws(() => parseConfigText('dns:\n  cacheMaxTTLs: 1h\n', 'x.yml'), { instanceOf: ConfigError });
  t.regex(err.issues[0]!.message, /^unknown key \(known: servers, timeout, /);
});
