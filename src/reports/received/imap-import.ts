/**
 * `report import` from the mailbox reports arrive in (IMAP4rev1/rev2, RFC 3501 / RFC 9051,
 * via imapflow: literals, MOVE with its COPY+EXPUNGE fallback, STARTTLS, UIDPLUS).
 *
 * One message at a time: fetch (size checked first), read, store, then MOVE it — to the
 * processed folder when it held a report (new or already stored), to the failed folder when
 * it held none we could use. A message is moved only after its reports are committed, so a
 * crash between the two leaves it in place and the next run finds it a duplicate and moves
 * it then. A store failure stops the run with the message untouched (exit 75: retried). A
 * message with a report that another import (another host reading the same mailbox) is
 * storing right now stays too: that import may still fail, and the next run settles it.
 *
 * One importer per mailbox at a time, fleet-wide: the run holds the store's lease
 * `report-import:USER@HOST:PORT/FOLDER` (the one the key rotation uses, another name),
 * renewed before each message. Two hosts whose timers fire together would otherwise both
 * fetch and MOVE the same messages — the store keeps each report once either way, but Dovecot
 * files a message both sessions move at the same moment twice (measured: 24 of 132). The
 * other host sees the lease and does nothing; a holder killed mid-run frees it by expiry
 * (LEASE_MS), at once on its own host (its pid is gone).
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { isAbsolute, join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { ReportError } from '../errors.ts';
import type { ReadLimits } from '../read/limits.ts';
import { ConsumerFailure, readBuffer, type ReadOutcome, type ReportConsumer } from '../read/reader.ts';
import { staleHolder, type Lease } from '../../keys/lease.ts';
import type { ImapConfig } from './config.ts';

/** Longer than one message can take (64 MiB at ~10 MB/s, plus IMAP timeouts), short enough that a host's death delays imports little. */
export const LEASE_MS = 10 * 60_000;

export interface ImapImportDeps {
  readonly env: NodeJS.ProcessEnv;
  readonly limits: ReadLimits;
  /** Builds the consumer for one message (its source label is `imap:FOLDER/UID`). */
  readonly consumer: (source: string) => ReportConsumer;
  readonly onOutcome: (o: ReadOutcome) => void;
  readonly onMove: (uid: number, folder: string, why: string) => void;
  /** The store's lease and who we are (`leaseHolder()`); time injected. */
  readonly lease: Lease;
  readonly holder: string;
  readonly now: () => number;
}

export interface ImapImportResult {
  /** `busy`: another run (on this or another host) holds the mailbox's lease; nothing was done. */
  readonly status: 'done' | 'busy' | 'lease-lost';
  readonly messages: number;
  readonly processed: number;
  readonly failed: number;
  /** Messages left for the next run: over maxMessages, or with a report another import is storing now. */
  readonly left: number;
}

const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));

export async function readPassword(cfg: ImapConfig, env: NodeJS.ProcessEnv): Promise<string> {
  const file = isAbsolute(cfg.password_file) ? cfg.password_file : env.CREDENTIALS_DIRECTORY ? join(env.CREDENTIALS_DIRECTORY, cfg.password_file) : undefined;
  if (!file) throw new ReportError('MAILBOX', `reports.import.imap.password_file "${cfg.password_file}" is relative and $CREDENTIALS_DIRECTORY is not set (systemd LoadCredential=); give an absolute path`);
  try {
    const first = (await readFile(file, 'utf8')).split(/\r?\n/)[0] ?? '';
    if (!first) throw new Error('empty');
    return first;
  } catch (err) {
    throw new ReportError('MAILBOX', `cannot read the IMAP password from ${file}: ${(err as Error).message}`, {}, { cause: err });
  }
}

function mailboxError(what: string, err: unknown): ReportError {
  if (err instanceof ReportError) return err;
  const e = err as Error & { responseText?: string; code?: string };
  return new ReportError('MAILBOX', `${what}: ${e.responseText ?? e.message}${e.code ? ` (${e.code})` : ''}`, {}, { cause: err });
}

export async function importFromImap(cfg: ImapConfig, deps: ImapImportDeps): Promise<ImapImportResult> {
  if (cfg.tls === 'none' && !isLoopback(cfg.host.host)) {
    throw new ReportError('MAILBOX', `reports.import.imap.tls: none is allowed only for a loopback host, not ${cfg.host.host} (the password would cross the network in clear)`);
  }
  const lease = `report-import:${cfg.user}@${cfg.host.host}:${cfg.host.port}/${cfg.folder}`;
  if (!(await deps.lease.acquire(lease, deps.holder, deps.now(), LEASE_MS, staleHolder))) return { status: 'busy', messages: 0, processed: 0, failed: 0, left: 0 };
  try {
    return await importHoldingLease(cfg, deps, lease);
  } finally {
    await deps.lease.release(lease, deps.holder).catch(() => undefined); // it expires by itself
  }
}

async function importHoldingLease(cfg: ImapConfig, deps: ImapImportDeps, lease: string): Promise<ImapImportResult> {
  const pass = await readPassword(cfg, deps.env);
  const ca = cfg.ca_file ? await readFile(cfg.ca_file).catch((err: Error) => Promise.reject(mailboxError(`reports.import.imap.ca_file ${cfg.ca_file}`, err))) : undefined;
  const client = new ImapFlow({
    host: cfg.host.host,
    port: cfg.host.port,
    secure: cfg.tls === 'implicit',
    doSTARTTLS: cfg.tls === 'starttls' ? true : cfg.tls === 'none' ? false : undefined,
    auth: { user: cfg.user, pass },
    logger: false,
    disableAutoIdle: true,
    connectionTimeout: cfg.timeout,
    greetingTimeout: cfg.timeout,
    socketTimeout: cfg.timeout,
    tls: { ...(ca ? { ca } : {}), minVersion: 'TLSv1.2' },
    clientInfo: { name: 'mailanchor' },
  });
  // imapflow also reports socket errors as events; without a listener they would crash the process.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    throw mailboxError(`cannot log in to ${cfg.host.host}:${cfg.host.port} as ${cfg.user}`, err);
  }
  let processed = 0;
  let failed = 0;
  let messages = 0;
  let left = 0;
  let status: ImapImportResult['status'] = 'done';
  try {
    const existing = new Set((await client.list()).map((m) => m.path));
    for (const folder of [cfg.processed_folder, cfg.failed_folder]) {
      if (!existing.has(folder)) await client.mailboxCreate(folder).catch((err: unknown) => Promise.reject(mailboxError(`cannot create folder ${folder}`, err)));
    }
    const lock = await client.getMailboxLock(cfg.folder).catch((err: unknown) => Promise.reject(mailboxError(`cannot open folder ${cfg.folder}`, err)));
    try {
      const found = (await client.search({ all: true }, { uid: true })) || [];
      const uids = [...found].sort((a, b) => a - b);
      left = Math.max(0, uids.length - cfg.max_messages);
      const todo = uids.slice(0, cfg.max_messages);
      for (const [i, uid] of todo.entries()) {
        // Expired and taken by another run (this one stalled): stop before touching another message.
        if (!(await deps.lease.renew(lease, deps.holder, deps.now(), LEASE_MS))) {
          status = 'lease-lost';
          left += todo.length - i;
          break;
        }
        messages++;
        const source = `imap:${cfg.folder}/${uid}`;
        const head = await client.fetchOne(String(uid), { size: true }, { uid: true });
        if (!head) continue; // expunged meanwhile
        let destination: string;
        let why: string;
        if ((head.size ?? 0) > deps.limits.maxMessageSize) {
          deps.onOutcome({ status: 'skipped', source, code: 'TOO_LARGE', reason: `message of ${head.size} bytes, above reports.read.max_message_size (${deps.limits.maxMessageSize})` });
          destination = cfg.failed_folder;
          why = 'too large';
        } else {
          const msg = await client.fetchOne(String(uid), { source: true }, { uid: true });
          if (!msg || !msg.source) continue;
          let usable = false;
          let elsewhere = false;
          // A ConsumerFailure (the store) ends the run here, the message left in place.
          for await (const o of readBuffer(source, msg.source, deps.limits, deps.consumer(source))) {
            deps.onOutcome(o);
            if (o.status === 'read' || (o.status === 'skipped' && o.code === 'DUPLICATE')) usable = true;
            if (o.status === 'skipped' && o.code === 'IN_PROGRESS') elsewhere = true;
          }
          if (elsewhere) {
            left++;
            continue;
          }
          destination = usable ? cfg.processed_folder : cfg.failed_folder;
          why = usable ? 'report stored or already known' : 'no usable report';
        }
        const moved = await client.messageMove(String(uid), destination, { uid: true }).catch((err: unknown) => Promise.reject(mailboxError(`cannot move message ${uid} to ${destination}`, err)));
        if (!moved) throw new ReportError('MAILBOX', `the server did not move message ${uid} to ${destination}`);
        deps.onMove(uid, destination, why);
        if (destination === cfg.processed_folder) processed++;
        else failed++;
      }
    } finally {
      lock.release();
    }
  } catch (err) {
    if (err instanceof ConsumerFailure) throw err;
    throw mailboxError(`IMAP ${cfg.host.host}`, err);
  } finally {
    await client.logout().catch(() => client.close());
  }
  return { status, messages, processed, failed, left };
}
