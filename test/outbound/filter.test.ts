/**
 * The outbound filter in-process with the shipped defaults: its signatures verify with our
 * DkimVerifier and python3-dkim, the default `outbound.oversign` makes a prepended (replayed)
 * Subject, To, Cc, Reply-To or List-Unsubscribe break every signature, and
 * `outbound.signature_ttl` adds x=.
 */
import test from 'ava';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Registry } from 'prom-client';
import type { MailFilterDeps } from '../../src/app/mail-filter.ts';
import { parseDkimSignature } from '../../src/auth/dkim/signature.ts';
import { decodeConfig } from '../../src/config/load.ts';
import type { SigningKey } from '../../src/keys/signing-keys.ts';
import type { EndOfMessageResult, SessionContext } from '../../src/milter/filter.ts';
import { createOutboundFilterFactory } from '../../src/outbound/filter.ts';
import { fakeLookup } from '../support/fake-dns.ts';
import { keyRecord, messageParts, verifyMessage } from '../support/dkim-run.ts';
import { pythonDkimVerifyBatch } from '../support/dkim-verifiers.ts';
import { captureLogger } from '../support/logger.ts';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const ed = generateKeyPairSync('ed25519').privateKey;
const KEYS: SigningKey[] = [
  { id: 'r', domain: 'anchor.example', selector: 'r1', algorithm: 'rsa-sha256', privateKey: rsa },
  { id: 'e', domain: 'anchor.example', selector: 'e1', algorithm: 'ed25519-sha256', privateKey: ed },
];
const RECORDS = { 'r1._domainkey.anchor.example': keyRecord(rsa), 'e1._domainkey.anchor.example': keyRecord(ed) };
const dns = fakeLookup(Object.fromEntries(Object.entries(RECORDS).map(([k, v]) => [k, { TXT: [v] }])));
const NOW = Date.UTC(2026, 11, 1, 10);
const pythonMissing = existsSync('/usr/lib/python3/dist-packages/dkim') ? undefined : 'python3-dkim not installed';

async function signThrough(raw: string, outbound: Record<string, unknown> = {}): Promise<{ signed: Buffer; result: EndOfMessageResult }> {
  const { config, issues } = decodeConfig({ outbound });
  if (issues.length) throw new Error(JSON.stringify(issues));
  const deps: MailFilterDeps = {
    config,
    logger: captureLogger().logger,
    metrics: new Registry(),
    dns,
    evaluations: undefined,
    keys: { activeKeys: (d) => (d === 'anchor.example' ? KEYS : []), assertHealthy: () => {} },
    now: () => NOW,
  };
  const ctx: SessionContext = { sessionId: 't1', macros: { get: () => undefined, entries: () => new Map<string, string>().entries() }, progress: () => {}, messageSignal: () => new AbortController().signal };
  const filter = createOutboundFilterFactory(deps).create(ctx);
  const message = Buffer.from(raw, 'latin1');
  const { headers, body } = messageParts(message);
  filter.mailFrom?.('<alice@anchor.example>', []);
  for (const h of headers) await filter.header?.(h.name, h.value);
  await filter.endOfHeaders?.();
  for (let i = 0; i < body.length; i += 1000) await filter.body?.(body.subarray(i, i + 1000));
  const result = await filter.endOfMessage();
  const top = result.modifications.map((m) => (m.kind === 'insert-header' ? `${m.name}: ${m.value}\r\n` : '')).join('');
  return { signed: Buffer.concat([Buffer.from(top, 'latin1'), message]), result };
}

const MESSAGE =
  'From: Alice <alice@anchor.example>\r\nTo: Bob <bob@example.net>\r\nSubject: invoice 42\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <42@anchor.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlease find the invoice attached.\r\n';

test('the default oversign list: h= names each replay-relevant field once more than it occurs, present or not', async (t) => {
  const { signed, result } = await signThrough(MESSAGE);
  t.is(result.modifications.length, 2);
  const { headers } = messageParts(signed);
  const parsed = parseDkimSignature(headers[0]!);
  if (!parsed.ok) return t.fail(parsed.reason);
  const h = parsed.signature.signedHeaders;
  const count = (n: string) => h.filter((x) => x === n).length;
  for (const present of ['from', 'to', 'subject', 'date', 'message-id', 'mime-version', 'content-type']) t.is(count(present), 2, present);
  for (const absent of ['cc', 'reply-to', 'sender', 'in-reply-to', 'references', 'list-id', 'list-unsubscribe', 'list-post']) t.is(count(absent), 1, absent);
  t.is(count('content-transfer-encoding'), 0, 'signed when present, not oversigned');
  t.is(parsed.signature.expiration, undefined, 'no x= by default');
  // Folded at the colons of h=: no line over 78 octets.
  for (const line of `DKIM-Signature: ${result.modifications[0]!.kind === 'insert-header' ? result.modifications[0]!.value : ''}`.split('\r\n')) t.true(line.length <= 78, line);
});

test('signatures verify (ours and python3-dkim); a replayed field prepended or appended breaks them all', async (t) => {
  const { signed } = await signThrough(MESSAGE);
  t.deepEqual((await verifyMessage(signed, { dns, now: NOW })).checks.map((c) => c.result), ['pass', 'pass']);
  const text = signed.toString('latin1');
  const at = text.indexOf('\r\nFrom:') + 2; // just below our signatures: the top of the original header
  const tampered: Buffer[] = [];
  for (const extra of ['Subject: urgent: wire the money', 'To: victim@example.org', 'Cc: victim@example.org', 'Reply-To: thief@evil.example', 'List-Unsubscribe: <https://evil.example/u>', 'From: ceo@anchor.example']) {
    const prepended = Buffer.from(`${text.slice(0, at)}${extra}\r\n${text.slice(at)}`, 'latin1');
    const appended = Buffer.from(text.replace('\r\n\r\n', `\r\n${extra}\r\n\r\n`), 'latin1');
    for (const m of [prepended, appended]) {
      tampered.push(m);
      t.deepEqual((await verifyMessage(m, { dns, now: NOW })).checks.map((c) => c.result), ['fail', 'fail'], extra);
    }
  }
  if (!pythonMissing) {
    const py = await pythonDkimVerifyBatch([signed, ...tampered], RECORDS);
    t.deepEqual(py[0], [true, true], 'python3-dkim passes the original');
    t.true(py.slice(1).every((r) => r.length === 2 && !r[0] && !r[1]), 'python3-dkim fails every replay');
  }
});

test('outbound.signature_ttl adds x= = t= + ttl; oversign can be narrowed to From', async (t) => {
  const { signed } = await signThrough(MESSAGE, { signature_ttl: '7d', oversign: ['from'] });
  const parsed = parseDkimSignature(messageParts(signed).headers[0]!);
  if (!parsed.ok) return t.fail(parsed.reason);
  t.is(parsed.signature.timestamp, NOW / 1000);
  t.is(parsed.signature.expiration, NOW / 1000 + 7 * 86400);
  t.deepEqual(parsed.signature.signedHeaders.filter((x) => x === 'subject'), ['subject']);
  t.deepEqual((await verifyMessage(signed, { dns, now: NOW + 86400_000 })).checks.map((c) => c.result), ['pass', 'pass']);
  t.deepEqual((await verifyMessage(signed, { dns, now: NOW + 8 * 86400_000 })).checks.map((c) => c.code), ['expired', 'expired']);
});

test('config: oversign entries must be field names; signature_ttl at least a minute', (t) => {
  t.true(decodeConfig({ outbound: { oversign: ['from', 'bad name'] } }).issues.some((i) => i.path === 'outbound.oversign[1]'));
  t.true(decodeConfig({ outbound: { signature_ttl: '10s' } }).issues.some((i) => i.path === 'outbound.signature_ttl'));
  t.deepEqual(decodeConfig({ outbound: { signature_ttl: '1h' } }).issues, []);
});
