/**
 * `mailanchor audit` without a lab: on the example config with no DNS server reachable it
 * still gives a useful answer — every check of every configured domain, each an error with
 * its reason, exit 1 — fast and without crashing; and the usage errors exit 2.
 */
import test from 'ava';
import { createSocket } from 'node:dgram';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/cli/audit.ts';
import { main } from '../../src/cli/main.ts';
import { captureIo } from '../support/cli-io.ts';

const EXAMPLE = new URL('../../mailanchor.example.yml', import.meta.url).pathname;

/** A UDP port that answers nothing (bound, never replying): every query times out. */
async function blackHole(): Promise<{ port: number; close(): Promise<void> }> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  return { port: s.address().port, close: () => new Promise((r) => s.close(() => r())) };
}

test('--all on the example config with DNS down: every check reports error with the reason, exit 1, within the budget', async (t) => {
  const hole = await blackHole();
  const dir = await mkdtemp(join(tmpdir(), 'mailanchor-audit-cli-'));
  try {
    const io = captureIo();
    const started = Date.now();
    const html = join(dir, 'a.html');
    const code = await run(['--all', '--config', EXAMPLE, '--dns', `127.0.0.1:${hole.port}`, '--timeout', '8', '--json', '--store', join(dir, 'none.db')], io);
    t.is(code, 1, io.err());
    t.true(Date.now() - started < 12_000, `${Date.now() - started} ms`);
    const doc = JSON.parse(io.out()) as { domains: { domain: string; status: string; checks: { check: string; status: string; detail: string }[] }[] };
    t.deepEqual(doc.domains.map((d) => d.domain), ['example.org'], 'the zone of the example dane site');
    const checks = doc.domains[0]!.checks;
    for (const name of ['ns', 'dnssec', 'mx', 'ptr', 'spf', 'dmarc', 'dmarc-rua', 'dane', 'mta-sts', 'tls-rpt']) {
      const c = checks.filter((x) => x.check === name);
      t.true(c.length > 0 && c.every((x) => x.status === 'error' && /no reply|time budget/.test(x.detail)), `${name}: ${JSON.stringify(c)}`);
    }
    t.true(checks.some((c) => c.check === 'dkim' && c.status === 'warn' && /no DKIM selector known/.test(c.detail)));
    const page = await run(['example.org', '--config', EXAMPLE, '--dns', `127.0.0.1:${hole.port}`, '--timeout', '5', '--html', html, '--store', join(dir, 'none.db')], captureIo());
    t.is(page, 1);
    t.regex(await readFile(html, 'utf8'), /<table id="summary">/);
  } finally {
    await hole.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('usage errors exit 2 and say why; the command is registered in mailanchor', async (t) => {
  for (const [args, re] of [
    [[], /give DOMAIN arguments or --all/],
    [['x.example', '--json', '--html', '/tmp/x.html'], /alternatives/],
    [['x.example', '--concurrency', '0'], /--concurrency/],
    [['x.example', '--dns', 'not a server'], /invalid DNS server/],
    [['x.example', '--bogus'], /Unknown option/],
  ] as const) {
    const io = captureIo();
    t.is(await run([...args, '--config', EXAMPLE], io), 2, args.join(' '));
    t.regex(io.err(), re);
  }
  const help = captureIo();
  t.is(await main(['--help'], help), 0);
  t.regex(help.out(), /audit +domain audit/);
});
