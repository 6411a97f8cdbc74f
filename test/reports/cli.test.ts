/** `mailanchor report send|show|suppress` in-process against a config file, a store and smtp-sink. */
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/cli/report.ts';
import { openTestStore, writeEvaluations } from '../support/store.ts';
import { DAY, evaluation, spoofed } from './evaluations.ts';
import { smtpSinkMissing, startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';
import { captureIo } from '../support/cli-io.ts';

const missing = smtpSinkMissing();
const it = missing ? test.serial.skip : test.serial;
if (missing) test.skip(`report CLI: ${missing}`, () => {});

let dir = '';
let sink: SmtpSink | undefined;
let cfg = '';
test.before(async () => {
  if (missing) return;
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-cli-'));
  sink = await startSmtpSink();
  cfg = join(dir, 'mailanchor.yml');
  await writeFile(
    cfg,
    `store:\n  path: ${join(dir, 'state', 'mailanchor.db')}\ndns:\n  servers: [127.0.0.1]\nreports:\n  settle: 0s\n  org_name: Anchor CLI\n  email: dmarc-reports@anchor.test\n  submitter: anchor.test\n  transport: smtp\n  smtp:\n    host: 127.0.0.1:${sink.port}\n    helo: anchor.test\n    timeout: 5s\n`,
  );
  const db = await openTestStore(join(dir, 'state', 'mailanchor.db'));
  const yesterday = Math.floor(Date.now() / DAY) * DAY - DAY + 3_600_000;
  await writeEvaluations(db, [evaluation({ receivedAt: yesterday }), spoofed({ receivedAt: yesterday + 1000 })]);
  await db.close();
});
test.after.always(async () => {
  await sink?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function cli(...argv: string[]) {
  const io = captureIo(dir);
  const code = await run(argv, io);
  return { code, stdout: io.out(), stderr: io.err() };
}

it('send --dry-run says what would go where and sends nothing; send sends once; show lists it', async (t) => {
  const dry = await cli('send', '--dry-run', '--config', cfg);
  t.is(dry.code, 0, dry.stderr);
  t.regex(dry.stdout, /\[dry run\] report \S+ for example\.test .*: 2 message\(s\), 2 record\(s\) → dmarc@example\.test/);
  t.regex(dry.stdout, /\[dry run\] would send \S+ to dmarc@example\.test: \d+ bytes via smtp 127\.0\.0\.1:\d+ \(same domain\)/);
  t.is((await sink!.messages()).length, 0);

  const sent = await cli('send', '--config', cfg);
  t.is(sent.code, 0, sent.stderr);
  t.regex(sent.stdout, /^sent \S+ to dmarc@example\.test: 250 /m);
  const again = await cli('send', '--config', cfg);
  t.is(again.stdout, 'nothing to report\n');
  t.is((await sink!.messages()).length, 1);

  const show = await cli('show', '--config', cfg);
  t.regex(show.stdout, /^evaluations: 2/m);
  t.regex(show.stdout, /^reports: 1$/m);
  t.regex(show.stdout, /^ {4}sent {4}dmarc@example\.test {2}attempts 1 {2}sent /m);
  t.regex(show.stdout, /anchor\.test!example\.test!\d+!\d+!\w+\.xml\.gz/);
});

it('suppress / unsuppress; bad arguments and a bad config give clear messages', async (t) => {
  t.is((await cli('suppress', 'bad.example', '--config', cfg)).code, 0);
  t.regex((await cli('show', '--config', cfg)).stdout, /^ {2}bad\.example {2}added by hand$/m);
  t.is((await cli('unsuppress', 'bad.example', '--config', cfg)).code, 0);
  t.regex((await cli('show', '--config', cfg)).stdout, /^suppressed: 0$/m);
  t.is((await cli('frobnicate', '--config', cfg)).code, 64);
  const badCfg = join(dir, 'bad.yml');
  await writeFile(badCfg, 'reports:\n  transport: pigeon\n');
  const bad = await cli('send', '--config', badCfg);
  t.is(bad.code, 78);
  t.regex(bad.stderr, /reports\.transport: expected one of sendmail, smtp/);
});
