/**
 * The DMARC correction (issue 16): mailauth hands DMARC only the identities that passed, so
 * a sender whose SPF lookup SERVFAILed gets `dmarc=fail` — and a 550 for a transient DNS
 * fault. A fail stands only when every check that could have produced an aligned pass
 * reached a final result; otherwise the result is temperror (RFC 9989 §9.1). A stranger's
 * DNS failure must not turn a real fail into a temperror (that would let a spoofer dodge
 * p=reject with on_temperror: accept).
 */
import test from 'ava';
import { correctDmarc, type MailauthDkimRow, type MailauthResult } from '../../src/inbound/mailauth-result.ts';

type Dmarc = Exclude<MailauthResult['dmarc'], false>;
function dmarcFail(from: string, orgDomain: string, record: Record<string, string> = {}): Dmarc {
  const d: Dmarc = { status: { result: 'fail', header: { from } }, info: `dmarc=fail (p=REJECT arc=none) header.from=${from}`, policy: 'reject', domain: orgDomain };
  Object.defineProperty(d, 'record', { value: { v: 'DMARC1', p: 'reject', ...record }, enumerable: false });
  return d;
}
const spf = (domain: string, result: string): MailauthResult['spf'] => ({ domain, info: `spf=${result}`, status: { result } });
const dkim = (signingDomain: string, result: string): MailauthDkimRow => ({ signingDomain, info: `dkim=${result}`, status: { result } });

test('SPF temperror for the author domain, unsigned message: temperror, not fail', (t) => {
  const r = correctDmarc(dmarcFail('example.test', 'example.test'), { spf: spf('example.test', 'temperror'), dkim: [] });
  t.is(r?.result, 'temperror');
  t.regex(r!.info, /^dmarc=temperror \(spf \(example\.test\)[^)]*\) header\.from=example\.test$/);
});

test('SPF temperror for a subdomain of the organizational domain (relaxed): temperror', (t) => {
  t.is(correctDmarc(dmarcFail('news.example.test', 'example.test'), { spf: spf('bounce.example.test', 'temperror'), dkim: [] })?.result, 'temperror');
});

test("SPF temperror for another organization (a spoofer's own DNS): still fail", (t) => {
  t.is(correctDmarc(dmarcFail('paypal.test', 'paypal.test'), { spf: spf('evil.test', 'temperror'), dkim: [] })?.result, 'fail');
  t.is(correctDmarc(dmarcFail('paypal.test', 'paypal.test'), { spf: spf('paypal.test.evil.test', 'temperror'), dkim: [] })?.result, 'fail');
});

test('strict SPF alignment (aspf=s): only the author domain itself could align', (t) => {
  t.is(correctDmarc(dmarcFail('news.example.test', 'example.test', { aspf: 's' }), { spf: spf('bounce.example.test', 'temperror'), dkim: [] })?.result, 'fail');
  t.is(correctDmarc(dmarcFail('news.example.test', 'example.test', { aspf: 's' }), { spf: spf('news.example.test', 'temperror'), dkim: [] })?.result, 'temperror');
});

test('a DKIM key lookup that timed out on a signature that would align: temperror', (t) => {
  t.is(correctDmarc(dmarcFail('example.test', 'example.test'), { spf: spf('other.test', 'fail'), dkim: [dkim('example.test', 'temperror')] })?.result, 'temperror');
  t.is(correctDmarc(dmarcFail('example.test', 'example.test', { adkim: 's' }), { spf: false, dkim: [dkim('mail.example.test', 'temperror')] })?.result, 'fail');
});

test('a temperror on a signature that could never align changes nothing', (t) => {
  t.is(correctDmarc(dmarcFail('example.test', 'example.test'), { spf: spf('example.test', 'fail'), dkim: [dkim('list.test', 'temperror')] })?.result, 'fail');
});

test('final results everywhere: fail stays fail; pass and none are untouched', (t) => {
  t.is(correctDmarc(dmarcFail('example.test', 'example.test'), { spf: spf('example.test', 'fail'), dkim: [dkim('example.test', 'fail')] })?.result, 'fail');
  t.is(correctDmarc(dmarcFail('example.test', 'example.test'), { spf: spf('example.test', 'permerror'), dkim: [] })?.result, 'fail');
  const pass: Dmarc = { status: { result: 'pass', header: { from: 'example.test' } }, info: 'dmarc=pass', domain: 'example.test' };
  t.is(correctDmarc(pass, { spf: spf('example.test', 'temperror'), dkim: [] })?.result, 'pass');
  t.is(correctDmarc(false), undefined);
});
