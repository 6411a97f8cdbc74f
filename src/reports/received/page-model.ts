/**
 * Pure: received reports → what a postmaster decides on. Rows stream in (from files or
 * from the history) and are folded into bounded accumulators per policy domain — totals,
 * one bucket per UTC day, one per source address, one per (DKIM domain, selector) — so a
 * 100 MB report or a year of history costs memory per distinct source, not per row.
 * `finish` then groups sources by sending organisation (from forward-confirmed PTR names,
 * resolved by the caller) and says honestly how many of how many are listed.
 */
import { getDomain } from 'tldts';
import type { AggregateHeader, AggregateRow, Disposition, PublishedPolicy, TlsReport } from '../read/model.ts';
import { reporterKey } from '../read/model.ts';
import { classify, compareIp, type FailingKind, type RowClass } from './classify.ts';

export interface Counts {
  messages: number;
  aligned: number;
  forwarded: number;
  failing: number;
  /** Failing, split: authenticated as another domain / nothing passed. */
  unaligned: number;
  unauthenticated: number;
  /** Disposition the receivers applied, over all messages. */
  applied: Record<Disposition, number>;
  /** … and over the failing ones only. */
  failingApplied: Record<Disposition, number>;
}

const counts = (): Counts => ({
  messages: 0,
  aligned: 0,
  forwarded: 0,
  failing: 0,
  unaligned: 0,
  unauthenticated: 0,
  applied: { none: 0, pass: 0, quarantine: 0, reject: 0, unknown: 0 },
  failingApplied: { none: 0, pass: 0, quarantine: 0, reject: 0, unknown: 0 },
});

function add(c: Counts, cls: RowClass, kind: FailingKind | undefined, n: number, d: Disposition): void {
  c.messages += n;
  c[cls] += n;
  c.applied[d] += n;
  if (cls === 'failing') {
    c.failingApplied[d] += n;
    if (kind) c[kind] += n;
  }
}

/** Who is behind a source address, as far as reverse DNS tells (resolved by the caller). */
export type SenderIdentity =
  | { readonly status: 'confirmed'; readonly name: string }
  | { readonly status: 'unconfirmed'; readonly name: string }
  | { readonly status: 'no-ptr' }
  | { readonly status: 'dns-error'; readonly reason: string };

const SMALL_SET = 10;
/** At most SMALL_SET distinct values; arrays, not Sets: a 100 MB report has 50,000 sources with four each. */
const addSmall = (s: Set<string> | string[], v: string | undefined): void => {
  if (!v) return;
  if (Array.isArray(s)) {
    if (s.length < SMALL_SET && !s.includes(v)) s.push(v);
  } else if (s.size < SMALL_SET) s.add(v);
};

interface SourceAcc {
  readonly ip: string;
  readonly counts: Counts;
  readonly headerFrom: string[];
  readonly reporters: string[];
  readonly dkimDomains: string[];
  readonly spfDomains: string[];
}

export interface SelectorUse {
  readonly domain: string;
  readonly selector: string;
  pass: number;
  fail: number;
  other: number;
  /** Report periods (unix s) in which the selector was seen failing. */
  firstFail?: number;
  lastFail?: number;
  failIps: Set<string>;
  /** Failed messages per UTC day, so an explanation can count those after a key's state changed. */
  readonly failDays: Map<string, number>;
}

interface DomainAcc {
  readonly domain: string;
  reports: number;
  readonly reporters: Map<string, { names: Map<string, number>; reports: number; messages: number }>;
  policy?: { at: number; policy: PublishedPolicy };
  readonly total: Counts;
  readonly days: Map<string, Counts>;
  readonly sources: Map<string, SourceAcc>;
  readonly selectors: Map<string, SelectorUse>;
  begin: number;
  end: number;
}

export const dayOf = (unixSeconds: number): string => new Date(unixSeconds * 1000).toISOString().slice(0, 10);

/**
 * A report is counted on the UTC day of the middle of its period: daily reports (nearly
 * all) fall on their day; a reporter's odd 00:00–00:00+1s or hour-shifted period does not
 * split counts into fractions.
 */
const reportDay = (h: AggregateHeader): string => dayOf(Math.floor((h.begin + h.end) / 2));

export interface TlsFailureGroup {
  readonly mx: string;
  readonly resultType: string;
  sessions: number;
  readonly sendingIps: Set<string>;
  readonly reporters: Set<string>;
  first: number;
  last: number;
  readonly policyTypes: Set<string>;
}

interface TlsAcc {
  readonly domain: string;
  reports: number;
  successful: number;
  failed: number;
  readonly policyTypes: Map<string, { successful: number; failed: number }>;
  readonly failures: Map<string, TlsFailureGroup>;
  readonly days: Map<string, { successful: number; failed: number }>;
  readonly reporters: Set<string>;
}

export class PageBuilder {
  readonly #domains = new Map<string, DomainAcc>();
  readonly #tls = new Map<string, TlsAcc>();
  readonly #reporterNames = new Map<string, Map<string, number>>();

  /** Starts one DMARC report; feed its rows to the returned function. */
  dmarc(header: AggregateHeader): (rows: readonly AggregateRow[]) => void {
    const domain = header.policy.domain;
    let d = this.#domains.get(domain);
    if (!d) {
      d = { domain, reports: 0, reporters: new Map(), total: counts(), days: new Map(), sources: new Map(), selectors: new Map(), begin: Infinity, end: -Infinity };
      this.#domains.set(domain, d);
    }
    const acc = d;
    acc.reports++;
    acc.begin = Math.min(acc.begin, header.begin);
    acc.end = Math.max(acc.end, header.end);
    if (!acc.policy || header.end >= acc.policy.at) acc.policy = { at: header.end, policy: header.policy };
    const rk = reporterKey(header.orgName);
    const names = this.#reporterNames.get(rk) ?? new Map<string, number>();
    names.set(header.orgName, (names.get(header.orgName) ?? 0) + 1);
    this.#reporterNames.set(rk, names);
    const rep = acc.reporters.get(rk) ?? { names, reports: 0, messages: 0 };
    rep.reports++;
    acc.reporters.set(rk, rep);
    const day = reportDay(header);
    let dayCounts = acc.days.get(day);
    if (!dayCounts) {
      dayCounts = counts();
      acc.days.set(day, dayCounts);
    }
    const dc = dayCounts;
    return (rows) => {
      for (const row of rows) {
        const c = classify(row);
        const kind = c.class === 'failing' ? c.kind : undefined;
        add(acc.total, c.class, kind, row.count, row.disposition);
        add(dc, c.class, kind, row.count, row.disposition);
        rep.messages += row.count;
        let s = acc.sources.get(row.sourceIp);
        if (!s) {
          s = { ip: row.sourceIp, counts: counts(), headerFrom: [], reporters: [], dkimDomains: [], spfDomains: [] };
          acc.sources.set(row.sourceIp, s);
        }
        add(s.counts, c.class, kind, row.count, row.disposition);
        addSmall(s.headerFrom, row.headerFrom);
        addSmall(s.reporters, rk);
        for (const a of row.dkimAuth) {
          addSmall(s.dkimDomains, a.domain && `${a.domain}${a.selector ? `/${a.selector}` : ''}:${a.result}`);
          // Our own selectors (the policy domain or below): the rotation explanations need them.
          // A message an intermediary changed (`forwarded`) says nothing about our key.
          if (a.selector && c.class !== 'forwarded' && (a.domain === domain || a.domain.endsWith(`.${domain}`))) {
            const key = `${a.domain} ${a.selector}`;
            let u = acc.selectors.get(key);
            if (!u) {
              u = { domain: a.domain, selector: a.selector, pass: 0, fail: 0, other: 0, failIps: new Set(), failDays: new Map() };
              acc.selectors.set(key, u);
            }
            if (a.result === 'pass') u.pass += row.count;
            else if (a.result === 'fail' || a.result === 'permerror' || a.result === 'neutral') {
              u.fail += row.count;
              u.firstFail = Math.min(u.firstFail ?? Infinity, header.begin);
              u.lastFail = Math.max(u.lastFail ?? -Infinity, header.end);
              addSmall(u.failIps, row.sourceIp);
              u.failDays.set(day, (u.failDays.get(day) ?? 0) + row.count);
            } else u.other += row.count;
          }
        }
        for (const a of row.spfAuth) addSmall(s.spfDomains, a.domain && `${a.domain}:${a.result}`);
      }
    };
  }

  tls(report: TlsReport): void {
    const rk = reporterKey(report.orgName);
    const names = this.#reporterNames.get(rk) ?? new Map<string, number>();
    names.set(report.orgName, (names.get(report.orgName) ?? 0) + 1);
    this.#reporterNames.set(rk, names);
    const day = dayOf(Math.floor((report.begin + report.end) / 2));
    const seen = new Set<string>();
    for (const p of report.policies) {
      let t = this.#tls.get(p.policyDomain);
      if (!t) {
        t = { domain: p.policyDomain, reports: 0, successful: 0, failed: 0, policyTypes: new Map(), failures: new Map(), days: new Map(), reporters: new Set() };
        this.#tls.set(p.policyDomain, t);
      }
      if (!seen.has(p.policyDomain)) {
        seen.add(p.policyDomain);
        t.reports++;
      }
      t.reporters.add(rk);
      t.successful += p.successfulSessions;
      t.failed += p.failedSessions;
      const pt = t.policyTypes.get(p.policyType) ?? { successful: 0, failed: 0 };
      pt.successful += p.successfulSessions;
      pt.failed += p.failedSessions;
      t.policyTypes.set(p.policyType, pt);
      const dd = t.days.get(day) ?? { successful: 0, failed: 0 };
      dd.successful += p.successfulSessions;
      dd.failed += p.failedSessions;
      t.days.set(day, dd);
      for (const f of p.failures) {
        const mx = f.receivingMxHostname ?? f.receivingMxHelo ?? f.receivingIp ?? '(not given)';
        const key = `${mx} ${f.resultType}`;
        let g = t.failures.get(key);
        if (!g) {
          g = { mx, resultType: f.resultType, sessions: 0, sendingIps: new Set(), reporters: new Set(), first: report.begin, last: report.end, policyTypes: new Set() };
          t.failures.set(key, g);
        }
        g.sessions += f.failedSessions;
        addSmall(g.sendingIps, f.sendingMtaIp);
        addSmall(g.reporters, rk);
        g.policyTypes.add(p.policyType);
        g.first = Math.min(g.first, report.begin);
        g.last = Math.max(g.last, report.end);
      }
    }
  }

  /** Addresses of every domain's sources, busiest first: what the caller resolves. */
  sourcesByVolume(): string[] {
    const all = new Map<string, number>();
    for (const d of this.#domains.values()) for (const s of d.sources.values()) all.set(s.ip, (all.get(s.ip) ?? 0) + s.counts.messages);
    return [...all].sort((a, b) => b[1] - a[1] || compareIp(a[0], b[0])).map(([ip]) => ip);
  }

  /** The reporter's name as most of its reports spell it. */
  reporterName(key: string): string {
    const names = this.#reporterNames.get(key);
    if (!names) return key;
    return [...names].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]![0];
  }

  finish(identities: ReadonlyMap<string, SenderIdentity>, options: { maxSourcesListed: number }): PageData {
    const domains = [...this.#domains.values()].sort((a, b) => b.total.messages - a.total.messages || a.domain.localeCompare(b.domain));
    return {
      domains: domains.map((d) => this.#domainPage(d, identities, options.maxSourcesListed)),
      tls: [...this.#tls.values()].sort((a, b) => b.failed - a.failed || a.domain.localeCompare(b.domain)).map((t) => ({
        domain: t.domain,
        reports: t.reports,
        successful: t.successful,
        failed: t.failed,
        reporters: [...t.reporters].map((k) => this.reporterName(k)).sort(),
        policyTypes: [...t.policyTypes].map(([type, v]) => ({ type, ...v })).sort((a, b) => a.type.localeCompare(b.type)),
        days: [...t.days].sort(([a], [b]) => a.localeCompare(b)).map(([day, v]) => ({ day, ...v })),
        failures: [...t.failures.values()]
          .sort((a, b) => b.sessions - a.sessions || a.mx.localeCompare(b.mx) || a.resultType.localeCompare(b.resultType))
          .map((g) => ({ mx: g.mx, resultType: g.resultType, sessions: g.sessions, sendingIps: [...g.sendingIps].sort(compareIp), reporters: [...g.reporters].map((k) => this.reporterName(k)).sort(), first: g.first, last: g.last, policyTypes: [...g.policyTypes].sort() })),
      })),
    };
  }

  #domainPage(d: DomainAcc, identities: ReadonlyMap<string, SenderIdentity>, maxListed: number): DomainPage {
    const lookedUp = identities.size > 0;
    const orgOf = (ip: string): { org: string; ptr?: string; identity: SenderIdentity['status'] | 'not-looked-up' } => {
      const id = identities.get(ip);
      if (!id) return { org: lookedUp ? 'not looked up (beyond reports.page.ptr_lookups)' : 'reverse DNS not looked up', identity: 'not-looked-up' };
      if (id.status === 'confirmed') return { org: getDomain(id.name, { allowPrivateDomains: false }) ?? id.name, ptr: id.name, identity: 'confirmed' };
      if (id.status === 'unconfirmed') return { org: 'PTR not forward-confirmed', ptr: id.name, identity: 'unconfirmed' };
      if (id.status === 'no-ptr') return { org: 'no PTR', identity: 'no-ptr' };
      return { org: 'reverse DNS failed', identity: 'dns-error' };
    };
    const sources: SourceRow[] = [...d.sources.values()].map((s) => {
      const o = orgOf(s.ip);
      return {
        ip: s.ip,
        org: o.org,
        ...(o.ptr ? { ptr: o.ptr } : {}),
        identity: o.identity,
        counts: s.counts,
        headerFrom: [...s.headerFrom].sort(),
        reporters: [...s.reporters].map((k) => this.reporterName(k)).sort(),
        dkim: [...s.dkimDomains].sort(),
        spf: [...s.spfDomains].sort(),
      };
    });
    const groups = new Map<string, OrgGroup>();
    for (const s of sources) {
      let g = groups.get(s.org);
      if (!g) {
        g = { org: s.org, counts: counts(), sources: 0, listed: [] };
        groups.set(s.org, g);
      }
      g.sources++;
      const c = g.counts;
      c.messages += s.counts.messages;
      c.aligned += s.counts.aligned;
      c.forwarded += s.counts.forwarded;
      c.failing += s.counts.failing;
      c.unaligned += s.counts.unaligned;
      c.unauthenticated += s.counts.unauthenticated;
      for (const k of Object.keys(c.applied) as Disposition[]) {
        c.applied[k] += s.counts.applied[k];
        c.failingApplied[k] += s.counts.failingApplied[k];
      }
    }
    // List the sources that matter first (most failing, then most messages) up to the bound,
    // then show each group's listed sources in numeric address order.
    const ranked = [...sources].sort((a, b) => b.counts.failing - a.counts.failing || b.counts.messages - a.counts.messages || compareIp(a.ip, b.ip));
    for (const s of ranked.slice(0, maxListed)) groups.get(s.org)!.listed.push(s);
    // Within a group: the failing sources first, each part in numeric address order.
    for (const g of groups.values()) g.listed.sort((a, b) => Number(b.counts.failing > 0) - Number(a.counts.failing > 0) || compareIp(a.ip, b.ip));
    const reporters = [...d.reporters].map(([k, r]) => ({ name: this.reporterName(k), reports: r.reports, messages: r.messages, spellings: [...r.names.keys()].sort() }));
    return {
      domain: d.domain,
      reports: d.reports,
      begin: d.begin,
      end: d.end,
      ...(d.policy ? { policy: d.policy.policy } : {}),
      total: d.total,
      reporters: reporters.sort((a, b) => b.messages - a.messages || a.name.localeCompare(b.name)),
      days: [...d.days].sort(([a], [b]) => a.localeCompare(b)).map(([day, c]) => ({ day, counts: c })),
      sourceCount: sources.length,
      listedCount: Math.min(sources.length, maxListed),
      orgs: [...groups.values()].sort((a, b) => b.counts.failing - a.counts.failing || b.counts.messages - a.counts.messages || a.org.localeCompare(b.org)),
      selectors: [...d.selectors.values()].map((u) => ({ domain: u.domain, selector: u.selector, pass: u.pass, fail: u.fail, other: u.other, ...(u.firstFail !== undefined ? { firstFail: u.firstFail, lastFail: u.lastFail! } : {}), failIps: [...u.failIps].sort(compareIp), failDays: [...u.failDays].sort(([a], [b]) => a.localeCompare(b)).map(([day, n]) => ({ day, failed: n })) })).sort((a, b) => b.fail - a.fail || a.selector.localeCompare(b.selector)),
    };
  }
}

export interface SourceRow {
  readonly ip: string;
  readonly org: string;
  readonly ptr?: string;
  readonly identity: SenderIdentity['status'] | 'not-looked-up';
  readonly counts: Counts;
  readonly headerFrom: readonly string[];
  readonly reporters: readonly string[];
  /** `domain/selector:result`, at most 10. */
  readonly dkim: readonly string[];
  /** `domain:result`, at most 10. */
  readonly spf: readonly string[];
}

export interface OrgGroup {
  readonly org: string;
  readonly counts: Counts;
  sources: number;
  readonly listed: SourceRow[];
}

export interface SelectorSummary {
  readonly domain: string;
  readonly selector: string;
  readonly pass: number;
  readonly fail: number;
  readonly other: number;
  readonly firstFail?: number;
  readonly lastFail?: number;
  readonly failIps: readonly string[];
  readonly failDays: readonly { readonly day: string; readonly failed: number }[];
}

export interface DomainPage {
  readonly domain: string;
  readonly reports: number;
  readonly begin: number;
  readonly end: number;
  /** The policy the latest report saw published. */
  readonly policy?: PublishedPolicy;
  readonly total: Counts;
  readonly reporters: readonly { name: string; reports: number; messages: number; spellings: readonly string[] }[];
  readonly days: readonly { day: string; counts: Counts }[];
  readonly sourceCount: number;
  readonly listedCount: number;
  readonly orgs: readonly OrgGroup[];
  readonly selectors: readonly SelectorSummary[];
}

export interface TlsDomainPage {
  readonly domain: string;
  readonly reports: number;
  readonly successful: number;
  readonly failed: number;
  readonly reporters: readonly string[];
  readonly policyTypes: readonly { type: string; successful: number; failed: number }[];
  readonly days: readonly { day: string; successful: number; failed: number }[];
  readonly failures: readonly { mx: string; resultType: string; sessions: number; sendingIps: readonly string[]; reporters: readonly string[]; first: number; last: number; policyTypes: readonly string[] }[];
}

export interface PageData {
  readonly domains: readonly DomainPage[];
  readonly tls: readonly TlsDomainPage[];
}
