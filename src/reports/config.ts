/** The `reports:` section of the config file. Owner: the reports feature; every key documented in mailanchor.example.yml. */
import { hostname } from 'node:os';
import { bool, domain, duration, hostPort, int, list, object, oneOf, optional, str, withDefault, type Infer } from '../config/schema.ts';

/** The host's domain (FQDN minus the first label), for the built-in org name and contact. */
function hostDomain(): string {
  const h = hostname().toLowerCase();
  const i = h.indexOf('.');
  return i > 0 ? h.slice(i + 1) : h || 'localhost';
}

const MAILBOX = /^[^\s@<>]+@[^\s@<>]+$/;

export const reportsSection = object({
  /** Generate and send aggregate reports at all (`report send` does nothing when false). */
  enabled: withDefault(bool(), true),
  /** report_metadata/org_name: who we are, as the receiving organisation. */
  org_name: withDefault(str(), () => hostDomain()),
  /** report_metadata/email and the From: of report messages. */
  email: withDefault(str({ pattern: MAILBOX, hint: 'a mailbox such as dmarc-reports@example.net' }), () => `dmarc-reports@${hostDomain()}`),
  /** Optional report_metadata/extra_contact_info (a URL or phone number). */
  extra_contact_info: optional(str()),
  /** The Submitter in the subject and file name (RFC 9990 §5.1): our domain. */
  submitter: withDefault(domain(), () => hostDomain()),
  /** Shortest reporting period; a domain's `ri` is honoured only when it asks for longer. */
  interval: withDefault(duration({ min: 3_600_000, max: 7 * 86_400_000 }), 86_400_000),
  /**
   * A period is reported only this long after it ended, so evaluations another host still
   * holds in its writer queue (a short store outage) are in the report (docs/fleet.md).
   */
  settle: withDefault(duration({ min: 0, max: 86_400_000 }), 600_000),
  /** How the message reaches the MTA: `sendmail` (a sendmail-compatible program) or `smtp`. */
  transport: withDefault(oneOf(['sendmail', 'smtp'] as const), 'sendmail'),
  /** The sendmail program and extra arguments before `-i -f FROM -- TO` (e.g. `[-C, /etc/postfix-out]`). */
  sendmail: withDefault(
    object({
      path: withDefault(str(), '/usr/sbin/sendmail'),
      args: withDefault(list(str()), () => []),
    }),
    () => ({ path: '/usr/sbin/sendmail', args: [] }),
  ),
  /** SMTP relay for `transport: smtp` (no TLS, no AUTH: meant for the local MTA). */
  smtp: withDefault(
    object({
      host: withDefault(hostPort(25), () => ({ host: '127.0.0.1', port: 25 })),
      helo: withDefault(str(), () => hostname() || 'localhost'),
      timeout: withDefault(duration({ min: 1000, max: 600_000 }), 60_000),
    }),
    () => ({ host: { host: '127.0.0.1', port: 25 }, helo: hostname() || 'localhost', timeout: 60_000 }),
  ),
  /** Addresses (`a@b.example`) or domains (`b.example`, covering subdomains) never sent a report. */
  suppress: withDefault(list(str()), () => []),
  /** After this many permanent rejections of an address, it is suppressed. */
  bounce_limit: withDefault(int({ min: 1, max: 1000 }), 3),
  /** Evaluations older than this are deleted by `report send`. */
  keep_evaluations: withDefault(duration({ min: 86_400_000 }), 31 * 86_400_000),
  /** Generated reports (and their delivery ledger) older than this are deleted. */
  keep_reports: withDefault(duration({ min: 86_400_000 }), 90 * 86_400_000),
  /** Our own ceiling on a report message, whatever the destination allows. */
  max_message_size: withDefault(int({ min: 10_000 }), 10 * 1024 * 1024),
  /** `report read`: our domains; reports about other domains are named and skipped. Empty = accept all. */
  domains: withDefault(list(domain()), () => []),
  /** `report read` bounds against zip bombs and huge mails. */
  read: withDefault(
    object({
      max_file_size: withDefault(int({ min: 1024 }), 50 * 1024 * 1024),
      max_uncompressed_size: withDefault(int({ min: 1024 }), 100 * 1024 * 1024),
      max_zip_entries: withDefault(int({ min: 1 }), 100),
    }),
    () => ({ max_file_size: 50 * 1024 * 1024, max_uncompressed_size: 100 * 1024 * 1024, max_zip_entries: 100 }),
  ),
});

export type ReportsConfig = Infer<typeof reportsSection>;
