/**
 * OpenDKIM's KeyTable and SigningTable read as data (src/keys/opendkim-import.ts): every
 * pattern form of opendkim.conf(5) classified, the import plan with its notes, the key
 * record semantics that decide whether DNS "serves" an imported key, and a bounded fuzz run:
 * a malformed table is a KeystoreError naming its line, never anything else.
 */
import test from 'ava';
import { generateKeyPairSync } from 'node:crypto';
import { KeystoreError } from '../../src/keys/errors.ts';
import { dkimRecordForKey, publicKeyData, recordServesKey } from '../../src/keys/dkim-record.ts';
import { classifyPattern, parseKeyTable, parseSigningTable, planImport, signingTableSpec } from '../../src/keys/opendkim-import.ts';
import { mutator } from '../support/mutate.ts';
import { prng } from '../support/prng.ts';

test('refile patterns: *@domain, *@*.domain; per-address, catch-all, bare domains and odd wildcards are named', (t) => {
  t.deepEqual(classifyPattern('*@Example.ORG', 'refile'), { kind: 'domain', domain: 'example.org' });
  t.deepEqual(classifyPattern('*@*.example.org', 'refile'), { kind: 'subdomains', domain: 'example.org' });
  for (const p of ['*', '*@*']) t.regex((classifyPattern(p, 'refile') as { reason: string }).reason, /catch-all/);
  t.regex((classifyPattern('ceo@example.org', 'refile') as { reason: string }).reason, /per-address/);
  t.regex((classifyPattern('news-*@example.org', 'refile') as { reason: string }).reason, /per-address/);
  t.regex((classifyPattern('example.org', 'refile') as { reason: string }).reason, /matches none \(write \*@example\.org\)/);
  t.regex((classifyPattern('*@*example.org', 'refile') as { reason: string }).reason, /cannot express/);
});

test('plain file patterns: host, .parent; user@ forms and stray wildcards are named', (t) => {
  t.deepEqual(classifyPattern('example.org', 'file'), { kind: 'domain', domain: 'example.org' });
  t.deepEqual(classifyPattern('.example.org', 'file'), { kind: 'subdomains', domain: 'example.org' });
  t.regex((classifyPattern('*', 'file') as { reason: string }).reason, /catch-all/);
  t.regex((classifyPattern('user@example.org', 'file') as { reason: string }).reason, /per-address/);
  t.regex((classifyPattern('user@*', 'file') as { reason: string }).reason, /per-address/);
  t.regex((classifyPattern('*@example.org', 'file') as { reason: string }).reason, /refile:PATH/, 'a refile table read as a plain one');
  t.deepEqual(signingTableSpec('refile:/etc/opendkim/SigningTable'), { type: 'refile', path: '/etc/opendkim/SigningTable' });
  t.deepEqual(signingTableSpec('/etc/opendkim/SigningTable'), { type: 'file', path: '/etc/opendkim/SigningTable' });
  t.deepEqual(signingTableSpec('file:/etc/opendkim/SigningTable'), { type: 'file', path: '/etc/opendkim/SigningTable' });
  for (const spec of ['dsn:mysql://opendkim@localhost/dkim/table=signing', 'db:/etc/opendkim/signing.db', 'ldap://ldap.example/…', 'csl:a,b']) {
    const err = t.throws(() => signingTableSpec(spec), { instanceOf: KeystoreError }, spec);
    t.regex(err.message, /dataset is not read; export it to a file/);
  }
});

test('KeyTable: files (absolute, ./ relative to the table), inline keys, % domains, comments; bad lines name their number', (t) => {
  const e = parseKeyTable(['# comment', 'a  example.org:mail:/etc/opendkim/keys/a.private  # trailing', 'b %:default:./keys/%/default.private', 'c example.net:s1:MIIEvQIBADANBgkq', ''].join('\n'), '/etc/opendkim');
  t.deepEqual(e.map((x) => [x.name, x.domain, x.selector, x.key, x.line]), [
    ['a', 'example.org', 'mail', { kind: 'file', path: '/etc/opendkim/keys/a.private' }, 2],
    ['b', '%', 'default', { kind: 'file', path: '/etc/opendkim/keys/%/default.private' }, 3],
    ['c', 'example.net', 's1', { kind: 'inline', data: 'MIIEvQIBADANBgkq' }, 4],
  ]);
  const err = t.throws(() => parseKeyTable('ok example.org:s:/k\nbroken example.org\n'), { instanceOf: KeystoreError });
  t.regex(err.message, /KeyTable line 2/);
});

test('planImport: first match per domain, other domains via signing_domains, % keys per domain, unused keys named', (t) => {
  const keys = parseKeyTable(['k1 example.org:mail:/k/1', 'k2 example.org:other:/k/2', 'shared %:default:/k/s', 'unused example.org:old:/k/old'].join('\n'));
  const rules = parseSigningTable(['*@example.org k1', '*@example.org k2', '*@*.example.org k1', '*@alias.example k1', '*@a.example shared', '*@b.example shared', '*@*.c.example shared', '*@nokey.example missing', '* k1', 'example.net k1 user@example.net'].join('\n'), 'refile');
  const plan = planImport(keys, rules);
  t.deepEqual(plan.keys.map((k) => [k.entry.name, k.domain, k.rules]), [['k1', 'example.org', [1, 3, 4]], ['shared', 'a.example', [5]], ['shared', 'b.example', [6]]]);
  t.deepEqual(plan.signingDomains, { 'alias.example': 'example.org' });
  t.deepEqual(plan.subdomainSigning, ['example.org']);
  const notes = plan.notes.join('\n');
  t.regex(notes, /line 2 .*already matched SigningTable line 1/);
  t.regex(notes, /line 7 .*subdomains of c\.example signed as each subdomain itself: not carried over/);
  t.regex(notes, /line 8 .*no KeyTable entry named missing/);
  t.regex(notes, /line 9 .*catch-all/);
  t.regex(notes, /line 10 .*matches none/);
  t.regex(notes, /KeyTable line 2 \(k2\): no SigningTable rule uses it/);
  t.regex(notes, /KeyTable line 4 \(unused\)/);
  // Key name "%": the KeyTable's names are the domains.
  const byDomain = planImport(parseKeyTable('example.org example.org:mail:/k/1'), parseSigningTable('*@example.org %', 'refile'));
  t.deepEqual(byDomain.keys.map((k) => k.domain), ['example.org']);
  // No SigningTable: every entry, except % ones (they need to know the domain).
  const bare = planImport(keys, undefined);
  t.deepEqual(bare.keys.map((k) => k.entry.name), ['k1', 'k2', 'unused']);
  t.regex(bare.notes.join(), /"%"/);
  // The signer (second value, i=) is not carried over, and says so.
  const signer = planImport(parseKeyTable('k example.org:s:/k'), parseSigningTable('*@example.org k user@example.org', 'refile'));
  t.regex(signer.notes.join(), /signer user@example\.org \(i=\) is not carried over/);
});

test('a served record serves the key when it names the same key for email and sha256, whatever its other tags', (t) => {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const p = publicKeyData(publicKey);
  t.true(recordServesKey(dkimRecordForKey('rsa-sha256', pem), 'rsa-sha256', pem));
  t.true(recordServesKey(`v=DKIM1; h=sha256; k=rsa; p=${p}`, 'rsa-sha256', pem), 'opendkim-genkey\'s record');
  t.true(recordServesKey(`k=rsa; t=y; p=${p.slice(0, 40)} ${p.slice(40)}`, 'rsa-sha256', pem), 'folded p=, testing flag');
  t.false(recordServesKey(`v=DKIM1; h=sha1; k=rsa; p=${p}`, 'rsa-sha256', pem), 'sha1 only: our signatures would fail');
  t.false(recordServesKey(`v=DKIM1; k=rsa; s=other; p=${p}`, 'rsa-sha256', pem), 'not for email');
  t.false(recordServesKey('v=DKIM1; k=rsa; p=', 'rsa-sha256', pem), 'revoked');
  const other = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
  t.false(recordServesKey(`v=DKIM1; k=rsa; p=${publicKeyData(other)}`, 'rsa-sha256', pem), 'another key');
  t.false(recordServesKey(`v=DKIM1; k=ed25519; p=${p}`, 'rsa-sha256', pem));
});

test('fuzz: mutated KeyTables and SigningTables parse or fail with a KeystoreError naming the line (bounded)', (t) => {
  const seeds = [
    'mail._domainkey.example.org example.org:mail:/etc/opendkim/keys/example.org/mail.private\n# c\nk2 %:default:./k/%.private\n',
    '*@example.org mail._domainkey.example.org\n*@*.example.org k2 user@example.org\n* k3\n.example.net k4\n',
  ];
  const seed = 7331;
  const next = mutator(seeds, prng(seed), { alphabet: '*@%:.#/ \t\r\n-_=!a0\x00\xff', maxLength: 2048 });
  const started = Date.now();
  let n = 0;
  for (; n < 3000 && Date.now() - started < 5000; n++) {
    const input = next();
    for (const parse of [() => parseKeyTable(input), () => parseSigningTable(input, 'refile'), () => parseSigningTable(input, 'file')]) {
      try {
        const out = parse();
        if (!Array.isArray(out)) t.fail(`seed ${seed}: not a list for ${JSON.stringify(input)}`);
      } catch (err) {
        if (!(err instanceof KeystoreError) || !/line \d+/.test(err.message)) t.fail(`seed ${seed}: ${String(err)} for ${JSON.stringify(input)}`);
      }
    }
    try {
      planImport(parseKeyTable(input), parseSigningTable(input, 'refile'));
    } catch (err) {
      if (!(err instanceof KeystoreError)) t.fail(`seed ${seed}: planImport threw ${String(err)}`);
    }
  }
  t.log(`${n} inputs`);
  t.true(n >= 100);
});
