/**
 * Child process for process-errors.test.ts (not a test file): a milter server whose filter
 * leaves a rejection unhandled, or throws from a timer, in the middle of a message — the
 * shape of issue 16's crash — with the process-level policy installed. Prints one JSON line
 * with the address once listening; the test drives it over the wire and reads its stdout.
 */
import { Registry } from 'prom-client';
import { installProcessErrorPolicy } from '../../src/app/process-errors.ts';
import type { FilterFactory } from '../../src/milter/filter.ts';
import { startMilterServer } from '../../src/milter/server.ts';
import { createLogger } from '../../src/log/logger.ts';

const logger = createLogger({ format: 'json', level: 'info', destination: 'stdout' });
const registry = new Registry();
let exits = 0;
installProcessErrorPolicy({ logger, registry, maxOutside: 3, windowMs: 60_000, exit: (code) => void (exits++, console.log(JSON.stringify({ exit: code }))) });

const factory: FilterFactory = {
  name: 'hostile',
  requirements: { actions: ['add-header'], stages: ['mail', 'header'], noReplyStages: ['header'], macros: {} },
  create: () => ({
    mailFrom: (sender) => {
      // Work started for the message that fails later, with nobody listening: as the shared
      // DNS query did when every caller had given up.
      if (sender.startsWith('reject@')) void Promise.reject(new Error('late failure nobody handles')).then(() => undefined);
      if (sender.startsWith('throw@')) setTimeout(() => { throw new Error('thrown from a timer of this message'); }, 10);
      return { kind: 'continue' };
    },
    header: () => ({ kind: 'continue' }),
    endOfMessage: async () => {
      await new Promise((r) => setTimeout(r, 100));
      return { verdict: { kind: 'continue' }, modifications: [{ kind: 'add-header', name: 'X-Ok', value: 'yes' }] };
    },
  }),
};
const server = await startMilterServer({ listen: [{ kind: 'tcp', host: '127.0.0.1', port: 0 }], factory, logger });
console.log(JSON.stringify({ listening: server.addresses[0] }));
process.stdin.on('data', async (d) => {
  const cmd = d.toString().trim();
  if (cmd === 'outside') {
    // Errors outside any session: counted; past maxOutside the policy asks to exit.
    for (let i = 0; i < 4; i++) setTimeout(() => void Promise.reject(new Error(`outside ${i}`)), 0);
    setTimeout(() => console.log(JSON.stringify({ exits })), 200);
  } else if (cmd === 'metrics') {
    console.log(JSON.stringify({ metrics: await registry.metrics() }));
  } else if (cmd === 'quit') {
    await server.close({ drainMs: 100 });
    process.exit(0);
  }
});
