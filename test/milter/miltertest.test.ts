/** Interop with Debian's miltertest, an independent MTA-side milter client (libmilter's own test tool). */
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { startMilterServer } from '../../src/milter/server.ts';
import { createTestHeaderFilterFactory } from '../../src/milter/test-header-filter.ts';
import type { FilterFactory } from '../../src/milter/filter.ts';
import { captureLogger } from '../support/logger.ts';

const SCRIPT = new URL('../fixtures/milter/test-header.lua', import.meta.url).pathname;
const missing = existsSync('/usr/bin/miltertest') ? undefined : 'miltertest (Debian package miltertest) not installed';
const it = missing ? test.skip : test;
if (missing) test.skip(`miltertest interop: ${missing}`, () => {});

async function runMiltertest(factory: FilterFactory): Promise<{ code: number; out: string; lines: Array<Record<string, unknown>> }> {
  const { logger, lines } = captureLogger();
  const server = await startMilterServer({ listen: [{ kind: 'tcp', host: '127.0.0.1', port: 0 }], factory, logger });
  const port = /:(\d+)$/.exec(server.addresses[0]!)![1];
  try {
    return await new Promise((resolve) => {
      execFile('/usr/bin/miltertest', ['-D', `socket=inet:${port}@127.0.0.1`, '-s', SCRIPT], { timeout: 30_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}`, lines });
      });
    });
  } finally {
    await server.close({ drainMs: 1000 });
  }
}

it('miltertest drives a whole message and sees the header our test filter adds', async (t) => {
  const r = await runMiltertest(createTestHeaderFilterFactory());
  t.is(r.code, 0, r.out);
  t.regex(r.out, /header: +\S+/);
  const summary = r.lines.find((l) => l['message'] === 'message');
  t.is(summary?.['queue_id'], '4XyZ12QueueId', 'queue id from the MAIL-stage macro miltertest sent');
});

it('the same script fails when the header is not added (the check can fail)', async (t) => {
  const silent: FilterFactory = {
    name: 'silent',
    requirements: { actions: ['add-header'], stages: [], noReplyStages: [], macros: {} },
    create: () => ({ endOfMessage: () => ({ verdict: { kind: 'continue' }, modifications: [] }) }),
  };
  const r = await runMiltertest(silent);
  t.not(r.code, 0);
});
