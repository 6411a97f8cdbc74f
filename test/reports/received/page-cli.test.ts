/**
 * The whole path a postmaster uses: a month of generated reports (gzip files, zip in mails,
 * an mbox) and a TLS report → `report import DIR` → `report page --html --json` with
 * reverse DNS from a real Knot DNS on loopback, the keystore holding the rotated selector
 * and the DANE rollover state with a TLSA change → the page in headless Chromium
 * (screenshot in test-output/report-page.png) and checks on its DOM: the numbers of sources
 * and the totals match the JSON, the explanations and the next step are on the page.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { run } from '../../../src/cli/report.ts';
import { stateFileFor } from '../../../src/dane/rollover-state.ts';
import { generateKey } from '../../../src/keys/generate.ts';
import type { Page } from '../../../src/reports/received/page.ts';
import { captureIo } from '../../support/cli-io.ts';
import { DAY, month, reportMail, reportXml } from '../../support/dmarc-reports.ts';
import { knotMissing, startKnot, type KnotServer } from '../../support/knot.ts';
import { openTestStore } from '../../support/store.ts';
import { makeZip } from '../zip-writer.ts';

const OUTPUT = new URL('../../../test-output/', import.meta.url).pathname;
const CHROMIUM = '/usr/bin/chromium';
const missing = knotMissing() ?? (existsSync(CHROMIUM) ? undefined : `${CHROMIUM} not installed`);
const it = missing ? test.serial.skip : test.serial;
if (missing) test.skip(`report page end to end: ${missing}`, () => {});

const NOW = Date.now();
const START = Math.floor(NOW / 1000 / DAY) * DAY - 30 * DAY; // the last 30 whole days
const ROTATE = 20;
let knot: KnotServer | undefined;
let dir = '';
let cfg = '';

function chromium(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(CHROMIUM, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...args], { timeout: 90_000, maxBuffer: 64 * 1024 * 1024 }, (_err, stdout, stderr) => resolve({ stdout, stderr })),
  );
}

test.before(async () => {
  if (missing) return;
  mkdirSync(OUTPUT, { recursive: true });
  knot = await startKnot({
    zones: [
      { name: '2.0.192.in-addr.arpa', records: '25 PTR mx.example.test.\n77 PTR mail.crm.test.\n' },
      { name: '113.0.203.in-addr.arpa', records: [10, 11, 12, 13].map((i) => `${i} PTR o${i}.mta.esp.test.`).join('\n') },
      { name: '100.51.198.in-addr.arpa', records: '5 PTR mx.example.test.\n' }, // a spoofer claiming a name it does not own
      { name: 'example.test', records: 'mx A 192.0.2.25\n' },
      { name: 'esp.test', records: [10, 11, 12, 13].map((i) => `o${i}.mta A 203.0.113.${i}`).join('\n') },
      { name: 'crm.test', records: 'mail A 192.0.2.77\n' },
    ],
  });
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-page-'));
  const inbox = join(dir, 'reports');
  mkdirSync(join(inbox, 'mail'), { recursive: true });
  const reports = month({ domain: 'example.test', start: START, days: 30, seed: 21, rotateOnDay: ROTATE, spoofers: 40 });
  let mbox = '';
  reports.forEach((r, i) => {
    const xml = Buffer.from(reportXml(r));
    if (i % 3 === 0) void writeFile(join(inbox, `${r.org}!${r.domain}!${r.begin}!${r.end}.xml.gz`), gzipSync(xml));
    else if (i % 3 === 1) void writeFile(join(inbox, 'mail', `${i}.eml`), reportMail(makeZip([{ name: `${r.reportId}.xml`, data: xml }]), `${r.reportId}.zip`, 'application/zip', `Report domain: ${r.domain}`));
    else mbox += `From dmarc ${new Date(r.end * 1000).toUTCString()}\n${reportMail(gzipSync(xml), `${r.reportId}.xml.gz`, 'application/gzip', `Report domain: ${r.domain}`).toString('latin1').replace(/\r\n/g, '\n')}\n`;
  });
  await writeFile(join(inbox, 'archive.mbox'), mbox, 'latin1');
  const iso = (s: number) => new Date(s * 1000).toISOString().replace('.000Z', 'Z');
  await writeFile(
    join(inbox, 'tls.json'),
    JSON.stringify({ 'organization-name': 'Google Inc.', 'date-range': { 'start-datetime': iso(START + 24 * DAY), 'end-datetime': iso(START + 25 * DAY - 1) }, 'contact-info': 'smtp-tls-reporting@google.com', 'report-id': 'tls-1', policies: [{ policy: { 'policy-type': 'tlsa', 'policy-string': ['3 1 1 bb'], 'policy-domain': 'example.test', 'mx-host': ['mx.example.test'] }, summary: { 'total-successful-session-count': 1200, 'total-failure-session-count': 14 }, 'failure-details': [{ 'result-type': 'tlsa-invalid', 'sending-mta-ip': '209.85.220.41', 'receiving-mx-hostname': 'mx.example.test', 'failed-session-count': 14 }] }] }),
  );
  // Our own history: the keystore (s2025 retired at the rotation) and the DANE state (a new TLSA record on day 24).
  const store = await openTestStore(join(dir, 'store.db'));
  try {
    const { privateKeyPem, publicKeyPem } = generateKey('ed25519-sha256');
    const k = { privateKeyPem, publicKeyPem };
    await store.keys.insert({ id: 'k1', domain: 'example.test', selector: 's2025', algorithm: 'ed25519-sha256', state: 'active', createdAt: (START - 100 * DAY) * 1000, ...k });
    await store.keys.insert({ id: 'k2', domain: 'example.test', selector: 's2026', algorithm: 'ed25519-sha256', state: 'published', createdAt: (START + 10 * DAY) * 1000, ...k });
    await store.keys.apply([{ id: 'k1', state: 'retired' }, { id: 'k2', state: 'active' }], (START + ROTATE * DAY) * 1000);
  } finally {
    await store.close();
  }
  const owner = '_25._tcp.mx.example.test';
  mkdirSync(join(dir, 'dane'), { recursive: true });
  await writeFile(stateFileFor(join(dir, 'dane'), owner), JSON.stringify({ owner, everywhereSince: { '3 1 1 bb': (START + 24 * DAY + 5 * 3600) * 1000 }, maxTtlSeen: 300 }));
  cfg = join(dir, 'mailanchor.yml');
  await writeFile(cfg, `store:\n  path: ${join(dir, 'store.db')}\ndns:\n  servers: [${knot.address}]\ndane:\n  state_dir: ${join(dir, 'dane')}\n  sites:\n    - host: mx.example.test\nreports:\n  domains: [example.test]\n  page:\n    max_sources_listed: 60\n`);
});

test.after.always(async () => {
  await knot?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('import, then the page from the history: text, JSON and a page that renders in Chromium with the right numbers', async (t) => {
  const imp = captureIo(dir);
  t.is(await run(['import', '--config', cfg, join(dir, 'reports')], imp), 0, imp.err());
  t.regex(imp.out(), /^151 report\(s\) stored, 0 already known$/m);
  const again = captureIo(dir);
  t.is(await run(['import', '--config', cfg, join(dir, 'reports')], again), 0);
  t.regex(again.out(), /^0 report\(s\) stored, 151 already known$/m, 'importing the same files again adds nothing');

  const html = join(OUTPUT, 'report-page.html');
  const json = join(dir, 'page.json');
  const io = captureIo(dir);
  const code = await run(['page', '--config', cfg, '--html', html, '--json', json], io);
  t.is(code, 0, io.err());
  t.log(io.out().split('\n').slice(0, 12).join('\n'));
  const page = JSON.parse(readFileSync(json, 'utf8')) as Page;
  const d = page.data.domains[0]!;
  t.is(d.domain, 'example.test');
  t.is(d.reports, 150);
  t.is(d.days.length, 30);
  t.is(page.reverseDns.lookedUp, page.reverseDns.sources);
  const orgOf = (ip: string) => d.orgs.find((g) => g.listed.some((s) => s.ip === ip))?.org;
  t.is(orgOf('192.0.2.25'), 'example.test');
  t.is(orgOf('203.0.113.10'), 'esp.test');
  t.is(orgOf('192.0.2.77'), 'crm.test');
  t.is(orgOf('198.51.100.5'), 'PTR not forward-confirmed');
  t.true(page.explanations.some((e) => e.kind === 'dkim-retired-selector'), JSON.stringify(page.explanations.map((e) => e.kind)));
  t.true(page.explanations.some((e) => e.kind === 'tls-tlsa-changed'));
  t.regex(io.out(), /Next step: /);
  t.is(d.listedCount, 60);
  t.true(d.sourceCount > 60);

  const png = join(OUTPUT, 'report-page.png');
  await rm(png, { force: true });
  const p1 = await mkdtemp(join(tmpdir(), 'mailanchor-chromium-'));
  const p2 = await mkdtemp(join(tmpdir(), 'mailanchor-chromium-'));
  try {
    const shot = await chromium([`--user-data-dir=${p1}`, `--screenshot=${png}`, '--window-size=1400,2000', `file://${html}`]);
    t.true(existsSync(png), `no screenshot: ${shot.stderr.slice(-800)}`);
    t.true(statSync(png).size > 50_000, `screenshot is only ${statSync(png).size} bytes`);
    const dom = (await chromium([`--user-data-dir=${p2}`, '--dump-dom', `file://${html}`])).stdout;
    const section = /<section class="domain" data-domain="example\.test" data-messages="(\d+)" data-sources-total="(\d+)" data-sources-listed="(\d+)" data-reports="(\d+)">/.exec(dom);
    t.truthy(section, 'the domain section is in the DOM');
    t.deepEqual(section!.slice(1).map(Number), [d.total.messages, d.sourceCount, d.listedCount, 150]);
    t.is((dom.match(/<tr class="source /g) ?? []).length, d.listedCount, 'one table row per listed source');
    t.true(dom.includes(`${d.listedCount} of ${d.sourceCount.toLocaleString('en-US')} sources listed`), 'honest count on the page');
    t.is((dom.match(/<g class="day" data-day=/g) ?? []).length, 30, 'one bar per day');
    t.regex(dom, /<div class="proposal step-[a-z-]+"><h3>Next step<\/h3>/);
    t.regex(dom, /Rotation: selector s2025 has been retired since/);
    t.regex(dom, /<tr data-mx="mx\.example\.test" data-type="tlsa-invalid">/);
    t.notRegex(dom, /<script|src="http|href="http/i, 'no scripts, no external assets');
  } finally {
    await Promise.all([rm(p1, { recursive: true, force: true }), rm(p2, { recursive: true, force: true })]);
  }
});

it('report read on the same files gives the same totals without a store; every input unusable exits 65', async (t) => {
  const io = captureIo(dir);
  const json = join(dir, 'read.json');
  t.is(await run(['read', '--config', cfg, '--no-dns', '--json', json, join(dir, 'reports')], io), 0, io.err());
  const page = JSON.parse(readFileSync(json, 'utf8')) as Page;
  t.is(page.data.domains[0]!.reports, 150);
  t.is(page.read.tlsReports, 1);
  await writeFile(join(dir, 'junk.xml'), '<html/>');
  const bad = captureIo(dir);
  t.is(await run(['read', '--config', cfg, '--no-dns', join(dir, 'junk.xml')], bad), 65);
  t.regex(bad.out(), /Skipped 1 input\(s\):\n {2}.*junk\.xml: XML whose root is <html>/);
});
