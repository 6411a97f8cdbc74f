/**
 * The product's milter filter: routes each message to outbound signing (authenticated or
 * trusted senders) or inbound verification (everyone else). The decision is made at MAIL
 * FROM, when Postfix has sent `{auth_authen}`; connect and HELO go to both filters.
 */
import type { Logger } from 'winston';
import type { Registry } from 'prom-client';
import type { DmarcCheck } from '../auth/results.ts';
import type { Config } from '../config/sections.ts';
import type { DnsLookup } from '../dns/types.ts';
import type { EvaluationLog } from '../inbound/evaluation-log.ts';
import type { SigningKey, SigningKeySource } from '../keys/signing-keys.ts';
import type { ConnectInfo, FilterFactory, FilterRequirements, MilterFilter, SessionContext, Stage, Verdict } from '../milter/filter.ts';
import { createInboundFilterFactory } from '../inbound/filter.ts';
import { createOutboundFilterFactory } from '../outbound/filter.ts';
import { compileNetworks } from '../policy/networks.ts';
import type { Disposition } from '../policy/disposition.ts';
import { decideTrust, type TrustPolicy } from '../policy/trust.ts';

/**
 * What the filters say about each message they finished, for the operator's metrics
 * (src/app/mail-metrics.ts counts it). Told after the decision; it never changes one.
 */
export interface MailObserver {
  /** An inbound message: its DMARC verdict and what was done with it. */
  inbound(dmarc: DmarcCheck, disposition: Disposition): void;
  /** An outbound message signed with these keys (one signature each). */
  signed(keys: readonly SigningKey[]): void;
}

/** Everything a filter needs from the running process; built once by `mailanchor milter`. */
export interface MailFilterDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Registry;
  readonly dns: DnsLookup;
  /** Where DMARC evaluations go (the process's one batching writer); undefined if the store could not be opened. */
  readonly evaluations: EvaluationLog | undefined;
  readonly keys: SigningKeySource;
  readonly now: () => number;
  /** Metrics; absent in tests that do not look at them. */
  readonly observer?: MailObserver;
}

/** Union of what both filters need; a stage is no-reply only if no filter can answer there. */
export function combineRequirements(a: FilterRequirements, b: FilterRequirements): FilterRequirements {
  const stages = [...new Set<Stage>([...a.stages, ...b.stages])];
  const quiet = (r: FilterRequirements, s: Stage): boolean => !r.stages.includes(s) || r.noReplyStages.includes(s);
  const macros: Record<string, string[]> = {};
  for (const r of [a, b]) for (const [k, v] of Object.entries(r.macros)) macros[k] = [...new Set([...(macros[k] ?? []), ...(v ?? [])])];
  return {
    actions: [...new Set([...a.actions, ...b.actions])],
    stages,
    noReplyStages: stages.filter((s) => quiet(a, s) && quiet(b, s)),
    macros,
  };
}

/** Routes per message between two filters; `isOutbound` decides at MAIL FROM. */
export function routeMail(inbound: FilterFactory, outbound: FilterFactory, isOutbound: (ctx: SessionContext, client: string | undefined) => boolean): FilterFactory {
  return {
    name: 'mail',
    requirements: combineRequirements(inbound.requirements, outbound.requirements),
    create(ctx) {
      const inb = inbound.create(ctx);
      const out = outbound.create(ctx);
      let client: string | undefined;
      let current: MilterFilter = inb;
      const pick = (x: Verdict | undefined, y: Verdict | undefined): Verdict => (x && x.kind !== 'continue' ? x : (y ?? { kind: 'continue' }));
      // Both filters answer connect and HELO synchronously today: no promise unless one is async.
      const both = (f: (m: MilterFilter) => Verdict | Promise<Verdict> | undefined): Verdict | Promise<Verdict> => {
        const x = f(inb);
        const y = f(out);
        if (isThenable(x) || isThenable(y)) return Promise.all([x, y]).then(([a, b]) => pick(a, b));
        return pick(x, y);
      };
      return {
        connect: (info: ConnectInfo) => {
          client = info.client.family === 'inet' || info.client.family === 'inet6' ? info.client.address : undefined;
          return both((m) => m.connect?.(info));
        },
        helo: (name) => both((m) => m.helo?.(name)),
        mailFrom: (sender, args) => {
          current = isOutbound(ctx, client) ? out : inb;
          return current.mailFrom?.(sender, args) ?? { kind: 'continue' };
        },
        rcptTo: (rcpt, args) => current.rcptTo?.(rcpt, args) ?? { kind: 'continue' },
        data: () => current.data?.() ?? { kind: 'continue' },
        header: (name, value) => current.header?.(name, value) ?? { kind: 'continue' },
        endOfHeaders: () => current.endOfHeaders?.() ?? { kind: 'continue' },
        body: (chunk) => current.body?.(chunk) ?? { kind: 'continue' },
        endOfMessage: () => current.endOfMessage(),
        abort: () => {
          inb.abort?.();
          out.abort?.();
        },
        close: () => {
          inb.close?.();
          out.close?.();
        },
      };
    },
  };
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

export function createMailFilterFactory(deps: MailFilterDeps): FilterFactory {
  // Compiled once per config: trust is decided once per message, here, and nowhere else.
  const trust: TrustPolicy = { trustedNetworks: compileNetworks(deps.config.outbound.trusted_networks), trustedDaemons: new Set(deps.config.outbound.trusted_daemons) };
  return routeMail(createInboundFilterFactory(deps), createOutboundFilterFactory(deps), (ctx, client) =>
    decideTrust({ authAuthen: ctx.macros.get('{auth_authen}'), clientIp: client, daemonName: ctx.macros.get('{daemon_name}') }, trust).kind === 'ours',
  );
}
