/**
 * External destination verification (RFC 9990 §6, the seed's `baaten.com._report._dmarc.traxotic.net`)
 * against a real Knot DNS on loopback through the shared resolver, with delivery to smtp-sink:
 * authorised → sent; not authorised → skipped with the reason; DNS down → deferred.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createResolver } from '../../src/dns/resolver.ts';
import { reportsSection } from '../../src/reports/config.ts';
import { verifyDestination, parseRua, type Destination } from '../../src/reports/destinations.ts';
import { runSendJob } from '../../src/reports/send-job.ts';
import { smtpTransport } from '../../src/reports/smtp-client.ts';
import { openTestStore, writeEvaluations } from '../support/store.ts';
import { knotMissing, startKnot, type KnotServer } from '../support/knot.ts';
import { freePort } from '../support/ports.ts';
import { DAY, evaluation, policy, T0 } from './evaluations.ts';
import { smtpSinkMissing, startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';

const missing = knotMissing() ?? smtpSinkMissing();
const it = missing ? test.serial.skip : test.serial;
if (missing) test.skip(`external destination verification: ${missing}`, () => {});

let knot: KnotServer | undefined;
let sink: SmtpSink | undefined;
let dir = '';
test.before(async () => {
  if (missing) return;
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-ext-'));
  [knot, sink] = await Promise.all([
    startKnot({
      zones: [
        { name: 'traxotic.test', records: 'baaten.test._report._dmarc 300 IN TXT "v=DMARC1"\nunrelated.test._report._dmarc 300 IN TXT "v=spf1 -all"' },
        { name: 'wild.test', records: '*._report._dmarc 300 IN TXT "v=DMARC1;"' },
        { name: 'redirect.test', records: 'baaten.test._report._dmarc 300 IN TXT "v=DMARC1; rua=mailto:other@redirect.test"\nevil.test._report._dmarc 300 IN TXT "v=DMARC1; rua=mailto:victim@elsewhere.test"' },
        { name: 'nobody.test' },
      ],
    }),
    startSmtpSink(),
  ]);
});
test.after.always(async () => {
  await Promise.all([knot?.stop(), sink?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

const dest = (uri: string) => parseRua(uri) as Destination;

it('verification answers: authorised, wildcard, refused, override on the same host, override elsewhere', async (t) => {
  const dns = createResolver({ servers: [knot!.server] });
  t.like(await verifyDestination(dns, 'baaten.test', dest('mailto:dmarc@traxotic.test')), { kind: 'authorized', name: 'baaten.test._report._dmarc.traxotic.test' });
  t.like(await verifyDestination(dns, 'anything.test', dest('mailto:r@wild.test')), { kind: 'authorized' });
  const refused = await verifyDestination(dns, 'baaten.test', dest('mailto:dmarc@nobody.test'));
  t.like(refused, { kind: 'refused' });
  t.regex((refused as { reason: string }).reason, /baaten\.test\._report\._dmarc\.nobody\.test does not exist/);
  const wrongTxt = await verifyDestination(dns, 'unrelated.test', dest('mailto:dmarc@traxotic.test'));
  t.regex((wrongTxt as { reason: string }).reason, /no TXT "v=DMARC1"/);
  t.deepEqual(await verifyDestination(dns, 'baaten.test', dest('mailto:dmarc@redirect.test')), {
    kind: 'authorized',
    name: 'baaten.test._report._dmarc.redirect.test',
    override: ['mailto:other@redirect.test'],
  });
  t.like(await verifyDestination(dns, 'evil.test', dest('mailto:dmarc@redirect.test')), { kind: 'refused' });
  t.like(await verifyDestination(dns, 'baaten.test', dest('mailto:dmarc@mail.baaten.test')), { kind: 'internal' });
});

it('the job: authorised destinations are sent, the unauthorised one is skipped with its reason', async (t) => {
  const db = await openTestStore(join(dir, 'store.db'));
  const rua = ['mailto:dmarc@traxotic.test', 'mailto:dmarc@nobody.test', 'mailto:postmaster@baaten.test', 'mailto:dmarc@redirect.test'];
  await writeEvaluations(db, [evaluation({ domain: 'baaten.test', policy: policy('baaten.test', { rua, p: 'quarantine' }) })]);
  const config = reportsSection({ settle: '0s', org_name: 'Anchor', email: 'dmarc-reports@anchor.test', submitter: 'anchor.test' }, 'reports', []);
  const transport = smtpTransport({ host: '127.0.0.1', port: sink!.port, helo: 'anchor.test', timeoutMs: 5000 });
  const events = await runSendJob({ evaluations: db.evaluations, ledger: db.ledger, config, dns: createResolver({ servers: [knot!.server] }), transport, now: () => T0 + DAY });
  t.log(events.map((e) => JSON.stringify(e)).join('\n'));
  const state = Object.fromEntries((await db.ledger.listDeliveries()).map((d) => [d.address, d]));
  t.is(state['dmarc@traxotic.test']!.state, 'sent');
  t.regex(state['dmarc@traxotic.test']!.reason!, /authorised by baaten\.test\._report\._dmarc\.traxotic\.test/);
  t.is(state['postmaster@baaten.test']!.state, 'sent');
  t.is(state['dmarc@nobody.test']!.state, 'skipped');
  t.regex(state['dmarc@nobody.test']!.reason!, /not authorised: baaten\.test\._report\._dmarc\.nobody\.test does not exist/);
  t.is(state['dmarc@redirect.test']!.state, 'sent');
  const rcpts = (await sink!.messages()).map((m) => m.rcpt).sort();
  t.deepEqual(rcpts, ['dmarc@traxotic.test', 'other@redirect.test', 'postmaster@baaten.test']);
  await db.close();
});

it('DNS down: the external destination is deferred, not skipped, and nothing is sent to it', async (t) => {
  const db = await openTestStore(join(dir, 'store-down.db'));
  await writeEvaluations(db, [evaluation({ domain: 'baaten.test', policy: policy('baaten.test', { rua: ['mailto:dmarc@traxotic.test'] }) })]);
  const config = reportsSection({ settle: '0s', org_name: 'Anchor', email: 'dmarc-reports@anchor.test', submitter: 'anchor.test' }, 'reports', []);
  const dead = createResolver({ servers: [{ host: '127.0.0.1', port: await freePort() }], timeoutMs: 300, attempts: 1 });
  const transport = smtpTransport({ host: '127.0.0.1', port: sink!.port, helo: 'anchor.test', timeoutMs: 5000 });
  const before = (await sink!.messages()).length;
  const events = await runSendJob({ evaluations: db.evaluations, ledger: db.ledger, config, dns: dead, transport, now: () => T0 + DAY });
  t.deepEqual(events.map((e) => e.kind), ['generated', 'deferred']);
  t.regex((events[1] as { reason: string }).reason, /cannot verify external destination now: DNS/);
  t.is((await db.ledger.listDeliveries())[0]!.state, 'pending');
  t.is((await sink!.messages()).length, before);
  // DNS back: the next run verifies and sends.
  const again = await runSendJob({ evaluations: db.evaluations, ledger: db.ledger, config, dns: createResolver({ servers: [knot!.server] }), transport, now: () => T0 + DAY + 3_600_000 });
  t.deepEqual(again.map((e) => e.kind), ['sent']);
  await db.close();
});
