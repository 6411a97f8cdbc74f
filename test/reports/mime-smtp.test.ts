/** The report parts of a mail (postal-mime, bounded) and the SMTP client's reply handling (a scripted server on loopback). */
import test from 'ava';
import { createServer, type Server } from 'node:net';
import { ReportError } from '../../src/reports/errors.ts';
import { mailParts } from '../../src/reports/read/mail-attachments.ts';
import { smtpTransport } from '../../src/reports/smtp-client.ts';

test('MIME: nested multipart, base64 and quoted-printable, a part without headers, unterminated body; the text parts are not report candidates', async (t) => {
  const msg = [
    'Content-Type: multipart/mixed; boundary=outer',
    '',
    'preamble',
    '--outer',
    'Content-Type: multipart/alternative; boundary="in ner"',
    '',
    '--in ner',
    'Content-Type: text/plain',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'caf=C3=A9 =',
    'soft',
    '--in ner--',
    '--outer',
    '',
    'no headers here',
    '--outer',
    'Content-Type: application/zip;',
    '  name="r.zip"',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from('PK-data').toString('base64'),
    '--outer',
    'Content-Type: application/gzip',
    'Content-Disposition: attachment; filename="last.xml.gz"',
    '',
    'cut off',
  ].join('\r\n');
  const { parts } = await mailParts(Buffer.from(msg, 'latin1'), 'm');
  t.deepEqual(
    parts.map((p) => [p.mimeType, p.name, p.data.toString('utf8')]),
    [
      ['application/zip', 'r.zip', 'PK-data'],
      ['application/gzip', 'last.xml.gz', 'cut off\n'], // postal-mime ends an unterminated part with its line break
    ],
  );
});

test('MIME: nesting beyond the bound is refused, not recursed', async (t) => {
  let msg = 'body';
  for (let i = 0; i < 40; i++) msg = `Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n${msg}\r\n--b${i}--`;
  await t.throwsAsync(() => mailParts(Buffer.from(msg), 'deep'), { instanceOf: ReportError, message: /^deep: not a readable mail message: .*nesting/i });
});

async function scripted(replies: Record<string, string>): Promise<{ server: Server; port: number; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((s) => {
    s.write('220-first line\r\n220 ready\r\n');
    let buf = '';
    let inData = false;
    s.on('data', (d) => {
      buf += d.toString('latin1');
      for (let i; (i = buf.indexOf('\r\n')) >= 0; ) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (inData) {
          if (line === '.') {
            inData = false;
            s.write(replies['.'] ?? '250 2.0.0 queued as ABC\r\n');
          }
          continue;
        }
        const verb = line.split(/[ :]/)[0]!.toUpperCase();
        seen.push(line);
        if (verb === 'DATA' && !replies.DATA) inData = true;
        s.write(replies[verb] ?? (verb === 'EHLO' ? '250-hello\r\n250-PIPELINING\r\n250 8BITMIME\r\n' : verb === 'DATA' ? '354 go\r\n' : verb === 'QUIT' ? '221 bye\r\n' : '250 ok\r\n'));
        if (verb === 'QUIT') s.end();
      }
    });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port, seen };
}

const msg = { from: 'r@anchor.test', to: 'dmarc@example.test', data: Buffer.from('Subject: x\r\n\r\n.dot line\r\n') };

test('SMTP: multi-line greeting and EHLO; acceptance text returned; dot-stuffed', async (t) => {
  const s = await scripted({});
  try {
    const tr = smtpTransport({ host: '127.0.0.1', port: s.port, helo: 'anchor.test', timeoutMs: 3000 });
    t.is(await tr.send(msg), '250 2.0.0 queued as ABC');
    t.deepEqual(s.seen.slice(0, 4), ['EHLO anchor.test', 'MAIL FROM:<r@anchor.test>', 'RCPT TO:<dmarc@example.test>', 'DATA']);
  } finally {
    s.server.close();
  }
});

test('SMTP: 550 to RCPT is permanent, 451 temporary, a silent server times out (temporary)', async (t) => {
  const s1 = await scripted({ RCPT: '550 5.1.1 no such user\r\n' });
  const s2 = await scripted({ '.': '451 4.3.0 try later\r\n' });
  const silent = createServer(() => {});
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  try {
    const e1 = await t.throwsAsync(smtpTransport({ host: '127.0.0.1', port: s1.port, helo: 'x', timeoutMs: 3000 }).send(msg), { instanceOf: ReportError });
    t.is(e1?.code, 'DELIVERY_PERMANENT');
    t.regex(e1!.message, /550 5\.1\.1 no such user to RCPT TO/);
    const e2 = await t.throwsAsync(smtpTransport({ host: '127.0.0.1', port: s2.port, helo: 'x', timeoutMs: 3000 }).send(msg), { instanceOf: ReportError });
    t.is(e2?.code, 'DELIVERY_TEMPORARY');
    const e3 = await t.throwsAsync(smtpTransport({ host: '127.0.0.1', port: (silent.address() as { port: number }).port, helo: 'x', timeoutMs: 300 }).send(msg), { instanceOf: ReportError });
    t.is(e3?.code, 'DELIVERY_TEMPORARY');
    t.regex(e3!.message, /timeout/);
  } finally {
    s1.server.close();
    s2.server.close();
    silent.close();
  }
});
