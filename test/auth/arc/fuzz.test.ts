/**
 * Fuzzing the three ARC parsers and the verifier on top of them (seeded, bounded in count
 * and time). Parsers: no exception escapes, and whatever is accepted is well-formed (instance
 * 1..50, known cv, rsa-sha256, decoded signatures). Verifier: a sealed chain with any
 * material change to any ARC field gets a definite `fail` — never pass, never temperror,
 * never a throw.
 */
import test from 'ava';
import { parseArcAuthenticationResults } from '../../../src/auth/arc/authentication-results-field.ts';
import { parseArcMessageSignature } from '../../../src/auth/arc/message-signature-field.ts';
import { parseArcSeal } from '../../../src/auth/arc/seal-field.ts';
import type { ArcFieldParse } from '../../../src/auth/arc/field-parse.ts';
import type { HeaderField } from '../../../src/mail/header.ts';
import { prng } from '../../support/prng.ts';
import { addHop, baseBody, baseHeaders, keyDns, rsaKey, verifyChain } from './chain-builder.ts';
import { splitSuiteMessage, validationSuite } from './suite.ts';

const ITERATIONS = 4000;
const TIME_MS = 4000;

const SPECIAL = [';', '=', ':', ' ', '\t', '\r\n ', '\n\t', '\r', '\n', '(', ')', '"', '\\', '\0', '\x7f', '\xe9', '\xff', 'i=', 'b=', 'cv=', ';;', '=='];
const ALPHABET = 'abcdefhilstvxABZ0123456789+/=;:-._@ \t()"';

/** Field values to start from: every ARC field of the validation suite. */
function seeds(): Record<'as' | 'ams' | 'aar', string[]> {
  const out = { as: [] as string[], ams: [] as string[], aar: [] as string[] };
  for (const c of validationSuite()) {
    for (const f of splitSuiteMessage(c.message).headers) {
      const n = f.name.toLowerCase();
      if (n === 'arc-seal') out.as.push(f.value);
      else if (n === 'arc-message-signature') out.ams.push(f.value);
      else if (n === 'arc-authentication-results') out.aar.push(f.value);
    }
  }
  return out;
}

function mutate(rnd: () => number, s: string): string {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  let v = s;
  const rounds = 1 + Math.floor(rnd() * 4);
  for (let r = 0; r < rounds; r++) {
    const at = Math.floor(rnd() * (v.length + 1));
    switch (Math.floor(rnd() * 7)) {
      case 0:
        v = v.slice(0, at) + pick(SPECIAL) + v.slice(at);
        break;
      case 1:
        v = v.slice(0, at) + v.slice(at + 1 + Math.floor(rnd() * 8));
        break;
      case 2:
        v = v.slice(0, at) + String.fromCharCode(Math.floor(rnd() * 256)) + v.slice(at + 1);
        break;
      case 3: {
        const from = Math.floor(rnd() * v.length);
        v = v.slice(0, at) + v.slice(from, from + Math.floor(rnd() * 20)) + v.slice(at);
        break;
      }
      case 4:
        v = v.slice(0, at);
        break;
      case 5:
        v = Array.from({ length: Math.floor(rnd() * 60) }, () => pick([...ALPHABET])).join('');
        break;
      default:
        v = v.replace(/i=\d+/, `i=${pick(['0', '51', '99', '007', '-1', '1a', '', '1 2', '٣'])}`);
    }
  }
  return v;
}

function checkShape(t: { fail(m: string): void }, parsed: ArcFieldParse<{ instance: number }>, input: string): void {
  if (parsed.ok) {
    if (!Number.isInteger(parsed.instance) || parsed.instance < 1 || parsed.instance > 50 || parsed.value.instance !== parsed.instance) t.fail(`bad instance for ${JSON.stringify(input)}`);
  } else if (typeof parsed.reason !== 'string' || parsed.reason === '') t.fail(`no reason for ${JSON.stringify(input)}`);
  else if (parsed.instance !== undefined && (parsed.instance < 1 || parsed.instance > 50)) t.fail(`bad instance on failure for ${JSON.stringify(input)}`);
}

const parsers = {
  as: (v: string) => {
    const p = parseArcSeal(v);
    if (p.ok && (!['none', 'pass', 'fail'].includes(p.value.cv) || p.value.algorithm !== 'rsa-sha256' || p.value.signature.length === 0)) throw new Error(`accepted a bad seal: ${JSON.stringify(v)}`);
    return p;
  },
  ams: (v: string) => {
    const p = parseArcMessageSignature(v);
    if (p.ok && (p.value.bodyHash.length !== 32 || p.value.signature.length === 0 || !p.value.signedHeaders.includes('from') || p.value.signedHeaders.includes('arc-seal')))
      throw new Error(`accepted a bad AMS: ${JSON.stringify(v)}`);
    return p;
  },
  aar: (v: string) => {
    const p = parseArcAuthenticationResults(v);
    if (p.ok && (p.value.authservId === '' || !p.value.payload.startsWith(p.value.authservId) && !p.value.payload.startsWith('"') && !p.value.payload.startsWith('('))) throw new Error(`accepted a bad AAR: ${JSON.stringify(v)}`);
    return p;
  },
};

for (const [kind, parse] of Object.entries(parsers)) {
  test(`fuzz: ${kind} parser never throws and accepts only well-formed fields`, (t) => {
    const rnd = prng(8617 + kind.length);
    const pool = seeds()[kind as 'as' | 'ams' | 'aar'];
    t.true(pool.length > 50);
    const deadline = Date.now() + TIME_MS;
    let n = 0;
    let accepted = 0;
    for (; n < ITERATIONS && Date.now() < deadline; n++) {
      const input = mutate(rnd, pool[Math.floor(rnd() * pool.length)]!);
      let parsed;
      try {
        parsed = parse(input);
      } catch (err) {
        return t.fail(`${kind}: ${(err as Error).message} on ${JSON.stringify(input)}`);
      }
      checkShape(t, parsed, input);
      if (parsed.ok) accepted++;
    }
    t.log(`${n} inputs, ${accepted} accepted`);
    t.true(n >= 500);
  });
}

const k1 = rsaKey('forwarder.test', 'arc1');
const k2 = rsaKey('lists.example.org', 'seal', 1024, 1);

test('fuzz: a material change to any ARC field of a sealed chain is a definite fail', async (t) => {
  const dns = keyDns([k1, k2]);
  const chain = await addHop(await addHop(baseHeaders(), baseBody(), k1, dns), baseBody(), k2, dns);
  t.like(await verifyChain(chain, baseBody(), dns), { result: 'pass' });
  const arcIndexes = chain.flatMap((f, k) => (f.name.startsWith('ARC-') ? [k] : []));
  const rnd = prng(2019);
  const deadline = Date.now() + TIME_MS;
  let n = 0;
  const verdicts: Record<string, number> = {};
  for (; n < 600 && Date.now() < deadline; n++) {
    const k = arcIndexes[Math.floor(rnd() * arcIndexes.length)]!;
    const field = chain[k]!;
    // Positions that every seal covers: anything but whitespace, and (for the newest seal,
    // whose own b= is not part of its input) not its b= value.
    const bValue = k === 0 ? /\bb=([^;]*)/.exec(field.value) : null;
    const protectedFrom = bValue ? bValue.index + 2 : -1;
    const protectedTo = bValue ? protectedFrom + bValue[1]!.length : -1;
    const positions = [...field.value].flatMap((c, i) => (/[ \t\r\n]/.test(c) || (i >= protectedFrom && i < protectedTo) ? [] : [i]));
    const at = positions[Math.floor(rnd() * positions.length)]!;
    const replacement = String.fromCharCode(0x21 + Math.floor(rnd() * 0xde));
    const op = Math.floor(rnd() * 3);
    const value =
      op === 0 ? field.value.slice(0, at) + field.value.slice(at + 1) : op === 1 ? field.value.slice(0, at) + replacement + field.value.slice(at) : field.value.slice(0, at) + replacement + field.value.slice(at + 1);
    if (value === field.value) continue;
    const mutated: HeaderField[] = chain.map((f, j) => (j === k ? { ...f, value } : f));
    let r;
    try {
      r = await verifyChain(mutated, baseBody(), dns);
    } catch (err) {
      return t.fail(`threw ${(err as Error).message} for ${field.name}: ${JSON.stringify(value)}`);
    }
    verdicts[r.result] = (verdicts[r.result] ?? 0) + 1;
    if (r.result !== 'fail') return t.fail(`${r.result} (${r.reason}) for ${field.name}: ${JSON.stringify(value)}`);
  }
  t.log(`${n} mutations: ${JSON.stringify(verdicts)}`);
  t.true(n >= 100);
});

test('fuzz: any mix of mangled ARC fields on a message is fail, never pass, never a throw', async (t) => {
  const pool = seeds();
  const dns = keyDns([k1, k2]);
  const rnd = prng(50);
  const deadline = Date.now() + TIME_MS;
  let n = 0;
  for (; n < 400 && Date.now() < deadline; n++) {
    const fields: HeaderField[] = [];
    for (let j = 0, m = 1 + Math.floor(rnd() * 6); j < m; j++) {
      const kind = (['as', 'ams', 'aar'] as const)[Math.floor(rnd() * 3)]!;
      const name = { as: 'ARC-Seal', ams: 'ARC-Message-Signature', aar: 'ARC-Authentication-Results' }[kind];
      const src = pool[kind][Math.floor(rnd() * pool[kind].length)]!;
      fields.push({ name: rnd() < 0.3 ? name.toUpperCase() : name, value: rnd() < 0.5 ? mutate(rnd, src) : src });
    }
    let r;
    try {
      r = await verifyChain([...fields, ...baseHeaders()], baseBody(), dns);
    } catch (err) {
      return t.fail(`threw ${(err as Error).message}`);
    }
    if (r.result !== 'fail') return t.fail(`${r.result} (${r.reason}) for ${JSON.stringify(fields)}`);
  }
  t.true(n >= 100);
});
