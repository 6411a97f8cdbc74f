/**
 * Progress on long work, as a postmaster sees it: the real command in a pseudo-terminal
 * (`script -qefc`, util-linux) shows a progress line on stderr — the audit while DNS does
 * not answer, `keys rotate` while a nameserver does not answer about a waiting key — and
 * the same command in a pipe (cron, systemd, `| less`) writes no progress at all, only its
 * results. `report send` runs in-process with stderr marked a terminal; its transport wrapper
 * names each hand-off to the MTA (a fast sink is done before a throttled redraw would come).
 */
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Progress } from '../../src/cli/progress.ts';
import { run as report, watchedTransport } from '../../src/cli/report.ts';
import { ReportError } from '../../src/reports/errors.ts';
import { captureIo } from '../support/cli-io.ts';
import { smtpSinkMissing, startSmtpSink } from '../support/smtp-sink.ts';
import { openTestStore, writeEvaluations } from '../support/store.ts';
import { DAY, evaluation } from '../reports/evaluations.ts';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const EXAMPLE = new URL('../../mailanchor.example.yml', import.meta.url).pathname;
const scriptMissing = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0 ? undefined : 'script(1) (util-linux) is not installed';
const tty = scriptMissing ? test.skip : test;
if (scriptMissing) test.skip(`progress in a terminal: ${scriptMissing}`, () => {});

/** A UDP port that never answers: every query times out. */
async function blackHole(): Promise<{ port: number; close(): Promise<void> }> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  return { port: s.address().port, close: () => new Promise((r) => s.close(() => r())) };
}

const shellQuote = (a: string): string => `'${a.replace(/'/g, `'\\''`)}'`;

/** The command in a pseudo-terminal: everything the terminal got (stdout and stderr together). */
function inTerminal(args: readonly string[], cwd: string): Promise<{ code: number | null; screen: string }> {
  const cmd = `stty cols 120; ${[process.execPath, MAIN, ...args].map(shellQuote).join(' ')}`;
  const child = spawn('script', ['-qefc', cmd, '/dev/null'], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TERM: 'xterm', COLUMNS: '120' } });
  let screen = '';
  child.stdout.on('data', (d: Buffer) => (screen += d.toString()));
  child.stderr.on('data', (d: Buffer) => (screen += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, screen })));
}

/** The command in pipes, as cron or systemd runs it. */
function inPipes(args: readonly string[], cwd: string): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [MAIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TERM: 'xterm' } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out, err })));
}

const ESCAPES = /\r|\x1b\[/;

tty('audit: a progress line on the terminal, none in a pipe; the report and exit status the same', async (t) => {
  const hole = await blackHole();
  const dir = await mkdtemp(join(tmpdir(), 'mailanchor-progress-'));
  try {
    const args = ['audit', 'example.org', '--config', EXAMPLE, '--dns', `127.0.0.1:${hole.port}`, '--timeout', '3', '--store', join(dir, 'none.db')];
    const [term, pipe] = await Promise.all([inTerminal(args, dir), inPipes(args, dir)]);
    t.is(term.code, 1, term.screen);
    t.is(pipe.code, 1, pipe.err);
    t.regex(term.screen, /\raudit: 0\/1 domains — \d+ s\x1b\[K/, JSON.stringify(term.screen.slice(0, 400)));
    t.regex(term.screen, /\raudit: 0\/1 domains — [1-9]\d* s\x1b\[K/, 'the seconds move while a domain takes long');
    t.regex(term.screen, /\raudit: 1\/1 domains, 1 with fail\/error — \d+ s\x1b\[K/);
    t.regex(term.screen, /\r\x1b\[K[^\r]*example\.org/, 'the line is erased before the report');
    t.false(ESCAPES.test(pipe.err), JSON.stringify(pipe.err));
    t.false(ESCAPES.test(pipe.out));
    t.notRegex(pipe.err, /audit: \d+\/\d+ domains/);
    t.regex(pipe.out, /example\.org/);
  } finally {
    await hole.close();
    await rm(dir, { recursive: true, force: true });
  }
});

tty('keys rotate: the domain and the record the nameservers are asked about, on the terminal only', async (t) => {
  const hole = await blackHole();
  const dir = await mkdtemp(join(tmpdir(), 'mailanchor-progress-keys-'));
  try {
    const cfg = join(dir, 'c.yml');
    await writeFile(cfg, `store:\n  path: ${join(dir, 'keys.db')}\ndns:\n  servers: [127.0.0.1:${hole.port}]\n  timeout: 1s\n  attempts: 1\nkeys:\n  domains:\n    example.test:\n      algorithms: [ed25519-sha256]\n      nameservers: [127.0.0.1:${hole.port}]\n`);
    // A new key, published (manual publisher) and waiting to be seen by every nameserver.
    const gen = await inPipes(['keys', 'generate', '--domain', 'example.test', '--config', cfg], dir);
    t.is(gen.code, 0, gen.out + gen.err);
    const term = await inTerminal(['keys', 'rotate', '--config', cfg], dir);
    t.is(term.code, 0, term.screen);
    t.regex(term.screen, /\rkeys rotate: 1\/1 domains, example\.test: asking its nameservers for [a-z0-9-]+\._domainkey\.example\.test — \d+ s\x1b\[K/, JSON.stringify(term.screen.slice(0, 600)));
    t.regex(term.screen, /example\.test:\r?\n/, 'the report itself');
    const pipe = await inPipes(['keys', 'rotate', '--config', cfg], dir);
    t.is(pipe.code, 0, pipe.err);
    t.false(ESCAPES.test(pipe.out + pipe.err), JSON.stringify(pipe.err));
    t.notRegex(pipe.err, /asking its nameservers/);
    t.regex(pipe.out, /^example\.test:$/m);
  } finally {
    await hole.close();
    await rm(dir, { recursive: true, force: true });
  }
});

const sinkMissing = smtpSinkMissing();
(sinkMissing ? test.skip : test)('report send: a progress line while it works when stderr is a terminal, nothing of it in a pipe; the results on stdout either way', async (t) => {
  const sink = await startSmtpSink();
  const dir = await mkdtemp(join(tmpdir(), 'mailanchor-progress-report-'));
  try {
    const cfg = join(dir, 'c.yml');
    await writeFile(cfg, `store:\n  path: ${join(dir, 'r.db')}\ndns:\n  servers: [127.0.0.1]\nreports:\n  settle: 0s\n  org_name: Anchor\n  email: dmarc-reports@anchor.test\n  submitter: anchor.test\n  transport: smtp\n  smtp:\n    host: 127.0.0.1:${sink.port}\n    helo: anchor.test\n    timeout: 5s\n`);
    const db = await openTestStore(join(dir, 'r.db'));
    const yesterday = Math.floor(Date.now() / DAY) * DAY - DAY + 3_600_000;
    await writeEvaluations(db, [evaluation({ receivedAt: yesterday })]);
    await db.close();
    const term = captureIo(dir, { tty: true });
    t.is(await report(['send', '--config', cfg], term), 0, term.err());
    t.regex(term.err(), /\rreport send: generating the reports of the periods that have ended — \d+ s\x1b\[K/);
    t.regex(term.out(), /^sent \S+ to dmarc@example\.test: 250 /m);
    t.false(ESCAPES.test(term.out()), 'the results carry nothing of the progress line');
    t.true(term.err().endsWith('\r\x1b[K'), 'erased at the end');
    const pipe = captureIo(dir);
    t.is(await report(['send', '--config', cfg], pipe), 0);
    t.is(pipe.err(), '');
    t.regex(pipe.out(), /nothing to report/);
  } finally {
    await sink.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('report send: each hand-off to the MTA is named while it runs, and counted after', async (t) => {
  const seen: string[] = [];
  const progress: Progress = { active: true, set: (x) => void seen.push(x), clear() {}, done() {}, guard: (s) => s };
  let refuse = false;
  const transport = watchedTransport(
    {
      describe: 'test',
      send: async (msg) => {
        if (refuse) throw new ReportError('DELIVERY_TEMPORARY', 'later');
        return `took ${msg.to}`;
      },
    },
    progress,
  );
  const msg = (to: string) => ({ from: 'r@anchor.test', to, data: Buffer.from('x') });
  t.is(await transport.send(msg('a@x.test')), 'took a@x.test');
  refuse = true;
  await t.throwsAsync(transport.send(msg('b@y.test')), { message: 'later' });
  t.deepEqual(seen, ['0 handed to the MTA; now a@x.test', '1 handed to the MTA', '1 handed to the MTA; now b@y.test', '1 handed to the MTA, 1 not']);
});
