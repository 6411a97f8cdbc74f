/**
 * Generated received DMARC aggregate reports (RFC 7489 shape, the way Google, Microsoft,
 * Yahoo and Fastmail write them), seeded so every run makes the same bytes. A domain's
 * month of mail: our own MX (aligned), an ESP signing for us (DKIM aligned, SPF for its own
 * bounce domain), forwarders (DKIM passes, SPF fails), a forgotten sender (authenticated
 * as itself only), spoofers (nothing passes), and a selector that was rotated out.
 *
 * Used by the reader, page and IMAP tests and by the bench (1,000 reports; one 100 MB report
 * streamed to a file without holding it in memory).
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { prng } from './prng.ts';

export interface GenRow {
  ip: string;
  count: number;
  disposition: 'none' | 'quarantine' | 'reject';
  dkim: 'pass' | 'fail';
  spf: 'pass' | 'fail';
  headerFrom: string;
  envelopeFrom: string;
  dkimAuth: { domain: string; selector: string; result: string }[];
  spfAuth: { domain: string; result: string }[];
  reason?: string;
}

export interface GenReport {
  org: string;
  email: string;
  reportId: string;
  begin: number;
  end: number;
  domain: string;
  p: 'none' | 'quarantine' | 'reject';
  rows: GenRow[];
}

const xmlEsc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function recordXml(r: GenRow, eol = '\n'): string {
  const dkim = r.dkimAuth.map((d) => `<dkim><domain>${d.domain}</domain><selector>${d.selector}</selector><result>${d.result}</result></dkim>`).join('');
  const spf = r.spfAuth.map((s) => `<spf><domain>${s.domain}</domain><scope>mfrom</scope><result>${s.result}</result></spf>`).join('');
  const reason = r.reason ? `<reason><type>${r.reason}</type></reason>` : '';
  return `  <record><row><source_ip>${r.ip}</source_ip><count>${r.count}</count><policy_evaluated><disposition>${r.disposition}</disposition><dkim>${r.dkim}</dkim><spf>${r.spf}</spf>${reason}</policy_evaluated></row><identifiers><header_from>${r.headerFrom}</header_from><envelope_from>${r.envelopeFrom}</envelope_from></identifiers><auth_results>${dkim}${spf}</auth_results></record>${eol}`;
}

export function headXml(r: Omit<GenReport, 'rows'>): string {
  return `<?xml version="1.0" encoding="UTF-8" ?>\n<feedback>\n  <report_metadata><org_name>${xmlEsc(r.org)}</org_name><email>${r.email}</email><report_id>${r.reportId}</report_id><date_range><begin>${r.begin}</begin><end>${r.end}</end></date_range></report_metadata>\n  <policy_published><domain>${r.domain}</domain><adkim>r</adkim><aspf>r</aspf><p>${r.p}</p><sp>${r.p}</sp><pct>100</pct></policy_published>\n`;
}

export function reportXml(r: GenReport): string {
  return `${headXml(r)}${r.rows.map((x) => recordXml(x)).join('')}</feedback>\n`;
}

export const DAY = 86_400;

export interface MonthOptions {
  readonly domain: string;
  /** First day (unix s, midnight UTC). */
  readonly start: number;
  readonly days: number;
  readonly seed: number;
  readonly p?: 'none' | 'quarantine' | 'reject';
  /** Distinct spoofing addresses over the month. */
  readonly spoofers?: number;
  /** Day index from which our selector `s2025` is retired and `s2026` signs. */
  readonly rotateOnDay?: number;
}

/** Reporters as they name themselves (Fastmail's two spellings are both real). */
const REPORTERS = [
  { org: 'google.com', email: 'noreply-dmarc-support@google.com', share: 0.55 },
  { org: 'Enterprise Outlook', email: 'dmarcreport@microsoft.com', share: 0.25 },
  { org: 'Yahoo', email: 'dmarchelp@yahooinc.com', share: 0.12 },
  { org: 'Fastmail Pty Ltd', email: 'dmarc-reports@fastmail.com', share: 0.04 },
  { org: 'FastMail Pty Ltd', email: 'dmarc-reports@fastmail.com', share: 0.04 },
];

/** A month of daily reports from each reporter. */
export function month(o: MonthOptions): GenReport[] {
  const rnd = prng(o.seed);
  const int = (a: number, b: number) => a + Math.floor(rnd() * (b - a + 1));
  const out: GenReport[] = [];
  const spoofers = Array.from({ length: o.spoofers ?? 40 }, (_, i) => `198.51.${100 + (i >> 8)}.${i & 255}`);
  for (let d = 0; d < o.days; d++) {
    const begin = o.start + d * DAY;
    const rotated = o.rotateOnDay !== undefined && d >= o.rotateOnDay;
    const ours = rotated ? 's2026' : 's2025';
    for (const [ri, rep] of REPORTERS.entries()) {
      const k = rep.share;
      const rows: GenRow[] = [];
      const mx = (ip: string, n: number) =>
        rows.push({ ip, count: n, disposition: 'none', dkim: 'pass', spf: 'pass', headerFrom: o.domain, envelopeFrom: o.domain, dkimAuth: [{ domain: o.domain, selector: ours, result: 'pass' }], spfAuth: [{ domain: o.domain, result: 'pass' }] });
      mx('192.0.2.25', Math.max(1, Math.round(int(900, 1100) * k)));
      mx('2001:db8::25', Math.max(1, Math.round(int(300, 400) * k)));
      // The ESP signs for us; its envelope is its own bounce domain.
      rows.push({ ip: `203.0.113.${10 + (d % 4)}`, count: Math.max(1, Math.round(int(200, 260) * k)), disposition: 'none', dkim: 'pass', spf: 'fail', headerFrom: o.domain, envelopeFrom: 'bounce.esp.test', dkimAuth: [{ domain: o.domain, selector: 'esp1', result: 'pass' }], spfAuth: [{ domain: 'bounce.esp.test', result: 'pass' }] });
      // Forwarders: our signature survives, SPF fails at the forwarder's address.
      if (d % 2 === ri % 2) rows.push({ ip: `100.64.${ri}.${d % 7}`, count: int(1, 6), disposition: 'none', dkim: 'pass', spf: 'fail', headerFrom: o.domain, envelopeFrom: o.domain, dkimAuth: [{ domain: o.domain, selector: ours, result: 'pass' }], spfAuth: [{ domain: o.domain, result: 'softfail' }] });
      // A mailing list that rewrote the message: the receiver says so.
      if (ri === 0 && d % 3 === 0) rows.push({ ip: '100.64.200.1', count: int(1, 3), disposition: 'none', dkim: 'fail', spf: 'fail', headerFrom: o.domain, envelopeFrom: 'lists.test', dkimAuth: [{ domain: o.domain, selector: ours, result: 'fail' }, { domain: 'lists.test', selector: 'l', result: 'pass' }], spfAuth: [{ domain: 'lists.test', result: 'pass' }], reason: 'mailing_list' });
      // The forgotten sender: a CRM that signs as itself.
      if (ri < 3) rows.push({ ip: '192.0.2.77', count: int(2, 8), disposition: o.p === 'reject' ? 'reject' : o.p === 'quarantine' ? 'quarantine' : 'none', dkim: 'fail', spf: 'fail', headerFrom: o.domain, envelopeFrom: 'crm.test', dkimAuth: [{ domain: 'crm.test', selector: 'c1', result: 'pass' }], spfAuth: [{ domain: 'crm.test', result: 'pass' }] });
      // Late deliveries signed with the old selector after a rotation.
      if (rotated && d - o.rotateOnDay! < 3 && ri < 2) rows.push({ ip: '192.0.2.25', count: int(1, 4), disposition: 'none', dkim: 'fail', spf: 'fail', headerFrom: o.domain, envelopeFrom: 'forwarder.test', dkimAuth: [{ domain: o.domain, selector: 's2025', result: 'fail' }], spfAuth: [{ domain: 'forwarder.test', result: 'fail' }] });
      // Spoofers.
      for (let s = 0; s < 3; s++) {
        const ip = spoofers[int(0, spoofers.length - 1)]!;
        rows.push({ ip, count: int(1, 5), disposition: o.p === 'none' || !o.p ? 'none' : o.p, dkim: 'fail', spf: 'fail', headerFrom: o.domain, envelopeFrom: o.domain, dkimAuth: [], spfAuth: [{ domain: o.domain, result: 'fail' }] });
      }
      out.push({ org: rep.org, email: rep.email, reportId: `${ri}-${o.domain}-${begin}`, begin, end: begin + DAY - 1, domain: o.domain, p: o.p ?? 'none', rows });
    }
  }
  return out;
}

/** A report message as the big receivers mail it: the gzip or zip attached, base64, CRLF. */
export function reportMail(attachment: Buffer, fileName: string, contentType: string, subject: string, extraHeaders: readonly string[] = []): Buffer {
  const b64 = attachment.toString('base64').replace(/.{1,76}/g, '$&\r\n');
  return Buffer.from(
    [
      ...extraHeaders,
      'From: noreply-dmarc-support@google.com',
      'To: dmarc@example.test',
      `Subject: ${subject}`,
      'Date: Mon, 02 Nov 2026 01:02:03 +0000',
      'Message-ID: <r@google.com>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b0u"',
      '',
      '--b0u',
      'Content-Type: text/plain; charset="UTF-8"',
      '',
      'This is an aggregate report.',
      '',
      '--b0u',
      `Content-Type: ${contentType}; name="${fileName}"`,
      `Content-Disposition: attachment; filename="${fileName}"`,
      'Content-Transfer-Encoding: base64',
      '',
      b64,
      '--b0u--',
      '',
    ].join('\r\n'),
  );
}

/**
 * Writes one aggregate report of at least `bytes` bytes to `file`, streaming (never held
 * whole). Rows cycle through `distinct` source addresses in 10.0.0.0/8.
 */
export async function writeHugeReport(file: string, bytes: number, distinct = 50_000): Promise<{ rows: number; messages: number }> {
  const out = createWriteStream(file);
  const head = headXml({ org: 'Huge Reporter', email: 'r@huge.test', reportId: 'huge-1', begin: 1_793_491_200, end: 1_793_577_599, domain: 'example.test', p: 'reject' });
  let written = 0;
  const put = async (s: string) => {
    written += s.length;
    if (!out.write(s)) await once(out, 'drain');
  };
  await put(head);
  let rows = 0;
  let messages = 0;
  while (written < bytes) {
    const i = rows % distinct;
    const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const pass = rows % 10 !== 0;
    const n = 1 + (rows % 7);
    await put(
      recordXml({
        ip,
        count: n,
        disposition: pass ? 'none' : 'reject',
        dkim: pass ? 'pass' : 'fail',
        spf: pass ? 'pass' : 'fail',
        headerFrom: 'example.test',
        envelopeFrom: 'example.test',
        dkimAuth: [{ domain: 'example.test', selector: 's2026', result: pass ? 'pass' : 'fail' }],
        spfAuth: [{ domain: 'example.test', result: pass ? 'pass' : 'fail' }],
      }),
    );
    rows++;
    messages += n;
  }
  await put('</feedback>\n');
  out.end();
  await once(out, 'finish');
  return { rows, messages };
}
