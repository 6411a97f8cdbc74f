/**
 * One `keys rotate` pass of one fleet host, as a child process: the shared PostgreSQL store,
 * a host name of its own in the lease holder (so the other "host" cannot tell whether it is
 * alive and must wait for expiry), an injected clock, and a checkpoint where it pauses (to
 * overlap with the other host) or SIGKILLs itself. Prints its report as JSON.
 *
 *   node rotate-runner.ts URL HOST NOW NS1 NS2 TSIG POINT until:FILE|kill|none
 *
 * `until:FILE`: at POINT, wait (the event loop blocked, the lease held) until FILE exists —
 * the test creates it once the other host's run is over — or 60 s passed.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import winston from 'winston';
import { decodeConfig } from '../../src/config/load.ts';
import { parseTsigKey } from '../../src/dns/tsig.ts';
import { createResolver } from '../../src/dns/resolver.ts';
import { domainDefaults } from '../../src/keys/config.ts';
import { rotateDomain } from '../../src/keys/rotate.ts';
import { rfc2136Publisher } from '../../src/publish/publisher.ts';
import { openStore } from '../../src/store/open.ts';

const [url, host, now, ns1, ns2, tsig, point, action] = process.argv.slice(2) as [string, string, string, string, string, string, string, string];
const server = (s: string) => ({ host: '127.0.0.1', port: Number(s) });
const store = await openStore(decodeConfig({}).config.store, { override: url });
const cfg = { ...domainDefaults(), algorithms: ['rsa-sha256' as const, 'ed25519-sha256' as const], ttl: 60_000, ttl_margin: 0, nameservers: [server(ns1), server(ns2)] };
const report = await rotateDomain('race.test', cfg, {
  store: store.keys,
  lease: store.lease,
  dns: createResolver({ servers: [server(ns1)] }),
  now: () => Number(now),
  logger: winston.createLogger({ silent: true }),
  publisherFor: () => rfc2136Publisher(server(ns1), parseTsigKey(tsig)),
  observeTimeoutMs: 1000,
  checkpoint: (p) => {
    if (p !== point) return;
    process.stdout.write(`at ${p}\n`);
    if (action === 'kill') process.kill(process.pid, 'SIGKILL');
    if (action.startsWith('until:')) {
      const file = action.slice('until:'.length);
      const cell = new Int32Array(new SharedArrayBuffer(4));
      for (let i = 0; i < 600 && !existsSync(file); i++) Atomics.wait(cell, 0, 0, 100);
    }
  },
}, { holder: `${host}:${process.pid}:${randomUUID()}` });
process.stdout.write(`${JSON.stringify(report)}\n`);
await store.close();
