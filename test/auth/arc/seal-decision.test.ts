/** Which mail is sealed: off by default; daemon, forwarding destination, recipient domain; one match seals the message. */
import test from 'ava';
import { arcSealSection, type ArcSealConfig } from '../../../src/auth/arc/config.ts';
import { sealDecision } from '../../../src/auth/arc/seal-decision.ts';

function config(v: Record<string, unknown>): ArcSealConfig {
  const issues: unknown[] = [];
  const c = arcSealSection({ domain: 'example.org', ...v }, 'inbound.arc_seal', issues as never);
  if (issues.length) throw new Error(JSON.stringify(issues));
  return c;
}

const on = config({ enabled: true, recipient_domains: ['lists.example.org', 'xn--bcher-kva.example'], daemons: ['LISTS'], forward_to: ['gmail.com', 'Someone@Example.NET'] });

test('off by default: nothing is sealed, whatever the envelope', (t) => {
  t.like(sealDecision(config({ recipient_domains: ['lists.example.org'] }), { recipients: ['a@lists.example.org'] }), { seal: false, because: 'ARC sealing is off' });
});

test('a recipient in a recipient domain or below it seals', (t) => {
  t.like(sealDecision(on, { recipients: ['dev@lists.example.org'] }), { seal: true });
  t.like(sealDecision(on, { recipients: ['dev@eu.lists.example.org'] }), { seal: true });
  t.like(sealDecision(on, { recipients: ['dev@badlists.example.org'] }), { seal: false });
  t.like(sealDecision(on, { recipients: ['dev@example.org'] }), { seal: false });
});

test('IDN recipients match in A-label form; case and a trailing dot do not matter', (t) => {
  t.like(sealDecision(on, { recipients: ['x@Bücher.example'] }), { seal: true });
  t.like(sealDecision(on, { recipients: ['<x@LISTS.EXAMPLE.ORG.>'] }), { seal: true });
});

test('forwarding destinations: a domain covers its subdomains, an address only itself', (t) => {
  t.like(sealDecision(on, { recipients: ['user@gmail.com'] }), { seal: true, because: 'recipient user@gmail.com is a forwarding destination (gmail.com)' });
  t.like(sealDecision(on, { recipients: ['user@mx.gmail.com'] }), { seal: true });
  t.like(sealDecision(on, { recipients: ['someone@example.net'] }), { seal: true });
  t.like(sealDecision(on, { recipients: ['SOMEONE@example.NET'] }), { seal: true });
  t.like(sealDecision(on, { recipients: ['other@example.net'] }), { seal: false });
});

test('the Postfix daemon name seals whatever the recipients', (t) => {
  t.like(sealDecision(on, { recipients: ['a@elsewhere.test'], daemonName: 'LISTS' }), { seal: true, because: 'received by LISTS' });
  t.like(sealDecision(on, { recipients: ['a@elsewhere.test'], daemonName: 'lists' }), { seal: false });
});

test('one matching recipient among several seals the message; none does not; odd addresses are skipped', (t) => {
  t.like(sealDecision(on, { recipients: ['a@elsewhere.test', 'postmaster', 'b@lists.example.org'] }), { seal: true });
  t.like(sealDecision(on, { recipients: ['a@elsewhere.test', 'postmaster', 'c@@'] }), { seal: false });
  t.like(sealDecision(on, { recipients: [] }), { seal: false });
});
