/** The config file's top-level sections; each is declared by the feature that owns it. */
import { object, withDefault, type Infer } from './schema.ts';
import { milterSection } from '../milter/config.ts';
import { logSection } from '../log/config.ts';
import { metricsSection } from '../metrics/config.ts';
import { dnsSection } from '../dns/config.ts';
import { storeSection } from '../store/config.ts';
import { inboundSection } from '../inbound/config.ts';
import { outboundSection } from '../outbound/config.ts';
import { keysSection } from '../keys/config.ts';
import { daneSection } from '../dane/config.ts';
import { reportsSection } from '../reports/config.ts';
import { auditSection } from '../audit/config.ts';

// Every section has a default for each key, so an absent file or section is a valid config.
export const configSchema = object({
  milter: withDefault(milterSection, () => milterSection({}, 'milter', [])),
  log: withDefault(logSection, () => logSection({}, 'log', [])),
  metrics: withDefault(metricsSection, () => metricsSection({}, 'metrics', [])),
  dns: withDefault(dnsSection, () => dnsSection({}, 'dns', [])),
  store: withDefault(storeSection, () => storeSection({}, 'store', [])),
  inbound: withDefault(inboundSection, () => inboundSection({}, 'inbound', [])),
  outbound: withDefault(outboundSection, () => outboundSection({}, 'outbound', [])),
  keys: withDefault(keysSection, () => keysSection({}, 'keys', [])),
  dane: withDefault(daneSection, () => daneSection({}, 'dane', [])),
  reports: withDefault(reportsSection, () => reportsSection({}, 'reports', [])),
  audit: withDefault(auditSection, () => auditSection({}, 'audit', [])),
});

export type Config = Infer<typeof configSchema>;
