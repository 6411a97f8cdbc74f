/**
 * Inbound through real Postfix: swaks (XCLIENT sets the client address the milter sees) →
 * private Postfix with smtpd_milters → `mailanchor milter --dns <Knot>` → smtp-sink.
 * p=reject failure → swaks sees 550; quarantine → Postfix's hold queue; pass → delivered
 * with our Authentication-Results and the forged one gone; Knot stopped → 451, milter alive.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { knotMissing, startKnot, type KnotServer } from '../support/knot.ts';
import { startMilterProcess, type MilterProcess } from '../support/milter-process.ts';
import { postfixMissing, startMilterPostfix, swaks, type Postfix } from '../support/postfix.ts';
import { smtpSinkMissing, startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';

const missing = postfixMissing() ?? smtpSinkMissing() ?? knotMissing() ?? (existsSync('/usr/bin/swaks') ? undefined : 'swaks not installed');
const it = missing ? test.serial.skip : test.serial;
if (missing) test.skip(`inbound through Postfix: ${missing}`, () => {});

const GOOD = '192.0.2.10';
let dir = '';
let knot: KnotServer | undefined;
let sink: SmtpSink | undefined;
let pf: Postfix | undefined;
let milter: MilterProcess | undefined;

test.before(async () => {
  if (missing) return;
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-inbound-pf-'));
  knot = await startKnot({
    zones: [
      { name: 'test', records: '' },
      { name: 'good.test', records: [`@ IN TXT "v=spf1 ip4:${GOOD} -all"`, '_dmarc IN TXT "v=DMARC1; p=reject"'].join('\n') },
      { name: 'strict.test', records: ['@ IN TXT "v=spf1 -all"', '_dmarc IN TXT "v=DMARC1; p=reject"'].join('\n') },
      // Never asked before the DNS-down test, so nothing about it is in the milter's cache.
      { name: 'cold.test', records: ['@ IN TXT "v=spf1 -all"', '_dmarc IN TXT "v=DMARC1; p=reject"'].join('\n') },
      { name: 'hold.test', records: ['@ IN TXT "v=spf1 -all"', '_dmarc IN TXT "v=DMARC1; p=quarantine"'].join('\n') },
      { name: '2.0.192.in-addr.arpa', records: '10 IN PTR mail.good.test.' },
      { name: '113.0.203.in-addr.arpa', records: '' },
    ],
  });
  await knot.setRecords('good.test', [{ name: 'mail', type: 'A', data: GOOD }]);
  const config = join(dir, 'mailanchor.yml');
  await writeFile(config, `store:\n  path: ${join(dir, 'state', 'mailanchor.db')}\ndns:\n  timeout: 300ms\n  attempts: 1\ninbound:\n  authserv_id: mx.anchor.test\noutbound:\n  trusted_networks: []\n`);
  milter = await startMilterProcess(['--config', config, '--dns', `${knot.server.host}:${knot.server.port}`]);
  const port = milter.port;
  sink = await startSmtpSink();
  pf = await startMilterPostfix({ milterPort: port, relayPort: sink.port, relayDomains: ['anchor.test'], mynetworks: '127.0.0.1/32' });
});

test.after.always(async () => {
  await milter?.stop();
  await pf?.stop();
  await sink?.stop();
  await knot?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function send(from: string, rcpt: string, ip: string, extra: string[] = []) {
  return swaks(pf!.smtpPort, ['--xclient-addr', ip, '--xclient-name', 'mail.good.test', '--helo', 'mail.good.test', '--from', from, '--to', rcpt, '--header', `From: <${from}>`, '--header', `Subject: to ${rcpt}`, '--body', 'hello', ...extra]);
}

it('SPF/DMARC pass: delivered with our Authentication-Results on top, the forged one with our id gone', async (t) => {
  const r = await send('alice@good.test', 'bob@anchor.test', GOOD, ['--add-header', 'Authentication-Results: mx.anchor.test; dmarc=pass header.from=paypal.test']);
  t.is(r.code, 0, r.output);
  await pf!.waitDelivered('bob@anchor.test');
  const m = (await sink!.messages()).find((x) => x.rcpt.includes('bob@anchor.test'))!;
  const text = m.raw.toString('latin1');
  const ars = [...text.matchAll(/^Authentication-Results:(.*(?:\r?\n[ \t].*)*)/gm)].map((x) => x[1]!);
  t.is(ars.length, 1, text);
  t.regex(ars[0]!, /mx\.anchor\.test;[\s\S]*spf=pass[\s\S]*dmarc=pass[\s\S]*iprev=pass/);
  t.notRegex(text, /paypal\.test/);
});

it('p=reject failure: swaks sees 550 5.7.1 naming the domain', async (t) => {
  const r = await send('eve@strict.test', 'carol@anchor.test', '203.0.113.5');
  t.not(r.code, 0);
  t.regex(r.output, /<\*\* +550 5\.7\.1 Message rejected: DMARC policy of strict\.test \(p=reject\) failed/);
});

it('p=quarantine: the message lands in Postfix\'s hold queue', async (t) => {
  const r = await send('mallory@hold.test', 'dave@anchor.test', '203.0.113.5');
  t.is(r.code, 0, r.output);
  const line = await pf!.waitLog(/milter-hold: .*milter triggers HOLD action; from=<mallory@hold\.test>/);
  t.truthy(line);
  const q = await new Promise<string>((resolve) => execFile('/usr/sbin/postqueue', ['-c', pf!.configDir, '-j'], (_e, out) => resolve(out)));
  t.regex(q, /"queue_name": *"hold"/);
  t.regex(q, /dave@anchor\.test/);
});

it('DNS server stopped: 451 4.7.1 at the SMTP client, and the milter keeps serving', async (t) => {
  await knot!.freeze();
  try {
    const r = await send('zed@cold.test', 'erin@anchor.test', '203.0.113.9');
    t.not(r.code, 0);
    t.regex(r.output, /<\*\* +451 4\.7\.1 /);
  } finally {
    await knot!.thaw();
  }
  t.is(milter!.child.exitCode, null, 'milter still running');
  const again = await send('alice@good.test', 'frank@anchor.test', GOOD);
  t.is(again.code, 0, again.output);
});
