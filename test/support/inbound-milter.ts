/**
 * The inbound filter in-process behind a real milter listener on loopback, driven by our
 * MTA-side client the way Postfix's smtpd drives it (owner: inbound). For tests that need
 * the milter wire without Postfix: the conformance suites, DNS fault matrices. The A-R header
 * we insert comes back parsed.
 */
import { Registry } from 'prom-client';
import { decodeConfig } from '../../src/config/load.ts';
import type { DnsLookup } from '../../src/dns/types.ts';
import { createInboundFilterFactory } from '../../src/inbound/filter.ts';
import type { EvaluationLog } from '../../src/inbound/evaluation-log.ts';
import { parseAuthenticationResults, type AuthenticationResults } from '../../src/mail/auth-results.ts';
import { MilterClient, sendMessage, type ClientModification, type ClientReply, type SimpleMessage } from '../../src/milter/mta-client.ts';
import { startMilterServer, type MilterServer } from '../../src/milter/server.ts';
import { captureLogger } from './logger.ts';

export const AUTHSERV_ID = 'mx.anchor.test';

export interface InboundRun {
  readonly reply: ClientReply | undefined;
  readonly modifications: readonly ClientModification[];
  /** Our Authentication-Results, parsed; undefined when none was inserted. */
  readonly ar: AuthenticationResults | undefined;
  readonly arText: string;
}

export interface InboundMilter {
  readonly server: MilterServer;
  run(m: SimpleMessage): Promise<InboundRun>;
  close(): Promise<void>;
}

export async function startInboundMilter(o: { dns: DnsLookup; inbound?: Record<string, unknown>; now?: () => number; evaluations?: EvaluationLog }): Promise<InboundMilter> {
  const { config, issues } = decodeConfig({ inbound: { authserv_id: AUTHSERV_ID, ...o.inbound }, outbound: { trusted_networks: [] } });
  if (issues.length) throw new Error(`bad test config: ${JSON.stringify(issues)}`);
  const { logger } = captureLogger();
  const server = await startMilterServer({
    listen: [{ kind: 'tcp', host: '127.0.0.1', port: 0 }],
    factory: createInboundFilterFactory({ config, logger, metrics: new Registry(), dns: o.dns, evaluations: o.evaluations, keys: { activeKeys: () => [], assertHealthy: () => undefined }, now: o.now ?? Date.now }),
    logger,
  });
  return {
    server,
    async run(m) {
      const c = await MilterClient.connect(server.addresses[0]!);
      try {
        await c.negotiate();
        const r = await sendMessage(c, m);
        c.quit();
        const mods = r.eom?.modifications ?? [];
        const ins = mods.find((x): x is Extract<ClientModification, { kind: 'insert-header' }> => x.kind === 'insert-header' && x.name === 'Authentication-Results');
        const parsed = ins ? parseAuthenticationResults(ins.value) : undefined;
        return { reply: r.stopped ?? r.eom?.reply, modifications: mods, ar: parsed?.ok ? parsed.header : undefined, arText: ins?.value ?? '' };
      } finally {
        c.destroy();
      }
    },
    close: () => server.close({ drainMs: 100 }),
  };
}

/** Result words of `method` in the A-R, in order. */
export function resultsOf(ar: AuthenticationResults | undefined, method: string): string[] {
  return (ar?.results ?? []).filter((r) => r.method === method).map((r) => r.result);
}
