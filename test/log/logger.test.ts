/** One log format for every command: text lines for terminals and the journal, JSON for shippers. */
import test from 'ava';
import { closeSync, createWriteStream, fstatSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createLogger, formatJsonLine, formatTextLine, isJournalStream } from '../../src/log/logger.ts';
import { run as keys } from '../../src/cli/keys.ts';
import { run as tlsa } from '../../src/cli/tlsa.ts';
import { captureIo } from '../support/cli-io.ts';

const TEXT = { format: 'text', level: 'info', destination: 'stderr' } as const;

function collect(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString()));
  return { stream, text: () => text };
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

test('text: message first, then key=value; values that need it are quoted; nothing breaks the line', (t) => {
  t.is(formatTextLine({ level: 'info', message: 'message accepted', sid: 7, queue_id: '4F2E1', verdict: 'pass' }), 'info: message accepted sid=7 queue_id=4F2E1 verdict=pass');
  t.is(formatTextLine({ level: 'warn', message: 'two\nlines', note: 'has space', eq: 'a=b', list: ['a', 'b'], obj: { x: 1 } }), 'warn: two\\nlines note="has space" eq="a=b" list=a,b obj="{\\"x\\":1}"');
  t.is(formatTextLine({ level: 'error', message: 'x', text: 'rr1\nrr2' }), 'error: x text="rr1\\nrr2"');
  t.is(formatTextLine({ level: 'error', message: 'x', empty: '' }), 'error: x empty=""');
  t.is(formatTextLine({ level: 'warn', message: 'to the journal', domain: 'example.org' }, { syslogPrefix: true }), '<4>to the journal domain=example.org');
  t.is(formatTextLine({ level: 'debug', message: 'd' }, { syslogPrefix: true }), '<7>d');
});

test('json: time, level, message and the same fields', (t) => {
  const line = formatJsonLine({ level: 'info', message: 'm', domain: 'example.org' }, new Date(Date.UTC(2026, 0, 2, 3, 4, 5)));
  t.deepEqual(JSON.parse(line), { time: '2026-01-02T03:04:05.000Z', level: 'info', message: 'm', domain: 'example.org' });
});

test('the journal is recognised by $JOURNAL_STREAM naming the stream\'s device and inode, nothing else', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mailanchor-journal-'));
  try {
    const file = join(dir, 'journal');
    await writeFile(file, '');
    const fd = openSync(file, 'a');
    const st = fstatSync(fd, { bigint: true });
    const stream = createWriteStream('', { fd, autoClose: false });
    t.true(isJournalStream(stream, { JOURNAL_STREAM: `${st.dev}:${st.ino}` }));
    t.false(isJournalStream(stream, { JOURNAL_STREAM: `${st.dev}:${st.ino + 1n}` }));
    t.false(isJournalStream(stream, {}));
    t.false(isJournalStream(new PassThrough(), { JOURNAL_STREAM: `${st.dev}:${st.ino}` }));
    const logger = createLogger(TEXT, { stream, env: { JOURNAL_STREAM: `${st.dev}:${st.ino}` } });
    logger.warn('key rotation waits', { domain: 'example.org', note: 'ns2 does not serve it yet' });
    await new Promise<void>((r) => logger.on('finish', () => r()).end());
    await new Promise<void>((r) => stream.end(() => r()));
    closeSync(fd);
    t.is(readFileSync(file, 'utf8'), '<4>key rotation waits domain=example.org note="ns2 does not serve it yet"\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('log.level and log.format from the config apply', async (t) => {
  const c = collect();
  const logger = createLogger({ format: 'json', level: 'warn', destination: 'stderr' }, c.stream);
  logger.info('hidden');
  logger.warn('shown', { domain: 'example.org' });
  await flush();
  const lines = c.text().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.is(lines.length, 1);
  t.like(lines[0], { level: 'warn', message: 'shown', domain: 'example.org' });
});

// The commands that used to write their own formats: keys (`info: … {json}`) and the TLSA
// sidecar (JSON whatever log.format said). Both now write the configured text format.
test('keys and tlsa sidecar log in the configured format, not their own', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mailanchor-logcmd-'));
  try {
    const config = join(dir, 'mailanchor.yml');
    await writeFile(
      config,
      [
        `store:\n  path: ${join(dir, 'm.db')}`,
        'dns:\n  servers: ["127.0.0.1:1"]\n  timeout: 100ms\n  attempts: 1',
        `dane:\n  state_dir: ${join(dir, 'dane')}\n  sites:\n    - host: mx.example.org\n      cert_files: [${join(dir, 'missing.pem')}]\n      authoritative: ["127.0.0.1:1"]`,
        'keys:\n  domains:\n    example.org:\n      nameservers: ["127.0.0.1:1"]',
        '',
      ].join('\n'),
    );
    const k = captureIo();
    await keys(['rotate', '--config', config], k);
    const s = captureIo();
    await tlsa(['sidecar', '--once', '--config', config], s);
    for (const [name, err] of [['keys', k.err()], ['tlsa', s.err()]] as const) {
      const lines = err.trim().split('\n').filter(Boolean);
      t.true(lines.length > 0, `${name} logged something`);
      for (const line of lines) {
        t.regex(line, /^(error|warn|info|debug): [^{]+?( [a-z_]+=\S.*)?$/, `${name}: ${line}`);
        t.notRegex(line, /^\{|\{"/, `${name}: no JSON in text mode: ${line}`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an error spread into the fields (describeError) is the error field, not glued to the message', async (t) => {
  const c = collect();
  const logger = createLogger(TEXT, c.stream);
  logger.error('keystore unreadable; keeping last snapshot', { store: '/var/lib/mailanchor/mailanchor.db', message: 'SQLITE_BUSY: database is locked', code: 'ERR_SQLITE_ERROR' });
  logger.info('no error here', { domain: 'example.org' });
  await flush();
  t.is(c.text(), 'error: keystore unreadable; keeping last snapshot store=/var/lib/mailanchor/mailanchor.db code=ERR_SQLITE_ERROR error="SQLITE_BUSY: database is locked"\ninfo: no error here domain=example.org\n');
});

test('a level below the logger\'s writes nothing, from the logger or its children; a later level change is followed', async (t) => {
  const out = collect();
  const logger = createLogger({ ...TEXT, level: 'warn' }, out.stream);
  const child = logger.child({ sid: 's1' });
  logger.info('root info');
  child.info('child info', { queue_id: 'Q1' });
  child.debug('child debug');
  child.warn('child warn', { queue_id: 'Q2' });
  await flush();
  t.is(out.text(), 'warn: child warn sid=s1 queue_id=Q2\n');
  logger.level = 'info';
  child.info('now info', { queue_id: 'Q3' });
  await flush();
  t.is(out.text(), 'warn: child warn sid=s1 queue_id=Q2\ninfo: now info sid=s1 queue_id=Q3\n');
  t.false(child.isDebugEnabled());
});
