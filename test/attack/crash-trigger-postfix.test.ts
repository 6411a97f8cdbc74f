/**
 * Issue 16's critical finding, replayed through a private real Postfix: any internet sender
 * could kill the milter process. Sender domain `v=spf1 ptr include:dead.<dom> -all`, the
 * client address's PTR answering after 1.5 s, `dead.<dom>` answering REFUSED, the client
 * dropping the connection 0.5 s into DATA: the SPF check started at MAIL FROM went on after
 * ABORT with an aborted signal, and the shared DNS query was left without a handler — Node
 * exited on the unhandled rejection (5 of 5 tries). Here: 20 repetitions, the milter stays
 * up, logs no uncaught error, and a good message is verified and delivered afterwards.
 *
 * Also the SPF time budget: a record with `mx` terms on slow DNS took 300 s and 473 queries;
 * with the per-message budget the end of message answers within it (temperror → 451), and
 * the message's summary line names the limit.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHostileDns, type HostileDns } from '../../attack/hostile-dns.ts';
import { smtpDrop } from '../../attack/smtp-drop.ts';
import { startMilterProcess, type MilterProcess } from '../support/milter-process.ts';
import { postfixMissing, startMilterPostfix, type Postfix } from '../support/postfix.ts';
import { smtpSinkMissing, startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';

const missing = postfixMissing() ?? smtpSinkMissing();
const it = missing ? test.serial.skip : test.serial;
if (missing) test.skip(`crash trigger through Postfix: ${missing}`, () => {});

const GOOD_IP = '192.0.2.10';
let dir = '';
let dns: HostileDns | undefined;
let sink: SmtpSink | undefined;
let pf: Postfix | undefined;
let milter: MilterProcess | undefined;

/** 20 client addresses, each with its own slow PTR, so every try really waits on DNS. */
const attackers = Array.from({ length: 20 }, (_, i) => `198.51.100.${i + 10}`);
const ptrName = (ip: string): string => `${ip.split('.').reverse().join('.')}.in-addr.arpa`;

test.before(async () => {
  if (missing) return;
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-crash-'));
  dns = await startHostileDns({
    zone: {
      'crash.test': { TXT: ['v=spf1 ptr include:dead.crash.test -all'] },
      '_dmarc.crash.test': { TXT: ['v=DMARC1; p=reject'] },
      'dead.crash.test': { TXT: ['v=spf1 -all'] },
      ...Object.fromEntries(attackers.map((ip) => [ptrName(ip), { PTR: [`host.crash.test`] }])),
      'good.test': { TXT: [`v=spf1 ip4:${GOOD_IP} -all`] },
      '_dmarc.good.test': { TXT: ['v=DMARC1; p=reject'] },
      [ptrName(GOOD_IP)]: { PTR: ['mail.good.test'] },
      'mail.good.test': { A: [GOOD_IP] },
      // Ten mx terms whose hosts answer only after 1.5 s each: minutes of DNS without a budget.
      'slow.test': { TXT: [`v=spf1 ${Array.from({ length: 9 }, (_, i) => `mx:m${i}.slow.test`).join(' ')} -all`] },
      '_dmarc.slow.test': { TXT: ['v=DMARC1; p=reject'] },
      ...Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`m${i}.slow.test`, { MX: Array.from({ length: 10 }, (_, j) => ({ exchange: `h${j}.m${i}.slow.test`, priority: j })) }])),
    },
    rules: [
      { name: /\.100\.51\.198\.in-addr\.arpa$/, type: 'PTR', delayMs: 1500 },
      { name: 'dead.crash.test', type: 'TXT', fault: { kind: 'rcode', rcode: 'REFUSED' } },
      { name: /^h\d\.m\d\.slow\.test$/, delayMs: 1500 },
    ],
  });
  const config = join(dir, 'mailanchor.yml');
  await writeFile(
    config,
    [
      'store:',
      `  path: ${join(dir, 'state.db')}`,
      'dns:',
      '  timeout: 2s',
      '  attempts: 1',
      'inbound:',
      '  authserv_id: mx.anchor.test',
      '  dns_budget_time: 3s',
      'outbound:',
      '  trusted_networks: []',
      'log:',
      '  format: json',
      '',
    ].join('\n'),
  );
  milter = await startMilterProcess(['--config', config, '--dns', `${dns.server.host}:${dns.server.port}`]);
  sink = await startSmtpSink();
  pf = await startMilterPostfix({ milterPort: milter.port, relayPort: sink.port, relayDomains: ['anchor.test'], mynetworks: '127.0.0.1/32' });
});

test.after.always(async () => {
  await milter?.stop();
  await pf?.stop();
  await sink?.stop();
  await dns?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const message = (from: string, subject: string): string => `From: <${from}>\r\nTo: <bob@anchor.test>\r\nSubject: ${subject}\r\nMessage-ID: <${Math.random()}@x>\r\n\r\n${'Some text.\r\n'.repeat(200)}`;

it('the crash trigger 20 times (slow PTR, REFUSED include, client gone 0.5 s into DATA): the milter survives, then verifies a good message', async (t) => {
  const asked = dns!.queries.length;
  // Waves of five, each try with its own client address and slow PTR.
  for (let wave = 0; wave < 4; wave++) {
    const tries = attackers.slice(wave * 5, wave * 5 + 5).map((ip) =>
      smtpDrop({ port: pf!.smtpPort, client: { addr: ip }, from: 'x@crash.test', to: 'bob@anchor.test', message: message('x@crash.test', 'crash'), dropAfterDataMs: 500 }),
    );
    const results = await Promise.all(tries);
    t.true(results.every((r) => r.dropped));
    // Past the PTR answers (1.5 s) and the REFUSED the old code died on.
    await new Promise((r) => setTimeout(r, 1700));
    t.is(milter!.child.exitCode, null, `milter alive after wave ${wave + 1}`);
  }
  t.true(dns!.queries.slice(asked).filter((q) => q.type === 'PTR').length >= 20, 'the slow PTRs were asked');
  const out = milter!.output();
  t.notRegex(out, /error no code caught/, 'no unhandled rejection reached the process');

  const good = await smtpDrop({ port: pf!.smtpPort, client: { addr: GOOD_IP, name: 'mail.good.test' }, from: 'alice@good.test', to: 'bob@anchor.test', message: message('alice@good.test', 'good after the storm') });
  t.regex(good.final ?? '', /^250/, good.replies.join('\n'));
  await pf!.waitDelivered('bob@anchor.test');
  const delivered = (await sink!.messages()).map((m) => m.raw.toString('latin1')).find((m) => m.includes('good after the storm'));
  t.truthy(delivered);
  t.regex(delivered!, /Authentication-Results: mx\.anchor\.test;[\s\S]*spf=pass[\s\S]*dmarc=pass/);
  t.is(milter!.child.exitCode, null);
});

it('SPF with mx terms on slow DNS: end of message within the DNS budget (3 s here), spf=temperror → 451, and the summary line says which limit', async (t) => {
  const asked = dns!.queries.length;
  const started = Date.now();
  const r = await smtpDrop({ port: pf!.smtpPort, client: { addr: '203.0.113.44' }, from: 'a@slow.test', to: 'bob@anchor.test', message: message('a@slow.test', 'slow') });
  const ms = Date.now() - started;
  t.log(`answered in ${ms} ms after ${dns!.queries.length - asked} queries to the sender's DNS`);
  t.regex(r.final ?? '', /^451 4\.7\.1 /, r.replies.join('\n'));
  // One budget of 3 s for the message (plus the lookup it cut) — far from 300 s.
  t.true(ms < 12_000, `took ${ms} ms`);
  t.true(dns!.queries.length - asked <= 200, 'within the query cap');
  // The message's summary line names the limit that was hit.
  const summary = (): string | undefined => milter!.output().split('\n').find((l) => l.includes('"message":"message"') && l.includes('"from_domain":"slow.test"'));
  for (let i = 0; i < 50 && !summary(); i++) await new Promise((res) => setTimeout(res, 100));
  t.regex(summary() ?? '', /"dns_budget":"time"/, summary());
  t.regex(summary() ?? '', /"spf":"temperror"/);
});
