/** The UDP/TCP transport against tiny hostile servers on loopback: spoofed ids ignored, sizes bounded, early close reported. */
import test from 'ava';
import { createSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { lookup } from 'node:dns/promises';
import * as dnsPacket from 'dns-packet';
import { queryServer } from '../../src/dns/client.ts';
import { networkTransport } from '../../src/dns/transport.ts';
import { DnsError } from '../../src/dns/types.ts';

function answerTo(request: Buffer, idDelta = 0, value = 'real'): Buffer {
  const req = dnsPacket.decode(request);
  return dnsPacket.encode({
    type: 'response',
    id: ((req.id ?? 0) + idDelta) & 0xffff,
    questions: req.questions ?? [],
    answers: [{ name: req.questions![0]!.name, type: 'TXT', ttl: 60, data: value }],
  });
}

test('UDP: garbage and replies with another id are ignored; the matching reply wins', async (t) => {
  const srv = createSocket('udp4');
  await new Promise<void>((r) => srv.bind(0, '127.0.0.1', () => r()));
  srv.on('message', (msg, rinfo) => {
    srv.send(Buffer.from([1, 2, 3]), rinfo.port, rinfo.address); // too short to be DNS
    srv.send(answerTo(msg, 1, 'spoofed'), rinfo.port, rinfo.address); // wrong id
    const query = Buffer.from(msg);
    query.writeUInt16BE(query.readUInt16BE(2) & 0x7fff, 2);
    srv.send(query, rinfo.port, rinfo.address); // right id but QR=0 (a query, not a reply)
    setTimeout(() => srv.send(answerTo(msg), rinfo.port, rinfo.address), 20);
  });
  try {
    const a = await queryServer({ host: '127.0.0.1', port: srv.address().port }, 'x.test', 'TXT', { timeoutMs: 2000 });
    t.deepEqual(a.records, [['real']]);
  } finally {
    srv.close();
  }
});

async function tcpServer(onData: (sock: import('node:net').Socket, data: Buffer) => void): Promise<{ server: Server; port: number }> {
  const server = createServer((sock) => sock.on('data', (d) => onData(sock, d)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as { port: number }).port };
}

test('TCP: an announced reply larger than maxResponseBytes is refused before it is read', async (t) => {
  const { server, port } = await tcpServer((sock) => {
    const head = Buffer.alloc(2);
    head.writeUInt16BE(60_000);
    sock.write(head);
  });
  try {
    const err = await t.throwsAsync(networkTransport({ host: '127.0.0.1', port }, answerTo(dnsPacket.encode({ id: 5, questions: [{ name: 'x.test', type: 'TXT' }] })), { tcp: true, timeoutMs: 2000, maxResponseBytes: 4096 }), { instanceOf: DnsError });
    t.is(err.code, 'MALFORMED');
  } finally {
    server.close();
  }
});

test('TCP: a connection closed mid-reply is NETWORK; a reply with another id is MALFORMED (our own connection: a broken server)', async (t) => {
  const { server, port } = await tcpServer((sock) => {
    sock.end(Buffer.from([0, 50, 1, 2, 3]));
  });
  const other = await tcpServer((sock, data) => {
    const reply = answerTo(data.subarray(2), 7);
    const head = Buffer.alloc(2);
    head.writeUInt16BE(reply.length);
    sock.write(Buffer.concat([head, reply]));
  });
  try {
    const e1 = await t.throwsAsync(queryServer({ host: '127.0.0.1', port }, 'x.test', 'TXT', { tcpOnly: true, timeoutMs: 2000 }), { instanceOf: DnsError });
    t.is(e1.code, 'NETWORK');
    const e2 = await t.throwsAsync(queryServer({ host: '127.0.0.1', port: other.port }, 'x.test', 'TXT', { tcpOnly: true, timeoutMs: 2000 }), { instanceOf: DnsError });
    t.is(e2.code, 'MALFORMED');
  } finally {
    server.close();
    other.server.close();
  }
});

test('a host name for a server is resolved by the system resolver (/etc/hosts)', async (t) => {
  const { address, family } = await lookup('localhost');
  const srv = createSocket(family === 6 ? 'udp6' : 'udp4');
  await new Promise<void>((r) => srv.bind(0, address, () => r()));
  srv.on('message', (msg, rinfo) => srv.send(answerTo(msg), rinfo.port, rinfo.address));
  try {
    const a = await queryServer({ host: 'localhost', port: srv.address().port }, 'x.test', 'TXT', { timeoutMs: 2000 });
    t.deepEqual(a.records, [['real']]);
  } finally {
    srv.close();
  }
});

/** A reply to another question, with the id of ours: what a spoofer who guessed id and port sends. */
function wrongQuestion(request: Buffer): Buffer {
  const req = dnsPacket.decode(request);
  return dnsPacket.encode({
    type: 'response',
    id: req.id ?? 0,
    flags: 2, // SERVFAIL: were it taken, the attempt would fail
    questions: [{ name: 'spoof.test', type: 'TXT', class: 'IN' }],
  });
}

test('UDP: a reply with our id but another question (or a SERVFAIL for it) is ignored, the real one wins (RFC 5452 §9.1)', async (t) => {
  const srv = createSocket('udp4');
  await new Promise<void>((r) => srv.bind(0, '127.0.0.1', () => r()));
  srv.on('message', (msg, rinfo) => {
    srv.send(wrongQuestion(msg), rinfo.port, rinfo.address);
    const otherType = dnsPacket.decode(msg);
    srv.send(dnsPacket.encode({ type: 'response', id: otherType.id ?? 0, flags: 2, questions: [{ name: 'x.test', type: 'A', class: 'IN' }] }), rinfo.port, rinfo.address);
    setTimeout(() => srv.send(answerTo(msg), rinfo.port, rinfo.address), 30);
  });
  try {
    const a = await queryServer({ host: '127.0.0.1', port: srv.address().port }, 'x.test', 'TXT', { timeoutMs: 2000 });
    t.deepEqual(a.records, [['real']]);
  } finally {
    srv.close();
  }
});

test('UDP: only wrong-question replies: the attempt times out (temperror), it is not failed early', async (t) => {
  const srv = createSocket('udp4');
  await new Promise<void>((r) => srv.bind(0, '127.0.0.1', () => r()));
  srv.on('message', (msg, rinfo) => srv.send(wrongQuestion(msg), rinfo.port, rinfo.address));
  try {
    const started = Date.now();
    const err = await t.throwsAsync(queryServer({ host: '127.0.0.1', port: srv.address().port }, 'x.test', 'TXT', { timeoutMs: 300 }), { instanceOf: DnsError });
    t.is(err.code, 'TIMEOUT');
    t.true(Date.now() - started >= 280);
  } finally {
    srv.close();
  }
});

test('the TCP retry after a truncated UDP reply gets what is left of one deadline, not a fresh timeout', async (t) => {
  let clock = 0;
  const seen: Array<{ tcp: boolean; timeoutMs: number }> = [];
  const transport = async (_s: unknown, request: Buffer, o: { tcp: boolean; timeoutMs: number }): Promise<Buffer> => {
    seen.push({ tcp: o.tcp, timeoutMs: o.timeoutMs });
    clock += 700; // this exchange took 700 ms
    const req = dnsPacket.decode(request);
    return dnsPacket.encode({ type: 'response', id: req.id ?? 0, flags: o.tcp ? 0 : dnsPacket.TRUNCATED_RESPONSE, questions: req.questions ?? [], answers: o.tcp ? [{ name: 'x.test', type: 'TXT', ttl: 5, data: 'tcp' }] : [] });
  };
  const a = await queryServer({ host: '127.0.0.1', port: 53 }, 'x.test', 'TXT', { timeoutMs: 1000, transport, now: () => clock });
  t.deepEqual(a.records, [['tcp']]);
  t.deepEqual(seen, [{ tcp: false, timeoutMs: 1000 }, { tcp: true, timeoutMs: 300 }]);

  clock = 0;
  seen.length = 0;
  const slow = async (s: unknown, request: Buffer, o: { tcp: boolean; timeoutMs: number }): Promise<Buffer> => {
    const r = await transport(s, request, o);
    clock += 400; // 1100 ms: the deadline has passed before the retry
    return r;
  };
  const err = await t.throwsAsync(queryServer({ host: '127.0.0.1', port: 53 }, 'x.test', 'TXT', { timeoutMs: 1000, transport: slow, now: () => clock }), { instanceOf: DnsError });
  t.is(err.code, 'TIMEOUT');
  t.is(seen.length, 1, 'no TCP retry once the deadline has passed');
});
