/**
 * OpenDKIM (Debian's opendkim 2.11) as the signer a site migrates from: the real milter in
 * `Mode s` with a KeyTable and a SigningTable, driven by our MTA-side client as a local
 * (InternalHosts) client, so a test can ask which d= and s= OpenDKIM signs a From address
 * with, and compare mailanchor's choice after `keys import` (owner: keys).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MilterClient, sendMessage, type ClientModification } from '../../src/milter/mta-client.ts';
import { stopChild } from './child.ts';
import { startOpendkim } from './opendkim-verifier.ts';
import { freePort } from './ports.ts';

export interface DkimSignatureInfo {
  readonly d: string;
  readonly s: string;
  /** The header value as the milter added it. */
  readonly value: string;
}

/** d= and s= of every DKIM-Signature a milter added. */
export function signaturesOf(mods: readonly ClientModification[]): DkimSignatureInfo[] {
  return mods
    .filter((m): m is Extract<ClientModification, { kind: 'insert-header' | 'add-header' }> => (m.kind === 'insert-header' || m.kind === 'add-header') && m.name.toLowerCase() === 'dkim-signature')
    .map((m) => {
      const flat = m.value.replace(/\s+/g, '');
      return { d: /(?:^|;)d=([^;]+)/.exec(flat)?.[1] ?? '', s: /(?:^|;)s=([^;]+)/.exec(flat)?.[1] ?? '', value: m.value };
    });
}

export interface OpendkimSigner {
  /** Signs a small message From `from` as a local client; the signatures OpenDKIM added. */
  sign(from: string): Promise<DkimSignatureInfo[]>;
  log(): string;
  stop(): Promise<void>;
}

/** `keyTable` and `signingTable` as opendkim.conf names them, e.g. `refile:/path/SigningTable`. */
export async function startOpendkimSigner(dir: string, tables: { readonly keyTable: string; readonly signingTable: string }): Promise<OpendkimSigner> {
  const port = await freePort();
  const conf = join(dir, 'opendkim-sign.conf');
  writeFileSync(
    conf,
    [
      'Background no', 'Syslog no', 'Mode s', `Socket inet:${port}@127.0.0.1`, `PidFile ${join(dir, 'opendkim-sign.pid')}`,
      `KeyTable ${tables.keyTable}`, `SigningTable ${tables.signingTable}`, 'InternalHosts 127.0.0.1',
      // RequireSafeKeys checks every directory up the path, and test keys live under /tmp
      // (mode 1777): OpenDKIM would refuse them and tempfail at end of headers.
      'Canonicalization relaxed/relaxed', 'RequireSafeKeys no', 'On-Default accept', '',
    ].join('\n'),
  );
  const { child, output } = await startOpendkim(conf, port);
  return {
    async sign(from) {
      const c = await MilterClient.connect(`inet:127.0.0.1:${port}`);
      try {
        await c.negotiate();
        const r = await sendMessage(c, {
          client: { hostname: 'localhost', address: '127.0.0.1' },
          from,
          rcpts: ['bob@example.net'],
          headers: [['From', ` <${from}>`], ['To', ' bob@example.net'], ['Subject', ' migration'], ['Date', ' Tue, 01 Dec 2026 10:00:00 +0000']],
          body: 'Signed by OpenDKIM.\r\n',
        });
        return signaturesOf(r.eom?.modifications ?? []);
      } finally {
        c.quit();
      }
    },
    log: output,
    stop: () => stopChild(child, 3000),
  };
}
