/** The `dns:` config section, resolv.conf parsing and `--dns` server parsing. */
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dnsSection, parseDnsServer, resolverOptions } from '../../src/dns/config.ts';
import { parseResolvConf, systemDnsServers } from '../../src/dns/resolv-conf.ts';
import type { ConfigIssue } from '../../src/config/schema.ts';
import { DnsError } from '../../src/dns/types.ts';

test('defaults: servers from resolv.conf (or 127.0.0.1), 2s, 2 attempts, 1h / 5m ceilings, 10000 entries', (t) => {
  const issues: ConfigIssue[] = [];
  const cfg = dnsSection({}, 'dns', issues);
  t.deepEqual(issues, []);
  t.deepEqual(cfg.servers, systemDnsServers());
  t.like(cfg, { timeout: 2000, attempts: 2, cache_max_ttl: 3_600_000, cache_min_ttl: 0, negative_cache_max_ttl: 300_000, cache_size: 10_000 });
  t.deepEqual(resolverOptions(cfg, { servers: [{ host: '::1', port: 5353 }] }), {
    servers: [{ host: '::1', port: 5353 }],
    timeoutMs: 2000,
    attempts: 2,
    maxTtlSec: 3600,
    minTtlSec: 0,
    negativeMaxTtlSec: 300,
    failureTtlSec: 0,
    maxEntries: 10_000,
  });
});

test('servers accept HOST, HOST:PORT, [v6]:PORT and bare v6; a scalar is a one-item list', (t) => {
  const issues: ConfigIssue[] = [];
  const cfg = dnsSection({ servers: ['192.0.2.1', '192.0.2.2:5353', '[2001:db8::1]:53', '::1'], timeout: '500ms', cache_max_ttl: '10m' }, 'dns', issues);
  t.deepEqual(issues, []);
  t.deepEqual(cfg.servers, [
    { host: '192.0.2.1', port: 53 },
    { host: '192.0.2.2', port: 5353 },
    { host: '2001:db8::1', port: 53 },
    { host: '::1', port: 53 },
  ]);
  t.is(cfg.timeout, 500);
  t.is(cfg.cache_max_ttl, 600_000);
  t.deepEqual(dnsSection({ servers: '127.0.0.1:53' }, 'dns', []).servers, [{ host: '127.0.0.1', port: 53 }]);
});

test('bad values are reported with their key', (t) => {
  const issues: ConfigIssue[] = [];
  dnsSection({ servers: ['1.2.3.4:99999', 'resolver.example'], attempts: 0, timeout: 'soon', cache_size: -1, typo: 1 }, 'dns', issues);
  t.deepEqual(issues.map((i) => i.path).sort(), ['dns.attempts', 'dns.cache_size', 'dns.servers[0]', 'dns.servers[1]', 'dns.timeout', 'dns.typo']);
  const empty: ConfigIssue[] = [];
  dnsSection({ servers: [] }, 'dns', empty);
  t.deepEqual(empty.map((i) => i.path), ['dns.servers']);
});

test('parseResolvConf: nameserver lines in order, comments and options ignored, invalid skipped', (t) => {
  const text = '# generated\nsearch example.org\nnameserver 192.0.2.53\nnameserver   2001:db8::53 # v6\n;nameserver 10.0.0.1\nnameserver not-an-ip\noptions edns0\nnameserver fe80::1%eth0\n';
  t.deepEqual(parseResolvConf(text), [
    { host: '192.0.2.53', port: 53 },
    { host: '2001:db8::53', port: 53 },
    { host: 'fe80::1%eth0', port: 53 },
  ]);
});

test('systemDnsServers falls back to 127.0.0.1 without usable nameservers', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'resolv-'));
  try {
    await writeFile(join(dir, 'resolv.conf'), 'search x\n');
    t.deepEqual(systemDnsServers(join(dir, 'resolv.conf')), [{ host: '127.0.0.1', port: 53 }]);
    t.deepEqual(systemDnsServers(join(dir, 'absent.conf')), [{ host: '127.0.0.1', port: 53 }]);
    await writeFile(join(dir, 'resolv.conf'), 'nameserver 192.0.2.9\n');
    t.deepEqual(systemDnsServers(join(dir, 'resolv.conf')), [{ host: '192.0.2.9', port: 53 }]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('parseDnsServer reads a --dns flag', (t) => {
  t.deepEqual(parseDnsServer('127.0.0.1:5300'), { host: '127.0.0.1', port: 5300 });
  t.deepEqual(parseDnsServer('[::1]:5300'), { host: '::1', port: 5300 });
  t.deepEqual(parseDnsServer('ns.example'), { host: 'ns.example', port: 53 });
  t.throws(() => parseDnsServer('1.2.3.4:x'), { instanceOf: DnsError });
});
