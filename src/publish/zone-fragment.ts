/**
 * Renders the records a publisher owns as a zone-file fragment for `$INCLUDE`
 * (BIND/Knot/NSD). Pure; writing it atomically and reloading is the publisher's job.
 * TXT strings are quoted with `"` and `\` escaped (RFC 1035 §5.1).
 */
export interface DnsRecord {
  /** Absolute owner name, without the trailing dot. */
  readonly name: string;
  readonly type: 'TXT' | 'TLSA' | 'CNAME';
  readonly ttl: number;
  /** TXT: the character-strings; others: the presentation-format RDATA as one element. */
  readonly data: readonly string[];
}

function quote(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export function renderFragment(owner: string, records: readonly DnsRecord[]): string {
  const lines = [`; managed by mailanchor (owner: ${owner}); do not edit`];
  const sorted = [...records].sort((a, b) => (a.name + a.type).localeCompare(b.name + b.type));
  for (const r of sorted) {
    const rdata = r.type === 'TXT' ? `( ${r.data.map(quote).join(' ')} )` : r.data.join(' ');
    lines.push(`${r.name}. ${r.ttl} IN ${r.type} ${rdata}`);
  }
  return `${lines.join('\n')}\n`;
}
