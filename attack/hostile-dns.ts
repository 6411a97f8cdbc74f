/**
 * A hostile DNS server on loopback (UDP and TCP), for attack runs and regression tests: it
 * serves a small declarative zone, and for the names and types a rule matches it delays,
 * answers REFUSED or SERVFAIL, drops the query, truncates (and then fails over TCP), sends
 * a reply with a wrong id or for a wrong question, or sends garbage. Everything it was
 * asked is recorded (`queries`), so a test can count what a message cost the sender's DNS.
 *
 *   node attack/hostile-dns.ts --port 5300 --zone zone.json [--rules rules.json]
 *
 * zone.json: `{ "good.test": { "TXT": ["v=spf1 -all"], "A": ["192.0.2.1"] }, … }`;
 * rules.json: `[{ "name": "dead.test", "fault": { "kind": "rcode", "rcode": "REFUSED" } },
 * { "name": "re:^10\\.2\\.0\\.192", "type": "PTR", "delayMs": 1500 }]` (`re:` = a regular
 * expression). Only for 127.0.0.0/8 or ::1: it is an attack tool, not a name server.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import * as dnsPacket from 'dns-packet';

export type RecordType = 'A' | 'AAAA' | 'TXT' | 'MX' | 'PTR' | 'CNAME' | 'NS';

/** Records by name (lower case, no trailing dot) and type. TXT: one string or its character-strings. */
export type Zone = Record<string, Partial<{ A: string[]; AAAA: string[]; TXT: Array<string | string[]>; MX: Array<{ exchange: string; priority: number }>; PTR: string[]; CNAME: string[]; NS: string[] }>>;

export type Fault =
  | { readonly kind: 'rcode'; readonly rcode: 'SERVFAIL' | 'REFUSED' | 'FORMERR' | 'NOTIMP' }
  /** No reply at all: the client times out. */
  | { readonly kind: 'drop' }
  /** UDP: an empty reply with TC set; then over TCP `answer`, close the connection, or say nothing. */
  | { readonly kind: 'truncate'; readonly tcp: 'answer' | 'close' | 'drop' }
  /** A reply with another id (and never one with the right id). */
  | { readonly kind: 'wrong-id' }
  /** The right id, another question, rcode SERVFAIL: a spoof that must be ignored. */
  | { readonly kind: 'wrong-question' }
  /** Our id, then random bytes. */
  | { readonly kind: 'garbage' };

export interface Rule {
  /** A name (exact, case-insensitive) or a pattern. */
  readonly name: string | RegExp;
  readonly type?: RecordType | 'ANY';
  /** Wait this long before answering (or before the fault). */
  readonly delayMs?: number;
  readonly fault?: Fault;
}

export interface HostileDnsOptions {
  readonly zone?: Zone;
  readonly rules?: readonly Rule[];
  /** The zone apex for the SOA of negative answers. Default `test`. */
  readonly apex?: string;
  readonly host?: string;
  readonly port?: number;
  readonly ttl?: number;
}

export interface QueryLog {
  readonly name: string;
  readonly type: string;
  readonly transport: 'udp' | 'tcp';
  readonly at: number;
}

export interface HostileDns {
  readonly server: { readonly host: string; readonly port: number };
  readonly queries: QueryLog[];
  setRules(rules: readonly Rule[]): void;
  setZone(zone: Zone): void;
  stop(): Promise<void>;
}

const norm = (n: string): string => n.toLowerCase().replace(/\.$/, '');

function matches(rule: Rule, name: string, type: string): boolean {
  const n = norm(name);
  const nameOk = typeof rule.name === 'string' ? norm(rule.name) === n : rule.name.test(n);
  return nameOk && (!rule.type || rule.type === 'ANY' || rule.type === type);
}

const RCODES = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

/** The honest answer from the zone. */
function answer(req: dnsPacket.DecodedPacket, zone: Zone, apex: string, ttl: number, flags = 0): Buffer {
  const q = req.questions![0]!;
  const name = norm(q.name);
  const entry = zone[name];
  const known = entry !== undefined || Object.keys(zone).some((z) => z.endsWith(`.${name}`));
  const answers: dnsPacket.Answer[] = [];
  const type = q.type as RecordType;
  const records = entry?.[type];
  if (entry?.CNAME && type !== 'CNAME') {
    answers.push({ name: q.name, type: 'CNAME', ttl, data: entry.CNAME[0]! } as dnsPacket.Answer);
  } else if (records) {
    for (const r of records as unknown[]) {
      if (type === 'MX') {
        const mx = r as { exchange: string; priority: number };
        answers.push({ name: q.name, type: 'MX', ttl, data: { exchange: mx.exchange, preference: mx.priority } } as dnsPacket.Answer);
      } else answers.push({ name: q.name, type, ttl, data: type === 'TXT' ? (Array.isArray(r) ? r : [r as string]) : r } as dnsPacket.Answer);
    }
  }
  const soa = { name: apex, type: 'SOA', ttl, data: { mname: `ns.${apex}`, rname: `hostmaster.${apex}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: ttl } } as dnsPacket.Answer;
  return dnsPacket.encode({
    type: 'response',
    id: req.id ?? 0,
    flags: (dnsPacket.AUTHORITATIVE_ANSWER | flags | (known ? RCODES.NOERROR : RCODES.NXDOMAIN)) & 0xffff,
    questions: req.questions ?? [],
    answers,
    authorities: answers.length ? [] : [soa],
  });
}

function bare(req: dnsPacket.DecodedPacket, flags: number, questions = req.questions ?? [], id = req.id ?? 0): Buffer {
  return dnsPacket.encode({ type: 'response', id, flags, questions });
}

type Reply = { readonly kind: 'reply'; readonly bytes: Buffer } | { readonly kind: 'none' } | { readonly kind: 'close' };

export async function startHostileDns(o: HostileDnsOptions = {}): Promise<HostileDns> {
  let zone: Zone = Object.fromEntries(Object.entries(o.zone ?? {}).map(([k, v]) => [norm(k), v]));
  let rules: readonly Rule[] = o.rules ?? [];
  const apex = o.apex ?? 'test';
  const ttl = o.ttl ?? 0;
  const host = o.host ?? '127.0.0.1';
  if (!/^127\.|^::1$/.test(host)) throw new Error('the hostile DNS server only listens on loopback');
  const queries: QueryLog[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  async function respond(request: Buffer, transport: 'udp' | 'tcp'): Promise<Reply> {
    let req: dnsPacket.DecodedPacket;
    try {
      req = dnsPacket.decode(request);
    } catch {
      return { kind: 'none' };
    }
    const q = req.questions?.[0];
    if (!q) return { kind: 'reply', bytes: bare(req, RCODES.FORMERR) };
    queries.push({ name: norm(q.name), type: q.type, transport, at: Date.now() });
    const rule = rules.find((r) => matches(r, q.name, q.type));
    if (rule?.delayMs) await later(rule.delayMs);
    const f = rule?.fault;
    if (!f) return { kind: 'reply', bytes: answer(req, zone, apex, ttl) };
    switch (f.kind) {
      case 'rcode':
        return { kind: 'reply', bytes: bare(req, RCODES[f.rcode]) };
      case 'drop':
        return { kind: 'none' };
      case 'truncate':
        if (transport === 'udp') return { kind: 'reply', bytes: bare(req, dnsPacket.TRUNCATED_RESPONSE) };
        return f.tcp === 'answer' ? { kind: 'reply', bytes: answer(req, zone, apex, ttl) } : f.tcp === 'close' ? { kind: 'close' } : { kind: 'none' };
      case 'wrong-id':
        return { kind: 'reply', bytes: bare(req, RCODES.NOERROR, req.questions, ((req.id ?? 0) + 1) & 0xffff) };
      case 'wrong-question':
        return { kind: 'reply', bytes: bare(req, RCODES.SERVFAIL, [{ name: 'spoof.invalid', type: q.type, class: 'IN' }]) };
      case 'garbage': {
        const g = Buffer.alloc(40);
        for (let i = 2; i < g.length; i++) g[i] = (i * 131 + 7) & 0xff;
        g.writeUInt16BE(req.id ?? 0, 0);
        g[2] = 0x81; // QR set: looks like a reply
        return { kind: 'reply', bytes: g };
      }
    }
  }

  const onDatagram = (udp: UdpSocket) => (msg: Buffer, rinfo: { port: number; address: string }): void => {
    void respond(msg, 'udp').then((r) => {
      if (r.kind === 'reply') udp.send(r.bytes, rinfo.port, rinfo.address, () => undefined);
    });
  };
  const conns = new Set<Socket>();
  const tcp: Server = createServer((sock) => {
    conns.add(sock);
    sock.on('close', () => conns.delete(sock));
    sock.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        void respond(msg, 'tcp').then((r) => {
          if (r.kind === 'close') sock.destroy();
          else if (r.kind === 'reply' && !sock.destroyed) {
            const head = Buffer.alloc(2);
            head.writeUInt16BE(r.bytes.length);
            sock.write(Buffer.concat([head, r.bytes]));
          }
        });
      }
    });
  });
  // UDP and TCP on one port: with port 0 the UDP port the kernel picks may be taken for TCP
  // by someone else; then try another.
  let udp: UdpSocket | undefined;
  let port = 0;
  for (let attempt = 0; attempt < 20 && !udp; attempt++) {
    const u = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    u.on('message', onDatagram(u));
    await new Promise<void>((resolve, reject) => {
      u.once('error', reject);
      u.bind(o.port ?? 0, host, () => resolve());
    });
    port = u.address().port;
    const listened = await new Promise<boolean>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => (err.code === 'EADDRINUSE' && o.port === undefined ? resolve(false) : reject(err));
      tcp.once('error', onError);
      tcp.listen(port, host, () => {
        tcp.off('error', onError);
        resolve(true);
      });
    });
    if (listened) udp = u;
    else await new Promise<void>((r) => u.close(() => r()));
  }
  if (!udp) throw new Error('no port free for both UDP and TCP');
  const udpSocket = udp;
  return {
    server: { host, port },
    queries,
    setRules(r) {
      rules = r;
    },
    setZone(z) {
      zone = Object.fromEntries(Object.entries(z).map(([k, v]) => [norm(k), v]));
    },
    async stop() {
      for (const t of timers) clearTimeout(t);
      for (const c of conns) c.destroy();
      await Promise.all([new Promise<void>((r) => udpSocket.close(() => r())), new Promise<void>((r) => tcp.close(() => r()))]);
    },
  };
}

function parseRules(raw: unknown): Rule[] {
  if (!Array.isArray(raw)) throw new Error('rules: expected a list');
  return raw.map((r: Record<string, unknown>) => ({
    ...(r as object),
    name: typeof r['name'] === 'string' && r['name'].startsWith('re:') ? new RegExp(r['name'].slice(3), 'i') : String(r['name']),
  })) as Rule[];
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '5300' }, host: { type: 'string', default: '127.0.0.1' }, zone: { type: 'string' }, rules: { type: 'string' } } });
  const dns = await startHostileDns({
    host: values.host,
    port: Number(values.port),
    ...(values.zone ? { zone: JSON.parse(readFileSync(values.zone, 'utf8')) as Zone } : {}),
    ...(values.rules ? { rules: parseRules(JSON.parse(readFileSync(values.rules, 'utf8'))) } : {}),
  });
  console.log(`hostile DNS on ${dns.server.host}:${dns.server.port} (udp+tcp); Ctrl-C stops`);
  process.on('SIGINT', () => void dns.stop().then(() => process.exit(0)));
  process.on('SIGTERM', () => void dns.stop().then(() => process.exit(0)));
}

if (import.meta.main) await main();
