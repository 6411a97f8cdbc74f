/**
 * Milter load generator: N concurrent sessions speaking the protocol as Postfix does
 * (negotiate, macros, connect, HELO, MAIL, RCPT, headers, body chunks, end of message),
 * against any milter. Prints messages/s, latency percentiles (per message, MAIL → final
 * reply) and the milter's peak RSS.
 *
 *   npx node bench/loadgen.ts --self [--entry stripped|compiled] [--filter test-header|mail] [--sessions 1,50,500] [--messages 5000]
 *       starts `mailanchor milter --filter test-header` (no-op-ish: adds one header) as a child:
 *       `stripped` runs src/cli/main.ts through Node's type stripper, `compiled` runs
 *       bin/mailanchor (dist/, `npm run build`) as the installed command does; both with
 *       --max-semi-space-size=2. Prints the idle RSS too (2 s after "listening").
 *   npx node bench/loadgen.ts --target inet:127.0.0.1:8891 --pid 1234 --sessions 50
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MilterClient, sendMessage, type SimpleMessage } from '../src/milter/mta-client.ts';
import { freePort } from '../test/support/ports.ts';
import { peakRssMiB, resetPeakRss, rssMiB } from './proc-stats.ts';

const ROOT = join(import.meta.dirname, '..');

export interface LoadResult {
  readonly sessions: number;
  readonly messages: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly errors: number;
}

export const SAMPLE: SimpleMessage = {
  client: { hostname: 'mail.sender.test', address: '192.0.2.10' },
  helo: 'mail.sender.test',
  from: 'alice@sender.test',
  rcpts: ['bob@anchor.test'],
  headers: [
    ['Received', ' from mail.sender.test (mail.sender.test [192.0.2.10])\n\tby mx.anchor.test (Postfix) with ESMTPS id 4XyZ\n\tfor <bob@anchor.test>; Sun, 22 Nov 2026 12:00:00 +0000 (UTC)'],
    ['From', ' Alice <alice@sender.test>'],
    ['To', ' Bob <bob@anchor.test>'],
    ['Subject', ' load test'],
    ['Date', ' Sun, 22 Nov 2026 12:00:00 +0000'],
    ['Message-ID', ' <load@sender.test>'],
    ['MIME-Version', ' 1.0'],
    ['Content-Type', ' text/plain; charset=utf-8'],
  ],
  body: `${'A line of an ordinary message body, about seventy characters long.\r\n'.repeat(60)}`,
};

function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Runs `messages` messages over `sessions` connections (one message at a time per connection). */
export async function runLoad(target: string, sessions: number, messages: number, message: SimpleMessage = SAMPLE): Promise<LoadResult> {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: sessions }, async () => {
      const c = await MilterClient.connect(target);
      await c.negotiate();
      let first = true;
      while (next < messages) {
        next++;
        const t0 = performance.now();
        try {
          const r = await sendMessage(c, message, { skipConnect: !first });
          if (!r.eom) errors++;
        } catch {
          errors++;
          break;
        }
        first = false;
        latencies.push(performance.now() - t0);
      }
      c.quit();
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return { sessions, messages: latencies.length, seconds, perSecond: latencies.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) ?? 0, errors };
}

export type Entry = 'stripped' | 'compiled';

/** Starts the real CLI with the test-header filter on a free port; returns target, pid and stop. */
export async function startSelf(entry: Entry = 'stripped', filter: 'test-header' | 'mail' = 'test-header'): Promise<{ target: string; pid: number; stop: () => Promise<void> }> {
  const port = await freePort();
  const args = ['milter', '--filter', filter, '--listen', `inet:127.0.0.1:${port}`, '--dns', '127.0.0.1:1'];
  // bin/mailanchor execs the pinned node on dist/, so the pid is the milter's own.
  const [cmd, argv] = entry === 'compiled' ? [join(ROOT, 'bin/mailanchor'), args] : [process.execPath, ['--max-semi-space-size=2', join(ROOT, 'src/cli/main.ts'), ...args]];
  const child = spawn(cmd, argv, {
    env: { ...process.env, MAILANCHOR_STATE_DIR: join(ROOT, 'bench/results/loadgen-state') },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  for (let i = 0; i < 200 && !/listening/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
  if (!/listening/.test(out)) throw new Error('mailanchor milter did not start');
  return {
    target: `inet:127.0.0.1:${port}`,
    pid: child.pid!,
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      self: { type: 'boolean' },
      target: { type: 'string' },
      pid: { type: 'string' },
      sessions: { type: 'string', default: '1,50,500' },
      entry: { type: 'string', default: 'stripped' },
      filter: { type: 'string', default: 'test-header' },
      messages: { type: 'string', default: '5000' },
    },
  });
  if (values.entry !== 'stripped' && values.entry !== 'compiled') throw new Error('--entry must be stripped or compiled');
  if (values.filter !== 'test-header' && values.filter !== 'mail') throw new Error('--filter must be test-header or mail');
  const self = values.self || !values.target ? await startSelf(values.entry, values.filter) : undefined;
  const target = self?.target ?? values.target!;
  const pid = self?.pid ?? (values.pid ? Number(values.pid) : undefined);
  const total = Number(values.messages);
  console.log(`milter load: ${target}${self ? ` (mailanchor milter --filter ${values.filter}, ${values.entry})` : ''}, ${total} messages per run, node ${process.version}`);
  if (self) {
    await new Promise((r) => setTimeout(r, 2000));
    console.log(`idle RSS: ${rssMiB([self.pid]).toFixed(1)} MiB`);
  }
  console.log('sessions  messages/s   p50 ms   p99 ms   max ms  errors  peak RSS MiB');
  try {
    await runLoad(target, 10, 500); // warm-up: JIT, connection setup
    for (const n of values.sessions.split(',').map(Number)) {
      if (pid) resetPeakRss([pid]);
      const r = await runLoad(target, n, Math.max(total, n * 2));
      const rss = pid ? peakRssMiB([pid]).toFixed(1) : 'n/a';
      console.log(`${String(n).padStart(8)}  ${r.perSecond.toFixed(0).padStart(10)}  ${r.p50.toFixed(2).padStart(7)}  ${r.p99.toFixed(2).padStart(7)}  ${r.max.toFixed(1).padStart(7)}  ${String(r.errors).padStart(6)}  ${rss.padStart(12)}`);
    }
  } finally {
    await self?.stop();
  }
}

if (import.meta.main) await main();
