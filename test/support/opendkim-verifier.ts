/**
 * OpenDKIM (Debian's opendkim 2.11, libopendkim with libunbound) as an independent DKIM
 * verifier: the real milter in `Mode v`, driven by our MTA-side client, its libunbound
 * forwarding to a test DNS server. libunbound takes no port, so that server must listen on
 * port 53 of a loopback address; and it answers zones under `test.` itself (a special-use
 * domain), so the test domains must live elsewhere (e.g. under `example.`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MilterClient, sendMessage, type ClientModification } from '../../src/milter/mta-client.ts';
import { freePort } from './ports.ts';
import { splitMessage } from './raw-message.ts';
import { stopChild, waitForListening } from './child.ts';

export const OPENDKIM = '/usr/sbin/opendkim';

export function opendkimMissing(): string | undefined {
  return existsSync(OPENDKIM) ? undefined : `${OPENDKIM} (Debian opendkim) not installed`;
}

export interface OpendkimVerifier {
  /** OpenDKIM's result per selector (`pass`, `fail`, `neutral` …) from the Authentication-Results it adds. */
  verify(message: Buffer): Promise<Map<string, string>>;
  log(): string;
  stop(): Promise<void>;
}

export async function startOpendkimVerifier(dir: string, nameserver: string): Promise<OpendkimVerifier> {
  const port = await freePort();
  const conf = join(dir, 'opendkim-verify.conf');
  writeFileSync(
    conf,
    [
      'Background no', 'Syslog no', 'Mode v', `Socket inet:${port}@127.0.0.1`, `PidFile ${join(dir, 'opendkim.pid')}`,
      'AuthservID verify.opendkim', 'AlwaysAddARHeader yes', `Nameservers ${nameserver}`, 'DNSTimeout 5',
      'MinimumKeyBits 1024', 'On-Default accept', 'On-BadSignature accept', 'On-DNSError accept', 'On-KeyNotFound accept',
      'On-NoSignature accept', 'On-InternalError accept', 'On-Security accept', 'On-SignatureError accept', '',
    ].join('\n'),
  );
  const { child, output } = await startOpendkim(conf, port);
  return {
    async verify(message) {
      const { headers, body } = splitMessage(message);
      const c = await MilterClient.connect(`inet:127.0.0.1:${port}`);
      await c.negotiate();
      const r = await sendMessage(c, { client: { hostname: 'mx.sender.example', address: '192.0.2.25' }, helo: 'mx.sender.example', from: 'sender@anchor.example', rcpts: ['bob@example.net'], headers, body });
      c.quit();
      const ar = (r.eom?.modifications ?? [])
        .filter((m): m is Extract<ClientModification, { kind: 'insert-header' | 'add-header' }> => (m.kind === 'insert-header' || m.kind === 'add-header') && m.name.toLowerCase() === 'authentication-results')
        .map((m) => m.value)
        .join(';');
      const results = new Map<string, string>();
      for (const m of ar.matchAll(/dkim=(\w+)((?:(?!dkim=)[\s\S])*)/g)) {
        const sel = /header\.s=([^\s;]+)/.exec(m[2] ?? '')?.[1];
        if (sel) results.set(sel, m[1]!);
      }
      return results;
    },
    log: output,
    stop: () => stopChild(child, 3000),
  };
}

/** `opendkim -f -x CONF` in the foreground, its output kept, once it listens on `port`. */
export async function startOpendkim(conf: string, port: number): Promise<{ child: ChildProcess; output: () => string }> {
  const child: ChildProcess = spawn(OPENDKIM, ['-f', '-x', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  await waitForListening(child, port, 'opendkim', { output: () => out });
  return { child, output: () => out };
}
