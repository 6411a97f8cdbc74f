import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeConfig } from '../../src/config/load.ts';
import { metricsCollision, sameTcpAddress } from '../../src/config/listen-collision.ts';
import { parseListenSpec } from '../../src/config/schema.ts';
import { run } from '../../src/cli/milter.ts';
import { captureIo } from '../support/cli-io.ts';

test('same port on the same or a wildcard address collides; port 0 and other ports do not', (t) => {
  t.true(sameTcpAddress({ host: '127.0.0.1', port: 9465 }, { host: '127.0.0.1', port: 9465 }));
  t.true(sameTcpAddress({ host: '0.0.0.0', port: 9465 }, { host: '127.0.0.1', port: 9465 }));
  t.true(sameTcpAddress({ host: '::1', port: 9465 }, { host: '::', port: 9465 }));
  t.false(sameTcpAddress({ host: '127.0.0.1', port: 9465 }, { host: '127.0.0.2', port: 9465 }));
  t.false(sameTcpAddress({ host: '127.0.0.1', port: 9465 }, { host: '127.0.0.1', port: 9466 }));
  t.false(sameTcpAddress({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 0 }));
  t.is(metricsCollision([parseListenSpec('unix:/run/x.sock')!, parseListenSpec('inet:127.0.0.1:8891')!], { host: '127.0.0.1', port: 8891 }), 1);
  t.is(metricsCollision([parseListenSpec('inet:127.0.0.1:8891')!], undefined), undefined);
});

test('metrics.listen on a milter.listen address is a config error on metrics.listen', (t) => {
  const { issues } = decodeConfig({ milter: { listen: ['inet:0.0.0.0:8891'] }, metrics: { listen: '127.0.0.1:8891' } });
  t.deepEqual(issues, [{ path: 'metrics.listen', message: 'is also milter.listen[0]; the milter and the metrics endpoint need different ports' }]);
  t.deepEqual(decodeConfig({ metrics: { listen: '127.0.0.1:9465' } }).issues, []);
});

test('--listen onto metrics.listen is refused before anything binds, naming where each was set', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mailanchor-collide-'));
  try {
    const file = join(dir, 'mailanchor.yml');
    await writeFile(file, `metrics:\n  listen: 127.0.0.1:9465\nstore:\n  path: ${join(dir, 'm.db')}\n`);
    const io = captureIo();
    t.is(await run(['--config', file, '--listen', 'inet:127.0.0.1:9465'], io), 64);
    t.is(io.err(), `mailanchor milter: --listen inet:127.0.0.1:9465 is also metrics.listen in ${file}: choose another port, or --metrics-listen HOST:PORT|off\n`);
    const flags = captureIo();
    t.is(await run(['--config', file, '--listen', 'inet:127.0.0.1:9470', '--metrics-listen', '127.0.0.1:9470'], flags), 64);
    t.is(flags.err(), 'mailanchor milter: --listen inet:127.0.0.1:9470 is also --metrics-listen: choose another port, or --metrics-listen HOST:PORT|off\n');
    const bad = captureIo();
    t.is(await run(['--config', file, '--metrics-listen', 'nowhere:port'], bad), 64);
    t.regex(bad.err(), /--metrics-listen nowhere:port: expected HOST:PORT or off/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
