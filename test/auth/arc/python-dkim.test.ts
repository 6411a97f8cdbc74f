/**
 * An independent check of our seals: Debian's python3-dkim (dkimpy) validates chains we
 * sealed, and seals chains we validate — one hop each way and mixed. Messages are as they
 * leave the milter: our fields inserted at the top with one space after the colon, CRLF.
 */
import test from 'ava';
import type { HeaderField } from '../../../src/mail/header.ts';
import { headerBlock } from '../../../src/mail/header.ts';
import { arcOracleMissing, pythonArcSign, pythonArcVerify } from '../../support/arc-oracle.ts';
import { baseBody, baseHeaders, keyDns, rsaKey, sealHop, verifyChain, type TestKey } from './chain-builder.ts';

const missing = arcOracleMissing();
const it = missing ? test.skip : test;
if (missing) test.skip(`ARC against python3-dkim: ${missing}`, () => {});

const k1 = rsaKey('forwarder.test', 'arc1', 2048);
const k2 = rsaKey('lists.example.org', 'seal', 2048, 1);
const k3 = rsaKey('relay.example.net', 's2026', 2048, 2);
const keys = [k1, k2, k3];
const records = Object.fromEntries(keys.map((k) => [k.name, k.record]));
const dns = () => keyDns(keys);

const wire = (headers: readonly HeaderField[], body: Buffer): Buffer => Buffer.concat([headerBlock(headers), body]);
/** How the MTA inserts a field the milter adds: one space after the colon. */
const inserted = (fields: readonly HeaderField[]): HeaderField[] => fields.map((f) => ({ ...f, value: ` ${f.value}` }));

/** Our hop: validate what arrived, seal, insert. */
async function ourHop(headers: readonly HeaderField[], body: Buffer, key: TestKey, sealedBody = body): Promise<HeaderField[]> {
  const chain = await verifyChain(headers, body, dns());
  const out = await sealHop(headers, sealedBody, { key, chain });
  if (out.kind !== 'sealed') throw new Error(`not sealed: ${out.reason}`);
  return [...inserted(out.fields), ...headers];
}

/** Splits dkimpy's `Name: value\r\n` lines into fields (LF folding, as a milter hands them over). */
function fieldsOf(lines: readonly string[]): HeaderField[] {
  return lines.map((l) => {
    const colon = l.indexOf(':');
    return { name: l.slice(0, colon), value: l.slice(colon + 1).replace(/\r\n$/, '').replace(/\r\n/g, '\n') };
  });
}

/** dkimpy's hop: it reads its chain status from our Authentication-Results (srv-id = its authserv-id), as the suite does. */
async function pythonHop(headers: readonly HeaderField[], body: Buffer, key: TestKey, srvId: string): Promise<HeaderField[]> {
  const chain = await verifyChain(headers, body, dns());
  const ar: HeaderField = { name: 'Authentication-Results', value: ` ${srvId}; arc=${chain.result}; spf=pass smtp.mailfrom=origin.test` };
  const lines = await pythonArcSign(wire([ar, ...headers], body), {
    selector: key.signing.selector,
    domain: key.signing.domain,
    privateKeyPem: key.signing.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    srvId,
    headers: ['from', 'to', 'subject', 'date', 'message-id'],
    timestamp: 1_767_261_700,
  });
  if (lines.length !== 3) throw new Error(`dkimpy did not seal: ${JSON.stringify(lines)}`);
  return [...fieldsOf(lines), ...headers];
}

it('dkimpy validates our first seal (RSA-2048): pass, AMS and AS valid', async (t) => {
  const h = await ourHop(baseHeaders(), baseBody(), k1);
  const py = await pythonArcVerify(wire(h, baseBody()), records);
  t.is(py.cv, 'pass', py.reason);
  t.deepEqual(py.instances, [{ instance: 1, ams: true, as: true, cv: 'none' }]);
});

it('dkimpy validates three of our seals by three domains; a changed Subject breaks it for both of us', async (t) => {
  let h = await ourHop(baseHeaders(), baseBody(), k1);
  h = await ourHop(h, baseBody(), k2);
  h = await ourHop(h, baseBody(), k3);
  const py = await pythonArcVerify(wire(h, baseBody()), records);
  t.is(py.cv, 'pass', py.reason);
  t.deepEqual(py.instances.map((i) => [i.instance, i.ams, i.as, i.cv]), [
    [3, true, true, 'pass'],
    [2, true, true, 'pass'],
    [1, true, true, 'none'],
  ]);
  const changed = h.map((f) => (f.name === 'Subject' ? { ...f, value: ' [list] Hello there' } : f));
  t.is((await pythonArcVerify(wire(changed, baseBody()), records)).cv, 'fail');
  t.is((await verifyChain(changed, baseBody(), dns())).result, 'fail');
});

it('a hop that changed the body: dkimpy sees AMS 1 invalid and the chain pass — our oldest-pass is 2', async (t) => {
  let h = await ourHop(baseHeaders(), baseBody(), k1);
  const footed = Buffer.concat([baseBody(), Buffer.from('-- \r\nlist footer\r\n')]);
  h = await ourHop(h, baseBody(), k2, footed);
  const py = await pythonArcVerify(wire(h, footed), records);
  t.is(py.cv, 'pass', py.reason);
  t.deepEqual(py.instances.map((i) => [i.instance, i.ams]), [
    [2, true],
    [1, false],
  ]);
  t.like(await verifyChain(h, footed, dns()), { result: 'pass', oldestPass: 2 });
});

it('our cv=fail seal on a broken chain: dkimpy stops at it too (chain terminated)', async (t) => {
  const h = await ourHop(baseHeaders(), baseBody(), k1);
  const tampered = Buffer.from('replaced body\r\n');
  const sealed = await ourHop(h, tampered, k2);
  t.regex(sealed[0]!.value, /cv=fail/);
  const py = await pythonArcVerify(wire(sealed, tampered), records);
  t.is(py.cv, null, py.reason);
  t.regex(py.reason, /ARC-Seal\[2\] reported failure/);
  t.like(await verifyChain(sealed, tampered, dns()), { result: 'fail', reason: 'ARC-Seal i=2 says cv=fail' });
});

it('mixed chain: dkimpy seals, we validate and seal on top, dkimpy validates and seals, we validate', async (t) => {
  let h = await pythonHop(baseHeaders(), baseBody(), k1, 'mx.forwarder.test');
  t.like(await verifyChain(h, baseBody(), dns()), { result: 'pass', instances: 1, sealers: ['forwarder.test'] });
  h = await ourHop(h, baseBody(), k2);
  t.is((await pythonArcVerify(wire(h, baseBody()), records)).cv, 'pass');
  h = await pythonHop(h, baseBody(), k3, 'mx.relay.example.net');
  const ours = await verifyChain(h, baseBody(), dns());
  t.like(ours, { result: 'pass', instances: 3, oldestPass: 1, sealers: ['forwarder.test', 'lists.example.org', 'relay.example.net'] });
  t.regex(ours.hopResults[2]!, /^mx\.relay\.example\.net; arc=pass;/);
  t.is((await pythonArcVerify(wire(h, baseBody()), records)).cv, 'pass');
});

it('raw UTF-8 header values (a Subject ending in "Р", octets D0 A0): dkimpy and we agree both ways', async (t) => {
  // latin1 strings, one char per octet, as the milter hands 8-bit headers over.
  const subject = Buffer.from(' Привет, Р', 'utf8').toString('latin1');
  const headers = baseHeaders().map((f) => (f.name === 'Subject' ? { ...f, value: subject } : f));
  const ours = await ourHop(headers, baseBody(), k1);
  const py = await pythonArcVerify(wire(ours, baseBody()), records);
  t.is(py.cv, 'pass', py.reason);
  t.deepEqual(py.instances.map((i) => [i.ams, i.as]), [[true, true]]);
  const theirs = await pythonHop(headers, baseBody(), k2, 'mx.lists.example.org');
  t.like(await verifyChain(theirs, baseBody(), dns()), { result: 'pass' });
});

it('a seal whose tags fold before i= (the default, oversigned header list): dkimpy still finds our AMS', async (t) => {
  // dkimpy picks the AMS of instance N by the text " i=N;" — a fold with TAB before i= hid
  // ours from it (found through real Postfix). Our folds are CRLF SP, so i= is always after a space.
  const fields = ['from', 'to', 'cc', 'subject', 'date', 'message-id', 'reply-to', 'sender', 'in-reply-to', 'references', 'mime-version', 'content-type', 'content-transfer-encoding', 'list-id', 'dkim-signature'];
  const over = ['from', 'to', 'cc', 'subject', 'date', 'message-id', 'reply-to', 'sender', 'in-reply-to', 'references', 'mime-version', 'content-type'];
  const chain = await verifyChain(baseHeaders(), baseBody(), dns());
  const out = await sealHop(baseHeaders(), baseBody(), { key: k1, chain, signedHeaders: fields, oversignedHeaders: over });
  if (out.kind !== 'sealed') return t.fail(out.reason);
  const h = [...inserted(out.fields), ...baseHeaders()];
  const py = await pythonArcVerify(wire(h, baseBody()), records);
  t.is(py.cv, 'pass', py.reason);
  t.deepEqual(py.instances, [{ instance: 1, ams: true, as: true, cv: 'none' }]);
  for (const f of out.fields) {
    const lines = `${f.name}: ${f.value}`.split('\r\n');
    t.true(lines.every((l) => l.length <= 78 || /^ b=[A-Za-z0-9+/=]+;$/.test(l)), `${f.name} folded at 78 columns, h= included:\n${lines.join('\n')}`);
  }
  t.like(await verifyChain(h, baseBody(), dns()), { result: 'pass' });
});
