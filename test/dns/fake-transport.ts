/**
 * A fake `DnsTransport` for unit tests: decodes the real request bytes with dns-packet,
 * asks a handler what to answer, and encodes a real reply — so the client's codec and
 * validation run unchanged, without sockets. Not a test file (no `.test.ts`).
 */
import * as dnsPacket from 'dns-packet';
import { DnsError, type DnsServer } from '../../src/dns/types.ts';
import type { DnsTransport, ExchangeOptions } from '../../src/dns/transport.ts';

export interface FakeQuestion {
  readonly name: string;
  readonly type: string;
  readonly server: DnsServer;
  readonly rd: boolean;
  readonly dnssecOk: boolean;
  readonly tcp: boolean;
}

export type FakeReply =
  | {
      readonly rcode?: string;
      readonly answers?: dnsPacket.Answer[];
      readonly authorities?: dnsPacket.Answer[];
      readonly aa?: boolean;
      readonly ad?: boolean;
      readonly tc?: boolean;
    }
  | { readonly fail: 'TIMEOUT' | 'NETWORK' }
  | { readonly raw: (request: Buffer) => Buffer };

export interface FakeTransport {
  readonly transport: DnsTransport;
  readonly calls: FakeQuestion[];
}

export function fakeTransport(handler: (q: FakeQuestion) => FakeReply | Promise<FakeReply>): FakeTransport {
  const calls: FakeQuestion[] = [];
  const transport: DnsTransport = async (server: DnsServer, request: Buffer, options: ExchangeOptions) => {
    const req = dnsPacket.decode(request);
    const q = req.questions![0]!;
    const opt = (req.additionals ?? []).find((a) => a.type === 'OPT') as { flags?: number } | undefined;
    const question: FakeQuestion = {
      name: q.name,
      type: q.type,
      server,
      rd: (((req as { flags?: number }).flags ?? 0) & dnsPacket.RECURSION_DESIRED) !== 0,
      dnssecOk: ((opt?.flags ?? 0) & dnsPacket.DNSSEC_OK) !== 0,
      tcp: options.tcp,
    };
    calls.push(question);
    const reply = await handler(question);
    if ('fail' in reply) throw new DnsError(reply.fail, `fake ${reply.fail}`, { server: `${server.host}:${server.port}` });
    if ('raw' in reply) return reply.raw(request);
    let flags = 0;
    if (reply.aa) flags |= dnsPacket.AUTHORITATIVE_ANSWER;
    if (reply.ad) flags |= dnsPacket.AUTHENTIC_DATA;
    if (reply.tc) flags |= dnsPacket.TRUNCATED_RESPONSE;
    const rcodes: Record<string, number> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, NOTAUTH: 9 };
    flags |= rcodes[reply.rcode ?? 'NOERROR'] ?? 0;
    return dnsPacket.encode({
      type: 'response',
      id: req.id ?? 0,
      flags,
      questions: req.questions ?? [],
      answers: reply.answers ?? [],
      authorities: reply.authorities ?? [],
    });
  };
  return { transport, calls };
}

/** An SOA for the authority section of negative answers. */
export function soa(zone: string, ttl: number, minimum: number): dnsPacket.Answer {
  return { name: zone, type: 'SOA', ttl, data: { mname: `ns1.${zone}`, rname: `hostmaster.${zone}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum } } as dnsPacket.Answer;
}
