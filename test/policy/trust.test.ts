import test from 'ava';
import { compileNetworks } from '../../src/policy/networks.ts';
import { decideTrust } from '../../src/policy/trust.ts';

const policy = { trustedNetworks: compileNetworks(['127.0.0.0/8', '::1/128', '2001:db8::/32']), trustedDaemons: new Set(['ORIGINATING']) };

test('SASL authentication makes mail ours, wherever it comes from', (t) => {
  t.deepEqual(decideTrust({ authAuthen: 'alice', clientIp: '203.0.113.9', daemonName: 'smtpd' }, policy), { kind: 'ours', reason: 'authenticated' });
});
test('a trusted network makes mail ours (IPv4, IPv6, IPv4-mapped)', (t) => {
  t.is(decideTrust({ authAuthen: undefined, clientIp: '127.0.0.1', daemonName: undefined }, policy).kind, 'ours');
  t.is(decideTrust({ authAuthen: undefined, clientIp: '2001:db8::25', daemonName: undefined }, policy).kind, 'ours');
  t.is(decideTrust({ authAuthen: undefined, clientIp: '::ffff:127.0.0.2', daemonName: undefined }, policy).kind, 'ours');
});
test('a trusted daemon name makes mail ours', (t) => {
  t.deepEqual(decideTrust({ authAuthen: undefined, clientIp: '203.0.113.9', daemonName: 'ORIGINATING' }, policy), { kind: 'ours', reason: 'trusted-daemon' });
});
test('everything else is from the internet', (t) => {
  t.is(decideTrust({ authAuthen: '', clientIp: '203.0.113.9', daemonName: 'smtpd' }, policy).kind, 'internet');
  t.is(decideTrust({ authAuthen: undefined, clientIp: undefined, daemonName: undefined }, policy).kind, 'internet');
  t.is(decideTrust({ authAuthen: undefined, clientIp: 'not-an-ip', daemonName: undefined }, policy).kind, 'internet');
});
