/** Child process for the kill -9 test: one rotation pass that SIGKILLs itself at a checkpoint. */
import winston from 'winston';
import { parseTsigKey } from '../../src/dns/tsig.ts';
import { createResolver } from '../../src/dns/resolver.ts';
import { domainDefaults } from '../../src/keys/config.ts';
import { rotateDomain } from '../../src/keys/rotate.ts';
import { rfc2136Publisher } from '../../src/publish/publisher.ts';
import { openTestStore } from '../support/store.ts';

const [storePath, host, port, tsig, now, crashAt] = process.argv.slice(2) as [string, string, string, string, string, string];
const server = { host, port: Number(port) };
const store = await openTestStore(storePath);
const cfg = { ...domainDefaults(), ttl: 60_000, ttl_margin: 0, nameservers: [server] };
await rotateDomain('crash.test', cfg, {
  store: store.keys,
  lease: store.lease,
  dns: createResolver({ servers: [server] }),
  now: () => Number(now),
  logger: winston.createLogger({ silent: true }),
  publisherFor: () => rfc2136Publisher(server, parseTsigKey(tsig)),
  checkpoint: (point) => {
    if (point === crashAt) process.kill(process.pid, 'SIGKILL');
  },
});
