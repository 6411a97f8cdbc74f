/**
 * A generated SPF corpus for the differential test against mailauth (seeded, so every run
 * makes the same cases): a small universe of domains whose records are drawn from every
 * mechanism and modifier — include chains, redirects, mx/a with both CIDR lengths, ptr,
 * exists with macros, exp=, unknown modifiers, now and then a term with a syntax error —
 * hosts with A/AAAA, MX sets, reverse names (some validating, some not), names that fail
 * (SERVFAIL, timeout), and clients of both families including IPv4-mapped IPv6.
 */
import type { FakeName } from '../../support/fake-dns.ts';

export interface DiffCase {
  readonly id: number;
  readonly zone: Record<string, FakeName>;
  readonly ip: string;
  readonly mailFrom: string;
  readonly helo: string;
}

const HOSTS = 6;
const DOMAINS = 8;

const CLIENTS = ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.77', '198.51.100.9', '2001:db8::1', '2001:db8::2', '2001:db8:1::9', '::ffff:192.0.2.2', '2001:db8::192.0.2.1'];

export function diffCorpus(rand: () => number, count: number): DiffCase[] {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
  const chance = (p: number) => rand() < p;
  const n = (max: number) => Math.floor(rand() * max);
  const cases: DiffCase[] = [];

  for (let id = 0; id < count; id++) {
    const zone: Record<string, FakeName> = {};
    const host = () => `h${n(HOSTS)}.diff.test`;
    const dom = () => `d${n(DOMAINS)}.diff.test`;
    const v4 = () => pick(['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.0', '198.51.100.9', '203.0.113.5']);
    const v6 = () => pick(['2001:db8::1', '2001:db8::2', '2001:db8::', '2001:db8:1::9', '::ffff:192.0.2.2', '2001:db8::c000:201']);
    const q = () => (chance(0.6) ? '' : pick(['+', '-', '~', '?']));
    const cidr4 = () => pick(['', '', '/24', '/32', '/0', '/16']);
    const cidr6 = () => pick(['', '', '//64', '//128', '//0', '//32']);

    for (let i = 0; i < HOSTS; i++) {
      const name = `h${i}.diff.test`;
      const entry: Record<string, unknown> = {};
      if (chance(0.7)) entry.A = Array.from({ length: 1 + n(2) }, v4);
      if (chance(0.5)) entry.AAAA = Array.from({ length: 1 + n(2) }, v6);
      if (chance(0.08)) entry.error = pick(['SERVFAIL', 'TIMEOUT']);
      zone[name] = entry as FakeName;
    }

    const term = (): string => {
      switch (n(16)) {
        case 0:
          return `${q()}ip4:${v4()}${pick(['', '/24', '/32', '/0', '/8'])}`;
        case 1:
          return `${q()}ip6:${v6()}${pick(['', '/64', '/128', '/0', '/32', '/96'])}`;
        case 2:
          return `${q()}a${chance(0.5) ? `:${host()}` : ''}${cidr4()}${cidr6()}`;
        case 3:
          return `${q()}mx${chance(0.5) ? `:${dom()}` : ''}${cidr4()}${cidr6()}`;
        case 4:
          return `${q()}ptr${chance(0.5) ? `:${pick(['diff.test', host(), 'example.org'])}` : ''}`;
        case 5:
        case 6:
          return `${q()}include:${chance(0.9) ? dom() : 'nx.diff.test'}`;
        case 7:
          return `${q()}exists:${pick(['%{i}.bl.diff.test', '%{ir}.%{v}.rbl.diff.test', '%{l}.u.diff.test', '%{d2}.x.diff.test', host(), '%{p}.p.diff.test', '%{h}.helo.diff.test'])}`;
        case 8:
          return `${pick(['', '-', '~', '?'])}all`;
        case 9:
          return pick(['foo=bar', 'x-note=%{d}', 'v2=%{l1r-}']);
        case 12:
          return `${q()}exists:${pick(['%{ir}.%{v}.rbl.diff.test', '%{I}.BL.diff.test', '%{L}.u.diff.test', '%{s}.%{s}.%{s}.%{s}.%{s}.%{s}.%{s}.%{s}.%{s}.%{s}.t.diff.test', '%{d1r}.%{o}.x.diff.test', '%{l2r.-+}.u.diff.test'])}`;
        case 13:
          return pick(['a:cname.diff.test', 'include:cname.diff.test', 'mx:many.diff.test', 'ptr:many.diff.test', `include:${dom()}.`, `a:${host().toUpperCase()}`, 'exists:%{p}.p.diff.test']);
        case 10:
          // A syntax error here and there (RFC 7208 §4.6: permerror wherever it is).
          return pick(['moo', 'a:', 'ip4:1.2.3', 'ip6:1::2::3', 'all:x', 'mx/33', 'exists:%{x}.diff.test', 'include', 'a:diff', 'ptr/24', 'exp=', '=x']);
        default:
          return `${q()}${pick(['a', 'mx', 'ip4:192.0.2.0/24', 'ip6:2001:db8::/32'])}`;
      }
    };

    for (let i = 0; i < DOMAINS; i++) {
      const name = `d${i}.diff.test`;
      const entry: Record<string, unknown> = {};
      const terms = Array.from({ length: n(5) }, term);
      if (chance(0.25)) terms.push(`redirect=${dom()}`);
      if (chance(0.3)) terms.push('exp=why.diff.test');
      if (chance(0.6)) terms.push(`${pick(['-', '~', '?', '+'])}all`);
      if (chance(0.92)) entry.TXT = chance(0.05) ? [`v=spf1 ${terms.join(' ')}`, 'v=spf1 -all'] : [`v=spf1 ${terms.join(' ')}`, 'unrelated=txt'];
      if (chance(0.05)) entry.TXT = { error: pick(['SERVFAIL', 'TIMEOUT']) };
      if (chance(0.6)) entry.MX = Array.from({ length: n(4) }, (_, p) => ({ exchange: chance(0.9) ? host() : '', priority: p * 10 }));
      if (chance(0.4)) entry.A = [v4()];
      if (chance(0.3)) entry.AAAA = [v6()];
      zone[name] = entry as FakeName;
    }

    zone['why.diff.test'] = { TXT: [pick(['%{i} not allowed for %{d}', 'See %{r} about %{s}', 'bad %{x} text', '%{L} from %{C} via %{H} (%{p}, %{v})', 'two', ''])] };
    if (chance(0.1)) zone['why.diff.test'] = { TXT: ['one', 'two'] };
    zone['cname.diff.test'] = { CNAME: [dom()] };
    zone['many.diff.test'] = { MX: Array.from({ length: 9 + n(4) }, (_, p) => ({ exchange: host(), priority: p })) };
    for (const ip of ['1.2.0.192', '2.2.0.192', '3.2.0.192']) zone[`${ip}.bl.diff.test`] = chance(0.5) ? { A: ['127.0.0.2'] } : {};
    zone['1.2.0.192.in-addr.rbl.diff.test'] = { A: ['127.0.0.2'] };
    zone['user.u.diff.test'] = { A: ['127.0.0.2'] };
    zone['1.2.0.192.in-addr.arpa'] = { PTR: chance(0.2) ? Array.from({ length: 9 + n(4) }, () => pick([host(), 'many.diff.test', `${dom()}.`])) : [host(), host()] };
    zone['2.2.0.192.in-addr.arpa'] = chance(0.5) ? { PTR: [host()] } : { PTR: { error: 'SERVFAIL' } };
    zone['1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa'] = { PTR: [host()] };
    for (let i = 0; i < HOSTS; i++) zone[`h${i}.diff.test.p.diff.test`] = { A: ['127.0.0.2'] };
    zone['mail.helo.diff.test'] = { A: ['127.0.0.2'] };

    const d = dom();
    const nullSender = chance(0.15);
    cases.push({
      id,
      zone,
      ip: pick(CLIENTS),
      mailFrom: nullSender ? '' : `${pick(['user', 'someone', 'a.b-c', 'user', 'jörg', '', 'x+y=z', 'UPPER'])}@${chance(0.95) ? d : d.toUpperCase()}`,
      helo: nullSender ? d : pick(['mail', 'mail.example.net']),
    });
  }
  return cases;
}
