/**
 * Who sends from each source address: its PTR name, forward-confirmed (RFC 8601 §3 iprev:
 * the name must resolve back to the address). A PTR alone is whatever the address's owner
 * chose to write — a spoofer can name itself `mail.google.com` — so unconfirmed names are
 * shown as such and never grouped under the organisation they claim. Bounded: at most
 * `max` addresses (the busiest, in the order given), `concurrency` at once, all within
 * `budgetMs`; the rest are "not looked up", said so on the page.
 */
import type { DnsLookup } from '../../dns/types.ts';
import { checkIprev } from '../../auth/iprev/check.ts';
import type { SenderIdentity } from './page-model.ts';

export interface ResolveOptions {
  readonly max: number;
  readonly budgetMs: number;
  readonly concurrency?: number;
}

export async function resolveSenders(ips: readonly string[], dns: DnsLookup, options: ResolveOptions): Promise<{ identities: Map<string, SenderIdentity>; lookedUp: number; budgetSpent: boolean }> {
  const identities = new Map<string, SenderIdentity>();
  const todo = ips.slice(0, options.max);
  const abort = new AbortController();
  // Not unref'd: it is what ends lookups that never answer (cleared below when all are done).
  const timer = setTimeout(() => abort.abort(), options.budgetMs);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < todo.length && !abort.signal.aborted) {
      const ip = todo[next++]!;
      const r = await checkIprev(ip, dns, { signal: abort.signal });
      if (abort.signal.aborted && r.result === 'temperror') break; // cut by the budget: not looked up
      if (r.result === 'pass') identities.set(ip, { status: 'confirmed', name: r.names[0]! });
      // fail: PTR names that do not resolve back (or none that is a host name at all);
      // permerror: no PTR data (the reader canonicalised every address, so it is one).
      else if (r.result === 'fail') identities.set(ip, r.names.length ? { status: 'unconfirmed', name: r.names[0]! } : { status: 'no-ptr' });
      else if (r.result === 'permerror') identities.set(ip, { status: 'no-ptr' });
      else identities.set(ip, { status: 'dns-error', reason: r.reason });
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 8) }, worker));
  } finally {
    clearTimeout(timer);
  }
  return { identities, lookedUp: identities.size, budgetSpent: abort.signal.aborted };
}
