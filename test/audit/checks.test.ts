/**
 * The pure judgements, table-driven on hand-made observations: the cases the lab does not
 * plant (null MX, CNAME targets, +all, several records, redirects, unusable TLSA, MTA-STS
 * fetch results …). Each case names the check's status and what the detail must say.
 */
import test from 'ava';
import { judgeDane, type DaneHostObservation } from '../../src/audit/checks/dane.ts';
import { judgeDkim, type DkimKeyObservation } from '../../src/audit/checks/dkim.ts';
import { judgeDmarc } from '../../src/audit/checks/dmarc.ts';
import { judgeDmarcRua } from '../../src/audit/checks/dmarc-rua.ts';
import { judgeMtaSts, type MtaStsObservation } from '../../src/audit/checks/mta-sts.ts';
import { judgeMx, type MxObservation } from '../../src/audit/checks/mx.ts';
import { judgeNs } from '../../src/audit/checks/ns.ts';
import { judgePtr, type PtrObservation } from '../../src/audit/checks/ptr.ts';
import { judgeSpf, type SpfNode, type SpfObservation } from '../../src/audit/checks/spf.ts';
import { judgeTlsRpt } from '../../src/audit/checks/tls-rpt.ts';
import { worst, type CheckResult, type CheckStatus } from '../../src/audit/types.ts';
import type { ServerRef, ZoneServers } from '../../src/audit/zone-servers.ts';
import { parseDmarcRecord } from '../../src/auth/dmarc/record.ts';
import type { DmarcLookup } from '../../src/auth/dmarc/tree-walk.ts';
import { parseSpfRecord } from '../../src/auth/spf/record.ts';
import { dkimRecordForKey } from '../../src/keys/dkim-record.ts';
import { generateKey } from '../../src/keys/generate.ts';
import { generateKeyPairSync } from 'node:crypto';

const ok = <T>(value: T) => ({ ok: true as const, value });
const err = (error: string, code = 'TIMEOUT') => ({ ok: false as const, error, code });
const status = (rs: readonly CheckResult[]): CheckStatus => worst(rs.map((r) => r.status));
const text = (rs: readonly CheckResult[]) => rs.map((r) => `${r.status} ${r.subject}: ${r.detail} | ${r.fix ?? ''}`).join('\n');

test('mx', (t) => {
  const mx = (records: { exchange: string; priority: number }[], hosts: MxObservation['hosts'] = [], extra: Partial<MxObservation> = {}): MxObservation => ({ domain: 'd.example', mx: ok({ rcode: 'NOERROR' as const, records }), hosts, omitted: 0, ...extra });
  const host = (name: string, a: string[], aaaa: string[], cname?: string) => ({ name, priority: 10, a: ok(a), aaaa: ok(aaaa), ...(cname ? { cname } : {}) });
  const cases: [string, MxObservation, CheckStatus, RegExp][] = [
    ['null MX alone', mx([{ exchange: '', priority: 0 }]), 'ok', /accepts no mail/],
    ['null MX beside others', mx([{ exchange: '', priority: 0 }, { exchange: 'mx.d.example', priority: 10 }]), 'fail', /RFC 7505/],
    ['no MX, an A', mx([], [], { implicit: { a: ok(['192.0.2.1']), aaaa: ok([]) } }), 'warn', /implicit MX/],
    ['no MX, no address', mx([], [], { implicit: { a: ok([]), aaaa: ok([]) } }), 'fail', /cannot be delivered/],
    ['both families', mx([{ exchange: 'mx.d.example', priority: 10 }], [host('mx.d.example', ['192.0.2.1'], ['2001:db8::1'])]), 'ok', /A 192\.0\.2\.1; AAAA 2001:db8::1/],
    ['IPv4 only', mx([{ exchange: 'mx.d.example', priority: 10 }], [host('mx.d.example', ['192.0.2.1'], [])]), 'warn', /no IPv6/],
    ['no address', mx([{ exchange: 'mx.d.example', priority: 10 }], [host('mx.d.example', [], [])]), 'fail', /no A or AAAA/],
    ['CNAME target', mx([{ exchange: 'mail.d.example', priority: 10 }], [host('mail.d.example', ['192.0.2.1'], ['2001:db8::1'], 'real.d.example')]), 'warn', /RFC 2181 §10\.3/],
    ['address literal', mx([{ exchange: '192.0.2.1', priority: 10 }], [host('192.0.2.1', [], [])]), 'fail', /is an address/],
    ['lookup failed', { domain: 'd.example', mx: err('no reply'), hosts: [], omitted: 0 }, 'error', /MX lookup failed/],
  ];
  for (const [name, o, want, re] of cases) {
    const rs = judgeMx(o);
    t.is(status(rs), want, `${name}\n${text(rs)}`);
    t.regex(text(rs), re, name);
  }
});

test('ptr', (t) => {
  const p = (names: string[], forward: [string, string[]][], address = '2001:db8::25'): PtrObservation => ({ address, source: 'mx', host: 'mx.d.example', reverseName: 'x.ip6.arpa', ptr: ok({ rcode: 'NOERROR' as const, names }), forward: forward.map(([name, a]) => ({ name, addresses: ok(a) })) });
  t.is(status(judgePtr([p(['mx.d.example'], [['mx.d.example', ['2001:db8::25']]])])), 'ok');
  t.regex(text(judgePtr([p([], [])])), /^fail .*no PTR record for 2001:db8::25 — Gmail rejects/);
  t.regex(text(judgePtr([p(['other.example'], [['other.example', ['2001:db8::99']]])])), /^fail .*does not resolve back/);
  t.is(status(judgePtr([p(['a.example', 'mx.d.example'], [['a.example', []], ['mx.d.example', ['2001:db8::25']]])])), 'warn');
  t.is(status(judgePtr([{ ...p([], []), ptr: err('SERVFAIL', 'SERVFAIL') }])), 'error');
});

function spfNode(domain: string, texts: string[], children: SpfNode[] = [], via = ''): SpfNode {
  const parsed = texts.length === 1 ? parseSpfRecord(texts[0]!) : undefined;
  return { domain, via, lookup: ok({ rcode: 'NOERROR' as const, texts }), ...(parsed ? { parsed } : {}), children };
}
const spf = (root: SpfNode, extra: Partial<SpfObservation> = {}): SpfObservation => ({ domain: 'd.example', root, lookups: 1, voidLookups: 0, voids: [], macroTerms: [], loops: [], truncated: false, sending: [], limits: { lookups: 10, voidLookups: 2 }, ...extra });

test('spf', (t) => {
  const cases: [string, SpfObservation, CheckStatus, RegExp][] = [
    ['-all', spf(spfNode('d.example', ['v=spf1 mx -all'])), 'ok', /ends -all/],
    ['~all', spf(spfNode('d.example', ['v=spf1 mx ~all'])), 'ok', /ends ~all/],
    ['+all', spf(spfNode('d.example', ['v=spf1 +all'])), 'fail', /every host on the Internet/],
    ['?all', spf(spfNode('d.example', ['v=spf1 mx ?all'])), 'warn', /neutral/],
    ['no all', spf(spfNode('d.example', ['v=spf1 mx'])), 'warn', /no all mechanism/],
    ['two records', spf(spfNode('d.example', ['v=spf1 -all', 'v=spf1 mx -all'])), 'fail', /2 SPF records/],
    ['none', spf(spfNode('d.example', [])), 'fail', /no SPF record/],
    ['syntax', spf(spfNode('d.example', ['v=spf1 mx:/33 -all'])), 'fail', /syntax error/],
    ['unknown mechanism', spf(spfNode('d.example', ['v=spf1 foo -all'])), 'fail', /unknown mechanism/],
    ['too many voids', spf(spfNode('d.example', ['v=spf1 a:x.example a:y.example a:z.example -all']), { voidLookups: 3, voids: ['a:x', 'a:y', 'a:z'] }), 'fail', /3 void lookups/],
    ['ptr', spf(spfNode('d.example', ['v=spf1 ptr -all'])), 'warn', /SHOULD NOT/],
    ['include without record', spf(spfNode('d.example', ['v=spf1 include:gone.example -all'], [spfNode('gone.example', [], [], 'include:gone.example')])), 'fail', /permerror for every receiver/],
    ['redirect to -all', spf(spfNode('d.example', ['v=spf1 redirect=_spf.example'], [spfNode('_spf.example', ['v=spf1 mx -all'], [], 'redirect=_spf.example')])), 'ok', /ends -all/],
  ];
  for (const [name, o, want, re] of cases) {
    const rs = judgeSpf(o);
    t.is(status(rs), want, `${name}\n${text(rs)}`);
    t.regex(text(rs), re, name);
  }
  const sending = judgeSpf(spf(spfNode('d.example', ['v=spf1 mx -all']), { sending: [{ address: '192.0.2.7', check: { result: 'fail', scope: 'mfrom', domain: 'd.example', identity: 'postmaster@d.example', reason: '-all matched', lookups: 1, voidLookups: 0 } }] }));
  t.is(status(sending), 'fail');
  t.regex(text(sending), /"v=spf1 mx ip4:192\.0\.2\.7 -all"/, 'the fix is the record with our address added');
});

function walk(first: DmarcLookup, ...rest: [string, DmarcLookup][]) {
  return { start: 'd.example', steps: [{ domain: 'd.example', lookup: first }, ...rest.map(([domain, lookup]) => ({ domain, lookup }))] };
}
const rec = (txt: string): DmarcLookup => ({ kind: 'record', record: parseDmarcRecord(txt)! });

test('dmarc', (t) => {
  const cases: [string, Parameters<typeof judgeDmarc>[0], CheckStatus, RegExp][] = [
    ['reject', { domain: 'd.example', walk: walk(rec('v=DMARC1; p=reject; rua=mailto:r@d.example')), ownTexts: ['v=DMARC1; p=reject; rua=mailto:r@d.example'] }, 'ok', /p=reject/],
    ['none', { domain: 'd.example', walk: walk(rec('v=DMARC1; p=none; rua=mailto:r@d.example')), ownTexts: ['v=DMARC1; p=none; rua=mailto:r@d.example'] }, 'warn', /monitoring only/],
    ['testing', { domain: 'd.example', walk: walk(rec('v=DMARC1; p=reject; t=y; rua=mailto:r@d.example')), ownTexts: ['v=DMARC1; p=reject; t=y; rua=mailto:r@d.example'] }, 'warn', /t=y/],
    ['invalid p', { domain: 'd.example', walk: walk(rec('v=DMARC1; p=rejected; rua=mailto:r@d.example')), ownTexts: ['v=DMARC1; p=rejected; rua=mailto:r@d.example'] }, 'fail', /p= has an invalid value/],
    ['pct removed', { domain: 'd.example', walk: walk(rec('v=DMARC1; p=reject; pct=50; rua=mailto:r@d.example')), ownTexts: ['v=DMARC1; p=reject; pct=50; rua=mailto:r@d.example'] }, 'warn', /removed in RFC 9989/],
    ['np weaker', { domain: 'd.example', walk: walk(rec('v=DMARC1; p=reject; np=none; rua=mailto:r@d.example')), ownTexts: ['v=DMARC1; p=reject; np=none; rua=mailto:r@d.example'] }, 'warn', /np=none is weaker/],
    ['no rua', { domain: 'd.example', walk: walk(rec('v=DMARC1; p=reject')), ownTexts: ['v=DMARC1; p=reject'] }, 'warn', /no rua/],
    ['several', { domain: 'd.example', walk: walk({ kind: 'none', detail: 'several-records' }), ownTexts: ['v=DMARC1; p=none', 'v=DMARC1; p=reject'] }, 'fail', /2 DMARC records/],
    ['inherited', { domain: 'd.example', walk: walk({ kind: 'none', detail: 'nxdomain' }, ['example', rec('v=DMARC1; p=reject; psd=n')]), ownTexts: [] }, 'warn', /receivers apply example's/],
    ['none anywhere', { domain: 'd.example', walk: walk({ kind: 'none', detail: 'nxdomain' }, ['example', { kind: 'none', detail: 'nxdomain' }]), ownTexts: [] }, 'fail', /no DMARC record/],
    ['lookup failed', { domain: 'd.example', walk: walk({ kind: 'error', code: 'TIMEOUT', message: 'no reply' }), ownTexts: [] }, 'error', /lookup failed/],
  ];
  for (const [name, o, want, re] of cases) {
    const rs = judgeDmarc(o);
    t.is(status(rs), want, `${name}\n${text(rs)}`);
    t.regex(text(rs), re, name);
  }
});

test('dmarc-rua', (t) => {
  t.regex(text(judgeDmarcRua('d.example', [{ tag: 'rua', uri: 'https://r.example/', destination: 'unsupported URI scheme in https://r.example/ (only mailto:)' }])), /^fail .*unsupported URI scheme/);
  const dest = { uri: 'mailto:r@x.example', address: 'r@x.example', domain: 'x.example' };
  t.is(status(judgeDmarcRua('d.example', [{ tag: 'rua', uri: dest.uri, destination: dest, verification: { kind: 'temporary', name: 'd.example._report._dmarc.x.example', reason: 'DNS TIMEOUT' } }])), 'error');
  t.is(status(judgeDmarcRua('d.example', [{ tag: 'ruf', uri: dest.uri, destination: dest, verification: { kind: 'refused', name: 'd.example._report._dmarc.x.example', reason: 'no TXT' } }])), 'fail');
  t.is(status(judgeDmarcRua('d.example', undefined)), 'ok');
});

test('dkim', (t) => {
  const now = Date.UTC(2026, 11, 1);
  const k2048 = generateKey('rsa-sha256', 2048);
  const value = dkimRecordForKey('rsa-sha256', k2048.publicKeyPem);
  const key = (o: Partial<DkimKeyObservation>): DkimKeyObservation => ({
    selector: 's1',
    source: 'keystore',
    algorithm: 'rsa-sha256',
    state: 'active',
    stateSince: now - 10 * 86_400_000,
    name: 's1._domainkey.d.example',
    expected: { value, name: 's1._domainkey.d.example', record: `s1._domainkey.d.example. IN TXT "${value}"` },
    published: ok({ texts: [value], cnameChain: [] }),
    servers: [{ server: 'ns1', status: 'match' }, { server: 'ns2', status: 'match' }],
    ...o,
  });
  const judge = (k: DkimKeyObservation) => judgeDkim({ domain: 'd.example', keys: [k], policy: { lifetimeMs: 182 * 86_400_000, ttlMs: 3_600_000, ttlMarginMs: 600_000 } }, now);
  t.is(status(judge(key({}))), 'ok');
  t.regex(text(judge(key({ published: ok({ texts: [], cnameChain: [] }) }))), /^fail .*not published/);
  t.regex(text(judge(key({ servers: [{ server: 'ns1', status: 'match' }, { server: 'ns2', status: 'missing', detail: 'not served' }] }))), /^fail .*not served by every authoritative server \(ns2: not served\)/);
  t.is(status(judge(key({ state: 'published', stateSince: now - 3_600_000, servers: [{ server: 'ns1', status: 'match' }, { server: 'ns2', status: 'missing' }] }))), 'ok', 'a pending key not yet everywhere is the normal wait');
  t.regex(text(judge(key({ stateSince: now - 400 * 86_400_000 }))), /^warn .*beyond the rotation lifetime/);
  const other = dkimRecordForKey('rsa-sha256', generateKey('rsa-sha256', 2048).publicKeyPem);
  t.regex(text(judge(key({ published: ok({ texts: [other], cnameChain: [] }) }))), /^fail .*different key/);
  const tiny = generateKeyPairSync('rsa', { modulusLength: 512 }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  t.regex(text(judge(key({ source: 'option', state: undefined, expected: undefined, published: ok({ texts: [`v=DKIM1; k=rsa; p=${tiny}`], cnameChain: [] }) } as unknown as Partial<DkimKeyObservation>))), /^fail .*512 bits/);
  t.regex(text(judge(key({ published: ok({ texts: ['v=DKIM1; k=rsa; p='], cnameChain: [] }) }))), /^fail .*revoked/);
  t.regex(text(judgeDkim({ domain: 'd.example', keys: [], policy: { lifetimeMs: 1, ttlMs: 1, ttlMarginMs: 1 } }, now)), /^warn .*no DKIM selector known/);
  t.is(status(judgeDkim({ domain: 'd.example', keys: [], policy: { lifetimeMs: 1, ttlMs: 1, ttlMarginMs: 1 }, keystoreError: 'permission denied' }, now)), 'error');
  const dual = judgeDkim({ domain: 'd.example', keys: [key({})], policy: { lifetimeMs: 182 * 86_400_000, ttlMs: 3_600_000, ttlMarginMs: 600_000 }, algorithms: ['rsa-sha256', 'ed25519-sha256'] }, now);
  t.regex(text(dual), /^warn .*no active ed25519-sha256 key/m, 'dual signing configured, one algorithm without an active key');
});

test('dane', (t) => {
  const tlsa = (records: { usage: number; selector: number; matchingType: number; data: Buffer }[], signed = true) => ok({ rcode: 'NOERROR' as const, records, signed });
  const host = (o: Partial<DaneHostObservation>): DaneHostObservation => ({ host: 'mx.d.example', owner: '_25._tcp.mx.d.example', tlsa: tlsa([]), validation: ok({ authenticated: true }), zoneSigned: ok(true), ...o });
  const judge = (h: DaneHostObservation) => judgeDane({ domain: 'd.example', hosts: [h] }, Date.now());
  const ee = { usage: 3, selector: 1, matchingType: 1, data: Buffer.alloc(32, 1) };
  const next = { usage: 3, selector: 1, matchingType: 1, data: Buffer.alloc(32, 2) };
  t.regex(text(judge(host({ zoneSigned: ok(false) }))), /^warn .*not signed: DANE needs DNSSEC/);
  t.regex(text(judge(host({}))), /^warn .*no TLSA records/);
  t.regex(text(judge(host({ tlsa: tlsa([ee, next]), validation: err('SERVFAIL', 'SERVFAIL') }))), /^fail .*bogus DNSSEC/);
  t.regex(text(judge(host({ tlsa: tlsa([ee, next]), zoneSigned: ok(false), validation: ok({ authenticated: false }) }))), /^fail .*unsigned zone/);
  t.regex(text(judge(host({ tlsa: tlsa([{ ...ee, usage: 1 }, { ...next, usage: 1 }]) }))), /^fail .*only PKIX usages/);
  t.regex(text(judge(host({ tlsa: tlsa([ee]) }))), /^warn .*no next-key record/);
  t.is(status(judge(host({ tlsa: tlsa([ee, next]) }))), 'ok', 'two 3 1 1 keys: a rollover scheme');
  t.regex(text(judge(host({ tlsa: tlsa([ee, next]), known: { chains: [], next: [{ ...next, data: Buffer.alloc(32, 3) }], errors: [] } }))), /^warn .*next certificate .* not published yet/);
  t.regex(text(judge(host({ tlsa: tlsa([ee, next]), presented: [{ address: '192.0.2.25', chains: err('connect ECONNREFUSED', 'UNREACHABLE') }] }))), /^error .*STARTTLS probe failed/);
  t.is(status(judgeDane({ domain: 'd.example', hosts: [], noMx: 'null MX' }, Date.now())), 'ok');
});

test('mta-sts and tls-rpt', (t) => {
  const base = (o: Partial<MtaStsObservation>): MtaStsObservation => ({ domain: 'd.example', txt: ok(['v=STSv1; id=1']), mxHosts: ['mx1.d.example'], ...o });
  const fetched = (fetch: Record<string, unknown>, sha256 = 'aa') => ({ policy: ok({ address: '192.0.2.44', fetch: { kind: 'response' as const, status: 200, contentType: 'text/plain', ...fetch }, sha256 }) });
  const body = (mode: string, mx: string, maxAge = 604800) => `version: STSv1\nmode: ${mode}\nmx: ${mx}\nmax_age: ${maxAge}\n`;
  const cases: [string, MtaStsObservation, CheckStatus, RegExp][] = [
    ['no record', base({ txt: ok([]) }), 'warn', /no MTA-STS record/],
    ['two records', base({ txt: ok(['v=STSv1; id=1', 'v=STSv1; id=2']) }), 'fail', /2 v=STSv1 records/],
    ['bad id', base({ txt: ok(['v=STSv1; id=not-valid']) }), 'fail', /invalid record/],
    ['record only', base({}), 'ok', /fetched with --connect/],
    ['enforce covers', base(fetched({ body: body('enforce', '*.d.example') })), 'ok', /covers 1 MX host/],
    ['redirect', base(fetched({ status: 301, location: 'https://elsewhere/' })), 'fail', /redirect .*must not follow/],
    ['404', base(fetched({ status: 404 })), 'fail', /HTTP 404/],
    ['content type', base(fetched({ contentType: 'text/html', body: body('enforce', '*.d.example') })), 'fail', /must be text\/plain/],
    ['certificate', base(fetched({ certificateError: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' })), 'fail', /not valid/],
    ['too large', base(fetched({ tooLarge: true })), 'fail', /64 KB/],
    ['testing', base(fetched({ body: body('testing', '*.d.example') })), 'warn', /mode: testing/],
    ['short max_age', base(fetched({ body: body('enforce', '*.d.example', 3600) })), 'warn', /is short/],
    ['mx not covered, enforce', base(fetched({ body: body('enforce', 'other.d.example') })), 'fail', /matched by no mx: pattern/],
    ['two labels under the wildcard', base({ ...fetched({ body: body('enforce', '*.d.example') }), mxHosts: ['a.mx.d.example'] }), 'fail', /"\*\." is one label/],
    ['changed without new id', base({ ...fetched({ body: body('enforce', '*.d.example') }, 'bb'), previous: { id: '1', sha256: 'aa', seenAt: '2026-11-30T00:00:00Z' } }), 'fail', /changed since .* but id=1 did not/],
    ['unreachable', base({ policy: ok({ address: '192.0.2.44', fetch: { kind: 'unreachable' as const, reason: 'ECONNREFUSED' } }) }), 'error', /fetch .* failed/],
  ];
  for (const [name, o, want, re] of cases) {
    const rs = judgeMtaSts(o);
    t.is(status(rs), want, `${name}\n${text(rs)}`);
    t.regex(text(rs), re, name);
  }
  t.is(status(judgeTlsRpt({ domain: 'd.example', txt: ok(['v=TLSRPTv1; rua=mailto:t@d.example']) })), 'ok');
  t.is(status(judgeTlsRpt({ domain: 'd.example', txt: ok([]) })), 'warn');
  t.is(status(judgeTlsRpt({ domain: 'd.example', txt: ok(['v=TLSRPTv1; rua=mailto:a@d.example', 'v=TLSRPTv1; rua=mailto:b@d.example']) })), 'fail');
  t.is(status(judgeTlsRpt({ domain: 'd.example', txt: ok(['v=TLSRPTv1; rua=ftp://x']) })), 'fail');
});

test('ns: delegation mismatch, missing IPv6, lame, refused, servers that disagree', (t) => {
  const s = (nameserver: string, host: string): ServerRef => ({ address: { host, port: 53 }, label: `${nameserver} [${host}]`, nameserver, family: host.includes(':') ? 6 : 4 });
  const s1 = s('ns1.d.example', '192.0.2.1');
  const s2 = s('ns2.d.example', '192.0.2.2');
  const zone = (o: Partial<ZoneServers>): ZoneServers => ({
    zone: 'd.example',
    parent: 'example',
    delegation: ok({ ns: ['ns1.d.example', 'ns2.d.example'], server: 'a.example [192.0.2.53]' }),
    ds: ok({ records: [], rrsigs: [], server: 'a.example' }),
    zoneNs: ok({ ns: ['ns1.d.example', 'ns2.d.example'], server: s1.label }),
    nameservers: [
      { name: 'ns1.d.example', inDelegation: true, inZone: true, v4: ok(['192.0.2.1']), v6: ok(['2001:db8::1']) },
      { name: 'ns2.d.example', inDelegation: true, inZone: true, v4: ok(['192.0.2.2']), v6: ok(['2001:db8::2']) },
    ],
    servers: [s1, s2],
    soa: [
      { server: s1, soa: ok({ rcode: 'NOERROR', authoritative: true, serial: 5, referral: false }) },
      { server: s2, soa: ok({ rcode: 'NOERROR', authoritative: true, serial: 5, referral: false }) },
    ],
    preferred: [s1, s2],
    ...o,
  });
  const judge = (z: ZoneServers, rrsets: Parameters<typeof judgeNs>[0]['rrsets'] = []) => judgeNs({ domain: 'd.example', zone: ok(z), rrsets });
  t.is(status(judge(zone({}))), 'ok');
  t.regex(text(judge(zone({ zoneNs: ok({ ns: ['ns1.d.example', 'ns3.d.example'], server: s1.label }) }))), /^warn .*differ; only at the parent: ns2\.d\.example; only in the zone: ns3\.d\.example/);
  t.regex(text(judge(zone({ nameservers: [{ name: 'ns1.d.example', inDelegation: true, inZone: true, v4: ok(['192.0.2.1']), v6: ok([]) }] }))), /^warn ns1\.d\.example: no IPv6 address/);
  t.regex(text(judge(zone({ soa: [{ server: s1, soa: ok({ rcode: 'NOERROR', authoritative: true, serial: 5, referral: false }) }, { server: s2, soa: ok({ rcode: 'NOERROR', authoritative: false, referral: true }) }] }))), /^fail ns2\.d\.example \[192\.0\.2\.2\]: lame: refers the query elsewhere/);
  t.regex(text(judge(zone({ soa: [{ server: s1, soa: ok({ rcode: 'NOERROR', authoritative: true, serial: 5, referral: false }) }, { server: s2, soa: ok({ rcode: 'REFUSED', authoritative: false, referral: false }) }] }))), /^error .*answers REFUSED/);
  t.regex(text(judge(zone({ soa: [{ server: s1, soa: ok({ rcode: 'NOERROR', authoritative: true, serial: 4294967295, referral: false }) }, { server: s2, soa: ok({ rcode: 'NOERROR', authoritative: true, serial: 3, referral: false }) }] }))), /^warn ns1\.d\.example \[192\.0\.2\.1\]: lagging: SOA serial 4294967295, other servers serve 3/, 'RFC 1982: 3 is newer than 2^32-1');
  const disagree = judge(zone({}), [{ zone: 'd.example', name: 'd.example', type: 'MX', answers: [{ server: s1.label, answer: ok('10 mx.d.example') }, { server: s2.label, answer: ok('10 old.d.example') }] }]);
  t.regex(text(disagree), /^fail d\.example MX: the servers disagree/);
  t.is(status(judgeNs({ domain: 'd.example', zone: err('no zone', 'SERVFAIL'), rrsets: [] })), 'error');
});
