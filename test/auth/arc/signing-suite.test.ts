/**
 * The ValiMail ARC signing suite (17 tests) as data: for each message, our chain
 * validation (fake DNS from `txt-records`) must agree with the arc= result stamped in its
 * Authentication-Results, and `seal()` with the suite's key, t=, srv-id and sig-headers
 * must reproduce the expected ARC-Seal, ARC-Message-Signature and ARC-Authentication-
 * Results in the suite's normalised form (README-schema.md) — b= included, which proves the
 * relaxed canonical form of all three fields byte for byte (the AS signs the AAR and AMS).
 * An empty expected set means no seal (no_additional_sig: §5.1 step 1).
 */
import test from 'ava';
import { createPrivateKey } from 'node:crypto';
import { seal, ARC_SEAL_BODY_HASH } from '../../../src/auth/arc/seal.ts';
import { ArcVerifier } from '../../../src/auth/arc/verify.ts';
import { BodyHashSet } from '../../../src/auth/dkim/body-hash.ts';
import { KeyParseCache } from '../../../src/auth/dkim/key-lookup.ts';
import { canonicalHeader } from '../../../src/auth/dkim/canonicalize.ts';
import type { HeaderField } from '../../../src/mail/header.ts';
import type { ArcCheck } from '../../../src/auth/results.ts';
import { consolidate, normalise, signingSuite, splitSuiteMessage, suiteDns, type SigningCase } from './suite.ts';

async function verify(headers: readonly HeaderField[], body: Buffer, c: SigningCase): Promise<ArcCheck> {
  const v = new ArcVerifier({ dns: suiteDns(c.txtRecords), keyCache: new KeyParseCache(), now: () => c.t * 1000, minKeyBits: 1024 });
  const set = new BodyHashSet();
  v.start(headers, set);
  set.write(body);
  set.end();
  return v.finish();
}

async function sealCase(c: SigningCase) {
  const { headers, body } = splitSuiteMessage(c.message);
  const chain = await verify(headers, body, c);
  const bodyHashes = new BodyHashSet();
  const handle = bodyHashes.request(ARC_SEAL_BODY_HASH);
  bodyHashes.write(body);
  bodyHashes.end();
  const outcome = await seal({
    headers,
    bodyHash: bodyHashes.result(handle).digest,
    authservId: c.srvId,
    authenticationResults: consolidate(headers, c.srvId),
    chain,
    key: { id: 'suite', domain: c.domain, selector: c.selector, algorithm: 'rsa-sha256', privateKey: createPrivateKey(c.privateKey) },
    timestamp: c.t,
    signedHeaders: c.sigHeaders,
    oversignedHeaders: [],
  });
  return { headers, body, chain, outcome };
}

const cases = signingSuite();

test('the signing suite has 17 tests', (t) => {
  t.is(cases.length, 17);
});

for (const c of cases) {
  test(`${c.name}: ${c.description.trim()}`, async (t) => {
    const { headers, body, chain, outcome } = await sealCase(c);
    // The suite stamps the chain status into the newest A-R of srv-id (README-schema.md).
    const stamped = /\barc=(none|pass|fail)\b/i.exec(consolidate(headers, c.srvId))?.[1]?.toLowerCase();
    t.is(chain.result as string, stamped ?? 'fail', chain.reason);
    if (c.AS.trim() === '') {
      t.like(outcome, { kind: 'skipped', reason: 'sealed-as-failed' });
      return;
    }
    if (outcome.kind !== 'sealed') return t.fail(`not sealed: ${outcome.reason} (${outcome.detail})`);
    const [as, ams, aar] = outcome.fields;
    // Ours exactly as a relaxed verifier reads it (RFC 6376 §3.4.2) against the suite's normalised text.
    const relaxed = (f: HeaderField) => canonicalHeader(f.name, f.value, 'relaxed').replace(/^[^:]*:/, '').replace(/\r\n$/, '');
    t.is(relaxed(aar!), normalise(c.AAR), 'ARC-Authentication-Results');
    t.is(relaxed(ams!), normalise(c.AMS), 'ARC-Message-Signature');
    t.is(relaxed(as!), normalise(c.AS), 'ARC-Seal');
    // Folded for the wire: no line over 78 columns except the one holding b=.
    for (const f of outcome.fields) {
      const lines = `${f.name}: ${f.value}`.split('\r\n');
      t.true(lines.every((l) => l.length <= 78 || /^ b=[A-Za-z0-9+/=]+;$/.test(l)), `${f.name} folding`);
    }
    // And the sealed message validates with our own verifier: pass on top of a passing chain, fail (cv=fail) on a failed one.
    const sealed = await verify([...outcome.fields, ...headers], body, c);
    t.is(sealed.result, chain.result === 'fail' ? 'fail' : 'pass', sealed.reason);
    if (chain.result !== 'fail') t.is(sealed.instances, outcome.instance);
  });
}
