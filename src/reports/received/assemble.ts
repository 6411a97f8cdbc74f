/**
 * Folded reports → the page: reverse DNS for the busiest sources (bounded), grouping,
 * explanations from our history, policy proposals.
 */
import type { DnsLookup } from '../../dns/types.ts';
import type { PageConfig } from './config.ts';
import { explain, propose, type History } from './explain.ts';
import type { Page } from './page.ts';
import type { PageBuilder, SenderIdentity } from './page-model.ts';
import { resolveSenders } from './senders.ts';

export interface AssembleOptions {
  readonly title: string;
  readonly now: number;
  readonly window?: { readonly from: number; readonly to: number };
  /** Absent: no reverse DNS (`--no-dns`). */
  readonly dns?: DnsLookup;
  readonly config: PageConfig;
  readonly history: History;
  readonly skipped: Page['skipped'];
  readonly read: Page['read'];
}

export async function assemblePage(builder: PageBuilder, o: AssembleOptions): Promise<Page> {
  const ips = builder.sourcesByVolume();
  let identities = new Map<string, SenderIdentity>();
  let lookedUp = 0;
  let budgetSpent = false;
  if (o.dns && o.config.ptr_lookups > 0) {
    const r = await resolveSenders(ips, o.dns, { max: o.config.ptr_lookups, budgetMs: o.config.dns_budget });
    identities = r.identities;
    lookedUp = r.lookedUp;
    budgetSpent = r.budgetSpent;
  }
  const data = builder.finish(identities, { maxSourcesListed: o.config.max_sources_listed });
  const windowDays = o.window ? Math.round((o.window.to - o.window.from) / 86400) : Math.max(1, ...data.domains.map((d) => d.days.length));
  return {
    title: o.title,
    generatedAt: o.now,
    ...(o.window ? { window: o.window } : {}),
    data,
    explanations: explain(data, o.history),
    proposals: propose(data, { quarantineAt: o.config.quarantine_at, rejectAt: o.config.reject_at, minMessages: o.config.min_messages, minDays: o.config.min_days, windowDays }),
    skipped: o.skipped,
    reverseDns: { sources: ips.length, lookedUp, budgetSpent, enabled: o.dns !== undefined },
    read: o.read,
  };
}
