import test from 'ava';
import { ConfigError, decodeConfig, parseConfigText } from '../../src/config/load.ts';
import { parseDuration, parseHostPort, parseListenSpec } from '../../src/config/schema.ts';

test('an empty file is the built-in default config', (t) => {
  const { issues } = decodeConfig({});
  t.deepEqual(issues, []);
});

test('unknown keys are reported with their line', (t) => {
  const err = t.throws(() => parseConfigText('log: {}\nbogus: 1\n', 'x.yml'), { instanceOf: ConfigError });
  t.is(err.issues[0]?.path, 'bogus');
  t.is(err.issues[0]?.line, 2);
});

test('YAML syntax errors carry a line', (t) => {
  const err = t.throws(() => parseConfigText('a: [1,\n', 'x.yml'), { instanceOf: ConfigError });
  t.is(err.code, 'SYNTAX');
  t.true(typeof err.issues[0]?.line === 'number');
});

test('durations, host:port and listen specs parse as Postfix writes them', (t) => {
  t.is(parseDuration('7d'), 7 * 86_400_000);
  t.is(parseDuration('6mo'), 180 * 86_400_000);
  t.is(parseDuration('90'), 90_000);
  t.is(parseDuration('soon'), undefined);
  t.deepEqual(parseHostPort('[::1]:5353', 53), { host: '::1', port: 5353 });
  t.deepEqual(parseHostPort('::1', 53), { host: '::1', port: 53 });
  t.deepEqual(parseHostPort('127.0.0.1', 53), { host: '127.0.0.1', port: 53 });
  t.is(parseHostPort('127.0.0.1:99999', 53), undefined);
  t.deepEqual(parseListenSpec('inet:127.0.0.1:8891'), { kind: 'tcp', host: '127.0.0.1', port: 8891 });
  t.deepEqual(parseListenSpec('inet6:[::1]:8891'), { kind: 'tcp', host: '::1', port: 8891 });
  t.deepEqual(parseListenSpec('unix:/run/mailanchor/milter.sock'), { kind: 'unix', path: '/run/mailanchor/milter.sock' });
  t.is(parseListenSpec('unix:relative'), undefined);
});
