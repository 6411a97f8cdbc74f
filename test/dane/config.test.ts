import test from 'ava';
import { decodeConfig } from '../../src/config/load.ts';
import { siteZone } from '../../src/dane/config.ts';

test('dane section: defaults, a site with derived zone, and key errors with paths', (t) => {
  const d = decodeConfig({});
  t.deepEqual(d.issues, []);
  t.is(d.config.dane.state_dir, '/var/lib/mailanchor/dane');
  t.deepEqual(d.config.dane.sites, []);
  const s = decodeConfig({ dane: { sites: [{ host: 'MX.Example.org.', cert_files: ['/a.pem'], ttl: '10m' }] } });
  t.deepEqual(s.issues, []);
  const site = s.config.dane.sites[0]!;
  t.is(site.host, 'mx.example.org');
  t.is(site.port, 25);
  t.is(site.ttl, 600_000);
  t.is(siteZone(site), 'example.org');
  const bad = decodeConfig({ dane: { sites: [{ port: 70000, records: 'all', colour: 1 }] } });
  t.deepEqual(bad.issues.map((i) => i.path).sort(), ['dane.sites[0].colour', 'dane.sites[0].host', 'dane.sites[0].port', 'dane.sites[0].records']);
});
