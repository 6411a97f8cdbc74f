/** The long-running sidecar re-syncs when a watched certificate file changes (fs.watch on its directory). */
import test from 'ava';
import { copyFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { createLogger, format, transports } from 'winston';
import type { DaneSiteConfig } from '../../src/dane/config.ts';
import { emptyState, type RolloverState, type TlsaObservation } from '../../src/dane/rollover.ts';
import { runSidecar } from '../../src/dane/sidecar.ts';
import type { Tlsa } from '../../src/dane/tlsa-params.ts';
import { makePki } from './make-certs.ts';

const pki = makePki('ec');
test.after.always(() => pki.cleanup());

test('file change → new sync → the new certificate’s record is published', async (t) => {
  const a = pki.leaf('a', 'mx.example.org', 'ec');
  const b = pki.leaf('b', 'mx.example.org', 'ec');
  const live = `${pki.dir}/live.pem`;
  copyFileSync(a.cert, live);
  const published: Tlsa[][] = [];
  const reasons: string[] = [];
  let served: Tlsa[] = [];
  let state: RolloverState = emptyState('_25._tcp.mx.example.org.');
  const logger = createLogger({
    format: format.json(),
    transports: [new transports.Stream({ stream: new Writable({ write: (c, _e, cb) => (reasons.push(String(c)), cb()) }) })],
  });
  const site: DaneSiteConfig = { host: 'mx.example.org', port: 25, proto: 'tcp', zone: 'example.org', cert_files: [live], next_files: [], records: 'dane-ee', authoritative: [], ttl: 300_000 };
  const ac = new AbortController();
  let wake: () => void = () => {};
  const deps = {
    publisher: {
      name: 'fake',
      replace: async (_z: string, _o: string, records: readonly Tlsa[]) => {
        published.push([...records]);
        served = [...records];
        wake();
      },
    },
    observe: async (): Promise<TlsaObservation[]> => [{ server: 'a', ok: true, records: served, ttl: 300 }],
    loadState: async () => state,
    saveState: async (s: RolloverState) => void (state = s),
    now: () => Date.now() + 5000,
    logger,
  };
  const waitFor = (n: number) => new Promise<void>((resolve) => {
    wake = () => published.length >= n && resolve();
    wake();
  });
  const running = runSidecar([site], deps, { intervalMs: 3_600_000, signal: ac.signal, debounceMs: 50 });
  await waitFor(1);
  copyFileSync(b.cert, live);
  await waitFor(2);
  ac.abort();
  await running;
  t.is(published.length, 2);
  t.notDeepEqual(published[0]![0]!.data, published[1]![0]!.data);
  t.true(reasons.some((l) => l.includes('file change in')));
});
