/**
 * The SMTP TLS Reporting record at `_smtp._tls.<domain>` (RFC 8460 §3): `v=TLSRPTv1`, then
 * `rua=` with one or more `mailto:` or `https:` URIs separated by commas; extension fields
 * allowed. Pure; every defect is a reason.
 */
export type TlsRptParse = { readonly ok: true; readonly rua: readonly string[] } | { readonly ok: false; readonly reason: string };

/** §3: "records that do not begin with "v=TLSRPTv1;" are discarded". */
export const isTlsRptRecord = (txt: string): boolean => /^v=TLSRPTv1(;|$)/.test(txt);

export function parseTlsRptRecord(text: string): TlsRptParse {
  if (text.length > 2048) return { ok: false, reason: `record of ${text.length} characters` };
  const fields = text.split(';').map((f) => f.replace(/^[ \t]+|[ \t]+$/g, ''));
  if (fields.at(-1) === '') fields.pop();
  if (fields[0] !== 'v=TLSRPTv1') return { ok: false, reason: 'does not start with v=TLSRPTv1' };
  let rua: string[] | undefined;
  for (const f of fields.slice(1)) {
    const m = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,31})=(.*)$/.exec(f);
    if (!m) return { ok: false, reason: `field "${f}" is not name=value` };
    if (m[1] !== 'rua') continue; // extension fields (§3: tlsrpt-extension) are ignored
    if (rua) return { ok: false, reason: 'rua= appears twice' };
    rua = m[2]!.split(',').map((u) => u.trim());
    for (const u of rua) {
      if (/^mailto:[^@\s,;!]+@[^@\s,;!]+(![0-9]+[kmgt]?)?$/i.test(u)) continue;
      if (/^https:\/\/[^\s,;]+$/i.test(u)) {
        try {
          new URL(u);
          continue;
        } catch {
          // falls through to the reason below
        }
      }
      return { ok: false, reason: `rua URI "${u}" is neither mailto:ADDRESS nor an https: URL (RFC 8460 §3)` };
    }
  }
  if (!rua || rua.length === 0 || rua.some((u) => u === '')) return { ok: false, reason: 'no rua= with a URI' };
  return { ok: true, rua };
}
