/**
 * The DNS fault matrix (issue 16): each of SERVFAIL, REFUSED, timeout, truncation with the
 * TCP retry failing, a garbage reply, a reply with a wrong id and one for a wrong question,
 * on the SPF, the DKIM key and the DMARC lookup — through the real `mailanchor milter`
 * process, driven over the wire, with the hostile DNS server on loopback. Every time the
 * result is temperror and the reply follows `inbound.on_temperror` (451 4.7.1, or delivered
 * with temperror in Authentication-Results): never a pass, never a fail, never a 5xx.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHostileDns, type Fault, type HostileDns, type Rule, type Zone } from '../../attack/hostile-dns.ts';
import { MilterClient, sendMessage, type ClientModification, type ClientReply } from '../../src/milter/mta-client.ts';
import { dkimsign, makeKey, type TestKey } from '../inbound/dkim-keys.ts';
import { startMilterProcess, type MilterProcess } from '../support/milter-process.ts';
import { splitMessage } from '../support/raw-message.ts';

const missing = existsSync('/usr/bin/dkimsign') ? undefined : 'python3-dkim (dkimsign) not installed';
const it = missing ? test.serial.skip : test.serial;
if (missing) test.skip(`DNS fault matrix: ${missing}`, () => {});

const ID = 'mx.anchor.test';
const IP = '192.0.2.10';
const FAULTS: ReadonlyArray<readonly [string, Fault]> = [
  ['servfail', { kind: 'rcode', rcode: 'SERVFAIL' }],
  ['refused', { kind: 'rcode', rcode: 'REFUSED' }],
  ['timeout', { kind: 'drop' }],
  ['truncated-tcp-fails', { kind: 'truncate', tcp: 'close' }],
  ['garbage', { kind: 'garbage' }],
  ['wrong-id', { kind: 'wrong-id' }],
  ['wrong-question', { kind: 'wrong-question' }],
];
const CHECKS = ['spf', 'dkim', 'dmarc'] as const;
type Check = (typeof CHECKS)[number];

let dir = '';
let key: TestKey;
let dns: HostileDns;
const milters: Partial<Record<'tempfail' | 'accept', MilterProcess>> = {};

const domainOf = (check: Check, fault: string): string => `${check}-${fault}.test`;

test.before(async () => {
  if (missing) return;
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-dnsfaults-'));
  key = makeKey(dir, 'sel', 'rsa-sha256');
  const zone: Zone = {};
  const rules: Rule[] = [];
  const keyTxt = [...key.zoneTxt.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
  for (const check of CHECKS) {
    for (const [name, fault] of FAULTS) {
      const d = domainOf(check, name);
      // Healthy, every check would pass: SPF allows IP, the key is published, p=reject.
      zone[d] = { TXT: [`v=spf1 ip4:${IP} -all`] };
      zone[`sel._domainkey.${d}`] = { TXT: [keyTxt] };
      zone[`_dmarc.${d}`] = { TXT: ['v=DMARC1; p=reject'] };
      const faulty = check === 'spf' ? d : check === 'dkim' ? `sel._domainkey.${d}` : `_dmarc.${d}`;
      rules.push({ name: faulty, type: 'TXT', fault });
    }
  }
  dns = await startHostileDns({ zone, rules });
  for (const policy of ['tempfail', 'accept'] as const) {
    const config = join(dir, `${policy}.yml`);
    await writeFile(
      config,
      [`store:`, `  path: ${join(dir, `${policy}.db`)}`, `dns:`, `  timeout: 250ms`, `  attempts: 1`, `inbound:`, `  authserv_id: ${ID}`, `  iprev: false`, `  on_temperror: ${policy}`, `outbound:`, `  trusted_networks: []`, `log:`, `  format: json`, ''].join('\n'),
    );
    milters[policy] = await startMilterProcess(['--config', config, '--dns', `${dns.server.host}:${dns.server.port}`]);
  }
});

test.after.always(async () => {
  await milters.tempfail?.stop();
  await milters.accept?.stop();
  await dns?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/**
 * The message for a case. SPF's case: unsigned, so only SPF could authenticate. DKIM's:
 * signed, from an address SPF does not allow. DMARC's: both would pass.
 */
async function messageFor(check: Check, d: string): Promise<{ raw: Buffer; ip: string }> {
  const raw = Buffer.from(`From: <alice@${d}>\r\nTo: bob@anchor.test\r\nSubject: fault\r\nDate: Sun, 22 Nov 2026 12:00:00 +0000\r\nMessage-ID: <${Math.random()}@${d}>\r\n\r\nHello.\r\n`, 'latin1');
  if (check === 'spf') return { raw, ip: IP };
  return { raw: await dkimsign(raw, d, key), ip: check === 'dkim' ? '203.0.113.7' : IP };
}

async function deliver(m: MilterProcess, raw: Buffer, from: string, ip: string): Promise<{ reply: ClientReply | undefined; ar: string }> {
  const { headers, body } = splitMessage(raw);
  const c = await MilterClient.connect(`inet:127.0.0.1:${m.port}`);
  await c.negotiate();
  const r = await sendMessage(c, { client: { hostname: 'client.test', address: ip }, helo: 'client.test', from, rcpts: ['bob@anchor.test'], headers, body, macros: { connect: { j: ID } } });
  c.quit();
  const ar = r.eom?.modifications.find((x): x is Extract<ClientModification, { kind: 'insert-header' }> => x.kind === 'insert-header');
  return { reply: r.eom?.reply, ar: ar?.value ?? '' };
}

for (const check of CHECKS) {
  for (const [name] of FAULTS) {
    it(`${check} lookup ${name}: ${check}=temperror, dmarc=temperror; 451 4.7.1 (tempfail) or delivered (accept); never pass, fail or 5xx`, async (t) => {
      const d = domainOf(check, name);
      const { raw, ip } = await messageFor(check, d);
      const asked = dns.queries.length;
      const held = await deliver(milters.tempfail!, raw, `alice@${d}`, ip);
      t.is(held.reply?.kind, 'replycode', JSON.stringify(held.reply));
      t.regex(held.reply?.kind === 'replycode' ? held.reply.text : '', /^451 4\.7\.1 /);
      const let_ = await deliver(milters.accept!, raw, `alice@${d}`, ip);
      t.is(let_.reply?.kind, 'continue');
      t.regex(let_.ar, new RegExp(`${check}=temperror`));
      t.regex(let_.ar, /dmarc=temperror/);
      t.notRegex(let_.ar, /dmarc=(pass|fail)/);
      t.true(dns.queries.slice(asked).some((q) => q.name.endsWith(d)), 'the faulty server was asked');
    });
  }
}

it('the healthy control: the same setup without a fault passes (the matrix can tell the difference)', async (t) => {
  const d = 'control.test';
  dns.setZone({ [d]: { TXT: [`v=spf1 ip4:${IP} -all`] }, [`_dmarc.${d}`]: { TXT: ['v=DMARC1; p=reject'] } });
  const raw = Buffer.from(`From: <alice@${d}>\r\nTo: bob@anchor.test\r\nSubject: ok\r\n\r\nHello.\r\n`, 'latin1');
  const ok = await deliver(milters.tempfail!, raw, `alice@${d}`, IP);
  t.is(ok.reply?.kind, 'continue');
  t.regex(ok.ar, /spf=pass/);
  t.regex(ok.ar, /dmarc=pass/);
  const spoof = await deliver(milters.tempfail!, raw, `alice@${d}`, '203.0.113.9');
  t.is(spoof.reply?.kind, 'replycode');
  t.regex(spoof.reply?.kind === 'replycode' ? spoof.reply.text : '', /^550 5\.7\.1 /, 'a real failure is still a 550');
  for (const m of Object.values(milters)) t.is(m!.child.exitCode, null, 'milter alive');
});
