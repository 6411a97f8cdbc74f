/**
 * End to end with real software on both sides: swaks → a private Postfix with smtpd_milters
 * → `mailanchor milter` (the real CLI, a child process) → relayed to smtp-sink. Then the
 * milter is stopped and Postfix applies milter_default_action. Also SIGHUP and SIGTERM.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../support/ports.ts';
import { startMilterProcess, type MilterProcess } from '../support/milter-process.ts';
import { postfixMissing, startPostfix, swaks, type Postfix } from '../support/postfix.ts';
import { smtpSinkMissing, startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';

const missing = postfixMissing() ?? smtpSinkMissing() ?? (existsSync('/usr/bin/swaks') ? undefined : 'swaks not installed');
const it = missing ? test.serial.skip : test.serial;
if (missing) test.skip(`Postfix end to end: ${missing}`, () => {});

let dir = '';
let sink: SmtpSink | undefined;
const postfixes: Postfix[] = [];
const milters: MilterProcess[] = [];

test.before(async () => {
  if (missing) return;
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-e2e-'));
  sink = await startSmtpSink();
});
test.after.always(async () => {
  for (const m of milters) if (m.child.exitCode === null) m.child.kill('SIGKILL');
  await Promise.all(postfixes.map((p) => p.stop()));
  await sink?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function startMilter(configFile: string): Promise<MilterProcess> {
  const m = await startMilterProcess(['--config', configFile, '--filter', 'test-header'], { MAILANCHOR_STATE_DIR: join(dir, 'state') });
  milters.push(m);
  return m;
}

async function waitFor(what: () => boolean, label: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!what()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function send(pf: Postfix, rcpt: string, extra: string[] = []) {
  return swaks(pf.smtpPort, ['--from', 'alice@anchor.test', '--to', rcpt, '--header', `Subject: e2e ${rcpt}`, '--body', 'Hello through Postfix.', ...extra]);
}

it('Postfix → milter adds the test header; the summary log line has Postfix\'s queue id; stopped milter → milter_default_action', async (t) => {
  const config = join(dir, 'mailanchor.yml');
  await writeFile(config, 'log:\n  format: text\n  level: info\n');
  const milter = await startMilter(config);
  const pf = await startPostfix({
    relayPort: sink!.port,
    smtpd: true,
    main: { smtpd_milters: `inet:127.0.0.1:${milter.port}`, milter_protocol: '6', milter_default_action: 'tempfail' },
  });
  postfixes.push(pf);

  const r = await send(pf, 'bob@example.net');
  t.is(r.code, 0, r.output);
  const line = await pf.waitDelivered('bob@example.net');
  const queueId = /: ([0-9A-F]{6,}): to=</.exec(line)?.[1];
  t.truthy(queueId, line);
  await waitFor(() => sink!.messages !== undefined, 'sink');
  const msgs = await sink!.messages();
  const delivered = msgs.find((m) => m.rcpt.includes('bob@example.net'));
  t.truthy(delivered, 'message reached smtp-sink');
  t.regex(delivered!.raw.toString('latin1'), /^X-Mailanchor-Test: \S+/m, 'header added by the milter, one space after the colon');
  await waitFor(() => milter.output().includes(`queue_id=${queueId}`), 'milter summary line');
  t.regex(milter.output(), new RegExp(`info: message sid=\\S+ queue_id=${queueId} verdict=accept`));

  // SIGHUP with a broken config: refused, still serving. Then a good one: reloaded.
  await writeFile(config, 'log:\n  format: [nonsense\n');
  milter.child.kill('SIGHUP');
  await waitFor(() => /reload refused/.test(milter.output()), 'reload refused');
  await writeFile(config, 'log:\n  format: text\n');
  milter.child.kill('SIGHUP');
  await waitFor(() => /config reloaded/.test(milter.output()), 'config reloaded');
  t.is((await send(pf, 'carol@example.net')).code, 0);
  await pf.waitDelivered('carol@example.net');

  // SIGTERM: drains and exits 0; Postfix then applies milter_default_action = tempfail.
  milter.child.kill('SIGTERM');
  t.is(await milter.exited, 0, milter.output());
  const refused = await send(pf, 'dave@example.net');
  t.not(refused.code, 0);
  t.regex(refused.output, /<\*\* +451 4\.7\.1 Service unavailable - try again later/);
});

it('milter_default_action = accept: with the milter down, mail is delivered without the header', async (t) => {
  const deadPort = await freePort();
  const pf = await startPostfix({
    relayPort: sink!.port,
    smtpd: true,
    main: { smtpd_milters: `inet:127.0.0.1:${deadPort}`, milter_default_action: 'accept' },
  });
  postfixes.push(pf);
  const r = await send(pf, 'erin@example.net');
  t.is(r.code, 0, r.output);
  await pf.waitDelivered('erin@example.net');
  const m = (await sink!.messages()).find((x) => x.rcpt.includes('erin@example.net'));
  t.truthy(m);
  t.notRegex(m!.raw.toString('latin1'), /X-Mailanchor-Test/);
});
