/**
 * The domains `--all` audits: every domain the config knows — signing domains and hosted
 * domains (keys.domains), the zones of the DANE sites, the report domains, and
 * audit.domains. Sorted and without duplicates. Pure.
 */
import type { Config } from '../config/sections.ts';
import { siteZone } from '../dane/config.ts';

export function configuredDomains(config: Config): string[] {
  const all = new Set<string>();
  for (const d of Object.keys(config.keys.domains)) all.add(d.toLowerCase());
  for (const site of config.dane.sites) {
    const z = siteZone(site);
    if (z) all.add(z.toLowerCase());
  }
  for (const d of config.reports.domains) all.add(d.toLowerCase());
  for (const d of config.audit.domains) all.add(d.toLowerCase());
  return [...all].sort();
}
