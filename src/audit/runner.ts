/**
 * The audit runner: for each domain, gather the observations (DNS, certificates, STARTTLS,
 * HTTPS — all I/O is here and in gather/), hand each check its pure judgement, and bound
 * the whole by a per-domain time budget. A check that fails to gather, or is still
 * running when the budget is spent, says `error` with the reason; the other checks and
 * the other domains go on. Domains run with bounded parallelism; zones and answers shared
 * between them (a hoster's MX zone, the TLD) are looked up once per run (`AuditDns`).
 */
import type { KeysConfig } from '../keys/config.ts';
import { domainDefaults } from '../keys/config.ts';
import type { StoredKey } from '../keys/key-store.ts';
import { describeError } from '../errors.ts';
import { normalizeDomain } from '../mail/domain.ts';
import { judgeDane } from './checks/dane.ts';
import { judgeDkim } from './checks/dkim.ts';
import { judgeDmarc } from './checks/dmarc.ts';
import { judgeDmarcRua } from './checks/dmarc-rua.ts';
import { judgeDnssec } from './checks/dnssec.ts';
import { judgeMtaSts } from './checks/mta-sts.ts';
import { judgeMx, isNullMx } from './checks/mx.ts';
import { judgeNs } from './checks/ns.ts';
import { judgePtr } from './checks/ptr.ts';
import { judgeSpf } from './checks/spf.ts';
import { judgeTlsRpt } from './checks/tls-rpt.ts';
import { queryCounter, type AuditDns } from './dns-context.ts';
import { gatherDane } from './gather/dane.ts';
import { gatherDkim } from './gather/dkim.ts';
import { gatherDmarc, gatherRua } from './gather/dmarc.ts';
import type { KnownCertificates } from './gather/known-certificates.ts';
import { gatherMtaSts, gatherTlsRpt } from './gather/mta-sts.ts';
import { gatherMx, mxAddresses } from './gather/mx.ts';
import { gatherPtr } from './gather/ptr.ts';
import { gatherSpf } from './gather/spf.ts';
import { gatherDnssec, gatherNs } from './gather/zone.ts';
import type { PolicyHistory } from './policy-history.ts';
import { CHECK_NAMES, observe, result, type CheckName, type CheckResult, type DomainAudit } from './types.ts';
import { ZoneLookup } from './zone-reader.ts';
import { zoneServers } from './zone-servers.ts';

export interface AuditSettings {
  /** Our outbound addresses: their PTR (ptr) and their SPF result (spf). */
  readonly sendingAddresses: readonly string[];
  /** `--selector`: checked for every domain in addition to the keystore's. */
  readonly selectors: readonly string[];
  readonly keysConfig: KeysConfig;
  /** The keystore's keys of a domain; a thrown error is reported by the dkim check. */
  readonly keys: (domain: string) => readonly StoredKey[];
  readonly known: KnownCertificates;
  /** --connect: STARTTLS to each MX address, HTTPS for the MTA-STS policy. */
  readonly connect: boolean;
  readonly maxMxHosts: number;
  readonly spfLimits: { readonly lookups: number; readonly voidLookups: number };
  readonly expiryWarningMs: number;
  readonly domainTimeoutMs: number;
  /** Per STARTTLS probe and per HTTPS fetch. */
  readonly connectTimeoutMs: number;
  readonly extraCa: readonly string[];
  readonly history: PolicyHistory;
  readonly now: () => number;
  /** 443 unless a test lab serves MTA-STS elsewhere. */
  readonly httpsPort?: number;
}

class BudgetSpent extends Error {}

/** Audits one domain; never throws. */
export async function auditDomain(input: string, dns: AuditDns, s: AuditSettings): Promise<DomainAudit> {
  const counter = { queries: 0 };
  const started = Date.now();
  const checks = await queryCounter.run(counter, () => runChecks(input, dns, s));
  const domain = normalizeDomain(input) ?? input.trim().toLowerCase();
  return { domain, ...(domain !== input ? { input } : {}), checks, elapsedMs: Date.now() - started, queries: counter.queries };
}

async function runChecks(input: string, dns: AuditDns, s: AuditSettings): Promise<CheckResult[]> {
  const domain = normalizeDomain(input);
  if (!domain || !domain.includes('.')) {
    const why = !domain ? 'not a valid domain name (RFC 1035 §2.3.4 / RFC 5890: labels of 1–63 letters, digits, hyphens; IDNs must convert to A-labels)' : 'a single label is not a mail domain';
    return [result('domain').error(input, `${JSON.stringify(input)}: ${why}`)];
  }
  let timer: NodeJS.Timeout | undefined;
  const spent = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BudgetSpent()), s.domainTimeoutMs);
    timer.unref?.();
  });
  spent.catch(() => undefined);
  const budget = `the time budget of ${s.domainTimeoutMs / 1000} s for ${domain} ran out before this check finished`;
  /** A check's work, bounded by the budget; any failure is an `error` result for that check. */
  const bounded = <T>(p: Promise<T>): Promise<T> => Promise.race([p, spent]);
  const run = async (check: CheckName, work: () => Promise<CheckResult[]>): Promise<CheckResult[]> => {
    const p = work();
    p.catch(() => undefined); // settled later than the budget: nobody waits for it any more
    try {
      return await bounded(p);
    } catch (err) {
      return [result(check).error(domain, err instanceof BudgetSpent ? budget : `the check failed: ${describeError(err).message}`)];
    }
  };
  try {
    const zone = await bounded(
      observe(async () => {
        const info = await dns.zoneInfo(domain);
        if (info.nxdomain) throw new Error(`${domain} does not exist (NXDOMAIN; the nearest zone is ${info.zone || '.'})`);
        return zoneServers(dns, info.zone);
      }),
    ).catch((err: unknown) => ({
      ok: false as const,
      error: err instanceof BudgetSpent ? budget : describeError(err).message,
      code: 'BUDGET',
    }));
    const zl = zone.ok && zone.value.preferred.length > 0 ? new ZoneLookup(dns, zone.value) : undefined;
    const lookup = zl ?? dns.lookup;
    const external = new Map<string, Set<string>>();
    const now = s.now();

    const mx = gatherMx(domain, lookup, s.maxMxHosts);
    mx.catch(() => undefined);
    const dmarc = gatherDmarc(domain, lookup);
    dmarc.catch(() => undefined);
    const cfg = s.keysConfig.domains[domain] ?? domainDefaults();
    const pending: Partial<Record<CheckName, Promise<CheckResult[]>>> = {
      mx: run('mx', async () => judgeMx(await mx)),
      ptr: run('ptr', async () => {
        const m = await mx;
        const unknown = m.mx.ok ? [] : [result('ptr').error(domain, `the MX addresses are not known: MX lookup failed: ${m.mx.error}`)];
        const addrs = [...mxAddresses(m).map((a) => ({ ...a, source: 'mx' as const })), ...s.sendingAddresses.map((address) => ({ address, source: 'sending' as const }))];
        if (addrs.length === 0) return unknown.length ? unknown : [result('ptr').ok(domain, m.mx.ok && isNullMx(m.mx.value.records) ? 'null MX and no sending address configured: no address to check' : 'no MX address and no sending address configured (audit.sending_addresses)')];
        return [...unknown, ...judgePtr(await gatherPtr(lookup, addrs))];
      }),
      spf: run('spf', async () => judgeSpf(await gatherSpf(domain, lookup, { sending: s.sendingAddresses, limits: s.spfLimits, now: s.now }))),
      dkim: run('dkim', async () => {
        let keys: readonly StoredKey[] | { error: string };
        try {
          keys = s.keys(domain);
        } catch (err) {
          keys = { error: describeError(err).message };
        }
        return judgeDkim(await gatherDkim(dns, lookup, { domain, cfg, configured: s.keysConfig.domains[domain] !== undefined, keys, selectors: s.selectors }, (n) => dns.zoneOf(n)), now);
      }),
      dmarc: run('dmarc', async () => judgeDmarc(await dmarc)),
      'dmarc-rua': run('dmarc-rua', async () => {
        const d = await dmarc;
        const first = d.walk.steps[0];
        if (first?.lookup.kind === 'error') return [result('dmarc-rua').error(`_dmarc.${domain}`, `the DMARC record is not known: ${first.lookup.message}`)];
        return judgeDmarcRua(domain, await gatherRua(domain, d, lookup));
      }),
      dane: run('dane', async () => {
        const m = await mx;
        if (!m.mx.ok) return [result('dane').error(domain, `the MX hosts are not known: MX lookup failed: ${m.mx.error}`)];
        return judgeDane(
          await gatherDane(dns, domain, m, {
            known: s.known,
            connect: s.connect,
            timeoutMs: s.connectTimeoutMs,
            onRead: (z, name) => external.set(z, (external.get(z) ?? new Set()).add(name)),
          }),
          now,
        );
      }),
      'mta-sts': run('mta-sts', async () => {
        const m = await mx;
        const unknown = m.mx.ok || !s.connect ? [] : [result('mta-sts').error(domain, `the MX hosts the policy must cover are not known: MX lookup failed: ${m.mx.error}`)];
        return [...unknown, ...judgeMtaSts(await gatherMtaSts(domain, lookup, m.hosts.map((h) => h.name), { connect: s.connect, extraCa: s.extraCa, timeoutMs: s.connectTimeoutMs, history: s.history, now: s.now, ...(s.httpsPort ? { httpsPort: s.httpsPort } : {}) }))];
      }),
      'tls-rpt': run('tls-rpt', async () => judgeTlsRpt(await gatherTlsRpt(domain, lookup))),
    };
    // ns and dnssec look at what the others read: they start once those are done.
    const others = Promise.all(Object.values(pending));
    const read = () => [...(zl?.read ?? [])];
    pending.ns = run('ns', async () => {
      await others;
      return judgeNs(await gatherNs(dns, domain, zone, read(), external));
    });
    pending.dnssec = run('dnssec', async () => {
      await others;
      if (!zone.ok) return [result('dnssec').error(domain, `cannot find the zone or its servers: ${zone.error}`)];
      return judgeDnssec(await gatherDnssec(dns, zone.value, read()), now, { expiryWarningMs: s.expiryWarningMs });
    });
    const out: CheckResult[] = [];
    for (const name of CHECK_NAMES) {
      const p = pending[name];
      if (p) out.push(...(await p));
    }
    return out;
  } finally {
    clearTimeout(timer);
  }
}

export interface RunOptions {
  /** Domains audited at once. */
  readonly concurrency: number;
  /** Called as each domain finishes (progress line, streaming output). */
  readonly onDone?: (audit: DomainAudit, done: number, total: number) => void;
}

/** Audits every domain, `concurrency` at a time; results in input order. */
export async function auditDomains(inputs: readonly string[], dns: AuditDns, s: AuditSettings, o: RunOptions): Promise<DomainAudit[]> {
  const results: DomainAudit[] = new Array(inputs.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= inputs.length) return;
      results[i] = await auditDomain(inputs[i]!, dns, s);
      done++;
      o.onDone?.(results[i]!, done, inputs.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency, inputs.length)) }, worker));
  return results;
}
