/**
 * Issue 16's second crash path, found by fuzzing at the wire: EOH and EOM sent again after
 * EOM while the message's DMARC lookup is answered REFUSED (slowly). They were handed to the
 * filter, whose per-message work then ran twice and left a rejection unhandled. Through the
 * real milter process: 20 times the late EOH is refused (that session closes), the process
 * stays up, and a good session completes after them.
 */
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHostileDns, type HostileDns } from '../../attack/hostile-dns.ts';
import { goodSession } from '../../attack/milter-fuzz.ts';
import { encodeFrame } from '../../src/milter/codec.ts';
import { SMFIC } from '../../src/milter/constants.ts';
import { MilterClient } from '../../src/milter/mta-client.ts';
import { startMilterProcess, type MilterProcess } from '../support/milter-process.ts';

let dir = '';
let dns: HostileDns;
let milter: MilterProcess;

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-late-eoh-'));
  dns = await startHostileDns({
    zone: { 'refused.test': { TXT: ['v=spf1 ip4:192.0.2.10 -all'] }, 'good.test': { TXT: ['v=spf1 ip4:192.0.2.10 -all'] }, '_dmarc.good.test': { TXT: ['v=DMARC1; p=reject'] } },
    rules: [{ name: /^_dmarc\.(.*\.)?refused\.test$|^_dmarc\.test$/, delayMs: 150, fault: { kind: 'rcode', rcode: 'REFUSED' } }],
  });
  const config = join(dir, 'c.yml');
  await writeFile(config, ['store:', `  path: ${join(dir, 's.db')}`, 'dns:', '  timeout: 1s', '  attempts: 1', 'inbound:', '  authserv_id: mx.anchor.test', '  iprev: false', 'log:', '  format: json', ''].join('\n'));
  milter = await startMilterProcess(['--config', config, '--dns', `${dns.server.host}:${dns.server.port}`]);
});
test.after.always(async () => {
  await milter?.stop();
  await dns?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('EOH + EOM again after EOM, pipelined while DMARC is REFUSED: refused 20 times, the milter stays up, a good session completes', async (t) => {
  for (let i = 0; i < 20; i++) {
    const c = await MilterClient.connect(`inet:127.0.0.1:${milter.port}`);
    await c.negotiate();
    c.macros(SMFIC.CONNECT, { j: 'mx.anchor.test' });
    await c.connectInfo('client.test', '4', 25, '192.0.2.10');
    await c.helo('client.test');
    await c.mailFrom(`a${i}@refused.test`);
    await c.rcptTo('b@anchor.test');
    await c.header('From', ` <a${i}@refused.test>`);
    await c.endOfHeaders();
    await c.body(Buffer.from('hello\r\n'));
    // End of message, and at once (before its reply) the late EOH and EOM of the finding.
    c.writeRaw(Buffer.concat([encodeFrame(SMFIC.BODYEOB), encodeFrame(SMFIC.EOH), encodeFrame(SMFIC.BODYEOB)]));
    await c.closed();
    c.destroy();
  }
  await new Promise((r) => setTimeout(r, 500));
  t.is(milter.child.exitCode, null, 'the milter process is alive');
  t.true(await goodSession(`inet:127.0.0.1:${milter.port}`));
  const refusals = milter.output().split('\n').filter((l) => l.includes('"code":"unexpected-command"') && l.includes('EOH outside a message'));
  t.is(refusals.length, 20);
  t.notRegex(milter.output(), /error no code caught|filter failed/);
});
