/**
 * The ValiMail ARC validation suite (171 tests, draft 18 era) as data, every test through
 * `ArcVerifier` with a fake DNS serving the scenario's `txt-records`. Where the suite and
 * RFC 8617 disagree, RFC 8617 rules: each such test is listed in MISSES with the text that
 * decides it, and asserts the RFC's verdict instead of the suite's.
 *
 * The suite writes cv as None/Pass/Fail; three tests (cv_fail_i1_as_cv_fail,
 * cv_fail_i2_as2_fail, cv_fail_i2_as1_fail) have an empty block scalar instead. Their names
 * and RFC 8617 §5.2 step 2 ("If the Chain Validation Status of the highest instance value
 * ARC Set is "fail", then the Chain Validation Status is "fail"") and step 3 ("The "cv"
 * value for all ARC-Seal header fields MUST NOT be "fail"") say fail.
 */
import test from 'ava';
import { ArcVerifier } from '../../../src/auth/arc/verify.ts';
import { BodyHashSet } from '../../../src/auth/dkim/body-hash.ts';
import { KeyParseCache } from '../../../src/auth/dkim/key-lookup.ts';
import type { ArcCheck } from '../../../src/auth/results.ts';
import { splitSuiteMessage, suiteDns, validationSuite, type ValidationCase } from './suite.ts';

/** Tests where RFC 8617 (which imports RFC 6376 for the AMS) decides against the suite. */
const MISSES: Readonly<Record<string, { readonly rfc: ArcCheck['result']; readonly because: string }>> = {
  ams_fields_c_na: {
    rfc: 'fail',
    because:
      'RFC 8617 §4.1.2: "The AMS header field has the same syntax and semantics as the DKIM-Signature field [RFC6376]" — and RFC 6376 §3.5 c=: "Default is "simple/simple"". ' +
      'The test message was signed relaxed/relaxed without saying so (dkimpy defaults an AMS to relaxed); read as simple/simple the signature does not verify.',
  },
  ams_fields_h_empty: {
    rfc: 'fail',
    because:
      'RFC 8617 §4.1.2 (same syntax and semantics as DKIM-Signature) → RFC 6376 §3.5 h=: "This list MUST NOT be empty", and §6.1.1: "If the "h=" tag does not include the From header field, ' +
      'the Verifier MUST ignore the DKIM-Signature header field and return PERMFAIL". An AMS that covers no From lets the From under the sealer\'s results be swapped.',
  },
};

const expected = (c: ValidationCase): ArcCheck['result'] => (c.cv === '' ? 'fail' : (c.cv.toLowerCase() as ArcCheck['result']));

async function verify(c: ValidationCase): Promise<ArcCheck> {
  const { headers, body } = splitSuiteMessage(c.message);
  const verifier = new ArcVerifier({ dns: suiteDns(c.txtRecords), keyCache: new KeyParseCache(), now: () => Date.UTC(2026, 0, 1), minKeyBits: 1024 });
  const bodyHashes = new BodyHashSet();
  verifier.start(headers, bodyHashes);
  bodyHashes.write(body);
  bodyHashes.end();
  return verifier.finish();
}

const cases = validationSuite();
const counted = cases.filter((c) => !c.shadowed);

test('the suite has 171 tests (175 entries, 4 names repeated within a scenario)', (t) => {
  t.is(counted.length, 171);
  t.is(cases.length, 175);
  t.is(counted.filter((c) => c.cv === '').length, 3);
});

for (const c of cases) {
  const miss = c.shadowed ? undefined : MISSES[c.name];
  const title = `${c.shadowed ? '(earlier copy) ' : ''}${c.name}: ${c.description.trim()}`;
  test(title, async (t) => {
    const r = await verify(c);
    t.log(`${r.result} (${r.reason})`);
    if (miss) {
      t.not(expected(c), miss.rfc, 'a listed miss must differ from the suite');
      t.is(r.result, miss.rfc, miss.because);
    } else t.is(r.result, expected(c));
  });
}

test('at least 169 of 171 agree with the suite; every other one is a listed miss', async (t) => {
  let agree = 0;
  const differ: string[] = [];
  for (const c of counted) {
    if ((await verify(c)).result === expected(c)) agree++;
    else differ.push(c.name);
  }
  t.log(`${agree}/${counted.length} agree; misses: ${differ.join(', ')}`);
  t.true(agree >= 169);
  t.deepEqual(differ.sort(), Object.keys(MISSES).sort());
});
