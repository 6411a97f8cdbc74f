/**
 * The RFC 7208 (openspf) suite as data (owner: spf): each scenario's `zonedata` as a
 * `fakeLookup` zone, each test as a case. Used by the engine test
 * (test/auth/spf/rfc7208-suite.test.ts) and by whoever runs the suite again at the milter
 * wire — `loadSpfSuite()` then `fakeLookup(scenario.zone)` per scenario.
 *
 * Zone data the way the suite's own driver (pyspf test/testspf.py) serves it:
 * - `SPF` records are also served as TXT when the name lists no TXT record of its own
 *   (the suite README: "auto-magic duplication of SPF to TXT records"); type SPF itself
 *   is never asked for (RFC 7208 §3.1 removed it).
 * - `TXT: NONE` means "no TXT record here" (and stops that duplication).
 * - `TIMEOUT` in a name's list: a query for any type with no record listed before it times
 *   out (a TIMEOUT DnsError); the types listed before it answer normally.
 * - MX `[priority, name]`; `""` is a null MX.
 */
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { RRType, MxRecord } from '../../src/dns/types.ts';
import type { SpfResult } from '../../src/auth/results.ts';
import type { FakeName } from './fake-dns.ts';

export const SPF_SUITE_PATH = new URL('../fixtures/suites/spf/rfc7208-tests.yml', import.meta.url).pathname;

export interface SpfSuiteCase {
  readonly scenario: string;
  readonly name: string;
  /** RFC 7208 section/paragraph the case tests, as the suite writes it. */
  readonly spec: string;
  readonly description: string;
  readonly helo: string;
  readonly host: string;
  readonly mailfrom: string;
  /** Any of these results passes (the suite lists several where the RFC allows them). */
  readonly results: readonly SpfResult[];
  /** Expected explanation: a string, null for "DEFAULT" (no exp= text used), undefined when not checked. */
  readonly explanation?: string | null;
}

export interface SpfSuiteScenario {
  readonly description: string;
  readonly zone: Readonly<Record<string, FakeName>>;
  readonly cases: readonly SpfSuiteCase[];
}

type ZoneItem = string | Readonly<Record<string, unknown>>;

const SERVED: readonly RRType[] = ['A', 'AAAA', 'TXT', 'MX', 'PTR', 'CNAME'];

/** One name's record list → a fake-dns entry. */
export function suiteName(items: readonly ZoneItem[]): FakeName {
  const records: { [T in RRType]?: unknown[] } = {};
  const answeredBeforeTimeout = new Set<RRType>();
  const spf: (readonly string[])[] = [];
  let ownTxt = false;
  let timeout = false;
  for (const item of items) {
    if (item === 'TIMEOUT') {
      timeout = true;
      continue;
    }
    if (typeof item === 'string') throw new Error(`unknown zone item ${item}`);
    for (const [type, value] of Object.entries(item)) {
      if (type === 'SPF') {
        spf.push(strings(value));
        continue;
      }
      const t = type as RRType;
      if (!SERVED.includes(t)) throw new Error(`unknown record type ${type}`);
      if (t === 'TXT') {
        ownTxt = true;
        if (value === 'NONE') continue;
      }
      if (!timeout) answeredBeforeTimeout.add(t);
      (records[t] ??= []).push(convert(t, value));
    }
  }
  // The driver appends the SPF-made TXT records after every other item, so after a TIMEOUT.
  if (!ownTxt && spf.length > 0) (records.TXT ??= []).push(...spf);
  const entry: Record<string, unknown> = {};
  for (const t of SERVED) {
    if (timeout && !answeredBeforeTimeout.has(t)) entry[t] = { error: 'TIMEOUT' };
    else if (records[t]) entry[t] = records[t];
  }
  return entry as FakeName;
}

function strings(value: unknown): readonly string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.map(String);
  throw new Error(`bad TXT/SPF value ${JSON.stringify(value)}`);
}

function convert(type: RRType, value: unknown): unknown {
  switch (type) {
    case 'TXT':
      return strings(value);
    case 'MX': {
      const [priority, exchange] = value as [number, string];
      return { priority: Number(priority), exchange: String(exchange).toLowerCase().replace(/\.$/, '') } satisfies MxRecord;
    }
    default:
      return String(value);
  }
}

export function suiteZone(zonedata: Readonly<Record<string, readonly ZoneItem[]>>): Record<string, FakeName> {
  const zone: Record<string, FakeName> = {};
  for (const [name, items] of Object.entries(zonedata)) zone[name] = suiteName(items ?? []);
  return zone;
}

interface RawTest {
  spec?: string | number;
  description?: string;
  helo: string;
  host: string;
  mailfrom: string;
  result: SpfResult | SpfResult[];
  explanation?: string;
}

export function loadSpfSuite(path = SPF_SUITE_PATH): SpfSuiteScenario[] {
  const scenarios: SpfSuiteScenario[] = [];
  for (const doc of parseAllDocuments(readFileSync(path, 'utf8'))) {
    if ('errors' in doc && doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0]!.message}`);
    const data = doc.toJS() as { description: string; tests: Record<string, RawTest>; zonedata: Record<string, ZoneItem[]> } | null;
    if (!data) continue;
    const cases = Object.entries(data.tests).map(([name, t]): SpfSuiteCase => ({
      scenario: data.description,
      name,
      spec: String(t.spec ?? ''),
      description: String(t.description ?? '').trim(),
      helo: String(t.helo),
      host: String(t.host),
      mailfrom: String(t.mailfrom ?? ''),
      results: Array.isArray(t.result) ? t.result : [t.result],
      ...(t.explanation === undefined ? {} : { explanation: t.explanation === 'DEFAULT' ? null : String(t.explanation) }),
    }));
    scenarios.push({ description: data.description, zone: suiteZone(data.zonedata ?? {}), cases });
  }
  return scenarios;
}
