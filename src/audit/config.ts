/** The `audit:` section of the config file. Owner: the audit feature; every key documented in mailanchor.example.yml. */
import { isIP } from 'node:net';
import { join } from 'node:path';
import { described, domain, duration, int, list, object, optional, str, withDefault, type Decoder, type Infer } from '../config/schema.ts';
import { defaultStateDir } from '../store/config.ts';

const ipAddress = (): Decoder<string> =>
  described('IPv4 or IPv6 address', (v, path, issues) => {
    if (typeof v === 'string' && isIP(v.trim()) !== 0) return v.trim();
    issues.push({ path, message: `expected an IPv4 or IPv6 address, got ${JSON.stringify(v)}` });
    return undefined as unknown as string;
  });

export const auditSection = object({
  /** Our outbound (sending) addresses: each needs a forward-confirmed PTR and must pass every audited domain's SPF. */
  sending_addresses: withDefault(list(ipAddress()), () => []),
  /** Domains `--all` audits besides those the config knows already (keys, hosted, DANE sites, reports). */
  domains: withDefault(list(domain()), () => []),
  /** Domains audited at the same time. */
  concurrency: withDefault(int({ min: 1, max: 256 }), 8),
  /** Wall-time budget per domain: checks still running then report `error`. */
  domain_timeout: withDefault(duration({ min: 1000, max: 3_600_000 }), 60_000),
  /** Per DNS query to an authoritative server (one retry on timeout). */
  query_timeout: withDefault(duration({ min: 100, max: 60_000 }), 3000),
  /** Per STARTTLS probe and per MTA-STS policy fetch (--connect). */
  connect_timeout: withDefault(duration({ min: 100, max: 120_000 }), 10_000),
  /** MX hosts audited per domain (highest priority first); more are reported, not probed. */
  max_mx_hosts: withDefault(int({ min: 1, max: 100 }), 10),
  /** Warn when a DNSSEC signature expires within this. */
  rrsig_expiry_warning: withDefault(duration({ min: 0, max: 90 * 86_400_000 }), 3 * 86_400_000),
  /** PEM file of extra CAs trusted for the MTA-STS policy fetch (a private CA, a test lab), besides Node's bundled roots. */
  ca_file: optional(str()),
  /** Where the audit remembers the MTA-STS policies it saw (to flag a policy changed without a new id). */
  state_dir: withDefault(str(), () => join(defaultStateDir(), 'audit'), '$STATE_DIRECTORY/audit, else /var/lib/mailanchor/audit'),
  /** Prometheus textfile (node_exporter --collector.textfile.directory) written after each run; off when absent. */
  metrics_file: optional(str()),
});

export type AuditConfig = Infer<typeof auditSection>;
