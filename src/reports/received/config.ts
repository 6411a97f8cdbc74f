/**
 * Config of the receiving side of reports (`reports.read`, `reports.import`,
 * `reports.page`); composed into the `reports:` section by `src/reports/config.ts`. Every
 * key is documented with its default in mailanchor.example.yml.
 */
import { described, duration, hostPort, int, object, oneOf, optional, str, withDefault, type Decoder, type Infer } from '../../config/schema.ts';
import type { ReadLimits } from '../read/limits.ts';

/** A percentage, 0–100, decimals allowed (`99.5`, `"99.5%"`). */
const percent = (): Decoder<number> =>
  described('percentage from 0 to 100', (v, path, issues) => {
    const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v.replace(/%\s*$/, '')) : NaN;
    if (!Number.isFinite(n) || n < 0 || n > 100) {
      issues.push({ path, message: `expected a percentage between 0 and 100, got ${JSON.stringify(v)}` });
      return undefined as unknown as number;
    }
    return n;
  });

const MiB = 1024 * 1024;

export const readSection = object({
  /** Largest input file, bytes (read as a stream: this bounds time, not memory). */
  max_file_size: withDefault(int({ min: 1024 }), 512 * MiB),
  /** Total decompressed from one input file, all nesting levels: zip and gzip bombs stop here. */
  max_uncompressed_size: withDefault(int({ min: 1024 }), 512 * MiB),
  /** What is held in memory at once: a mail or mbox message, an archive inside another, a TLS report. */
  max_message_size: withDefault(int({ min: 1024 }), 64 * MiB),
  /** Most entries in one zip archive. */
  max_zip_entries: withDefault(int({ min: 1 }), 100),
});

export const imapSection = object({
  /** HOST[:PORT] of the IMAP server. */
  host: withDefault(hostPort(993), () => ({ host: '127.0.0.1', port: 993 })),
  /** `implicit` (IMAPS, port 993), `starttls`, or `none` — allowed only for a loopback host. */
  tls: withDefault(oneOf(['implicit', 'starttls', 'none'] as const), 'implicit'),
  /** A PEM file of CA certificates to trust instead of the system's (a private CA). */
  ca_file: optional(str()),
  user: withDefault(str(), 'dmarc-reports'),
  /** File holding the password (first line); relative to $CREDENTIALS_DIRECTORY when that is set (systemd LoadCredential=). */
  password_file: withDefault(str(), 'imap-password'),
  /** Where reports arrive. */
  folder: withDefault(str(), 'INBOX'),
  /** Imported (or already known) reports are moved here; created when missing. */
  processed_folder: withDefault(str(), 'Reports/Processed'),
  /** Mail without a report we could use (not a report, unreadable, not our domain, too large) is moved here, so it is not read again every run. */
  failed_folder: withDefault(str(), 'Reports/Unused'),
  /** Most messages handled in one run; the rest wait for the next. */
  max_messages: withDefault(int({ min: 1, max: 100_000 }), 2000),
  /** Connection and command inactivity timeout. */
  timeout: withDefault(duration({ min: 1000, max: 600_000 }), 60_000),
});

export const importSection = object({
  /** Received reports whose period ended longer ago than this are deleted by `report import`. */
  keep: withDefault(duration({ min: 7 * 86_400_000 }), 400 * 86_400_000),
  /** The mailbox reports arrive in; without it `report import` reads only the paths given. */
  imap: optional(imapSection),
});

export const pageSection = object({
  /** The period `report page` shows and explains, ending now. */
  window: withDefault(duration({ min: 86_400_000, max: 400 * 86_400_000 }), 30 * 86_400_000),
  /** Most source addresses resolved (PTR, forward-confirmed) per page; the busiest first. */
  ptr_lookups: withDefault(int({ min: 0, max: 100_000 }), 500),
  /** All reverse lookups of one page together stop after this. */
  dns_budget: withDefault(duration({ min: 1000, max: 600_000 }), 60_000),
  /** Most source rows listed per domain in the HTML page (the rest are counted, and all are in --json). */
  max_sources_listed: withDefault(int({ min: 10, max: 100_000 }), 2000),
  /** Propose p=none → quarantine when at least this share of messages passed DMARC. */
  quarantine_at: withDefault(percent(), 98),
  /** Propose quarantine → reject when at least this share passed. */
  reject_at: withDefault(percent(), 99.5),
  /** No policy step is proposed on less evidence than this many messages … */
  min_messages: withDefault(int({ min: 1 }), 1000),
  /** … or on fewer days with reports in the window. */
  min_days: withDefault(int({ min: 1, max: 400 }), 14),
});

export type ReadConfig = Infer<typeof readSection>;
export type ImapConfig = Infer<typeof imapSection>;
export type ImportConfig = Infer<typeof importSection>;
export type PageConfig = Infer<typeof pageSection>;

export const readDefaults = (): ReadConfig => readSection({}, 'reports.read', []);

/** The reader's bounds from `reports.read`. */
export const readLimits = (c: ReadConfig): ReadLimits => ({ maxFileSize: c.max_file_size, maxUncompressedSize: c.max_uncompressed_size, maxMessageSize: c.max_message_size, maxZipEntries: c.max_zip_entries });
export const importDefaults = (): ImportConfig => importSection({}, 'reports.import', []);
export const pageDefaults = (): PageConfig => pageSection({}, 'reports.page', []);
