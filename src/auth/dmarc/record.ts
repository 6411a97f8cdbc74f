/**
 * The DMARC Policy Record (RFC 9989 §4.7, grammar §4.8), parsed the way the RFC asks:
 *
 * - `v=DMARC1` must be the first tag, value case-sensitive; otherwise the text is not a
 *   DMARC record at all and is discarded (§4.7 "v") — `parseDmarcRecord` returns undefined.
 * - Unknown tags are ignored (§4.7), and so are tags that do not match `dmarc-tag`; a known
 *   tag with an invalid value is dropped in favour of its default (§4.8 "Syntax errors in
 *   the remainder of the record MUST be discarded in favor of default values") and listed
 *   in `invalid`, because an invalid p, sp or np changes how the record applies (§4.10.1).
 * - `pct`, `rf` and `ri` were removed by RFC 9989 (Appendix C.5.2): ignored like any unknown tag.
 * - Values are case-insensitive (RFC 5234 §2.3: ABNF quoted strings are), tag names too; the
 *   first occurrence of a tag wins (the RFC does not say; the first is what a reader sees).
 *
 * Several character-strings of one TXT record are joined without separator (§4.5).
 */
import type { DmarcPolicy, DmarcRecord } from '../results.ts';

const POLICIES: readonly DmarcPolicy[] = ['none', 'quarantine', 'reject'];

/** dmarc-sep = *WSP ";" *WSP; WSP is SP / HTAB only (RFC 5234). */
const WSP = /^[ \t]+|[ \t]+$/g;
/** dmarc-tag = 1*ALPHA equals 1*dmarc-value; dmarc-value = %x20-3A / %x3C-7E. */
const TAG = /^([A-Za-z]+)[ \t]*=[ \t]*([\x20-\x3a\x3c-\x7e]+)$/;
/** RFC 3986 URI characters, with "," and "!" excluded (they must be percent-encoded, §4.8). */
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:(?:[A-Za-z0-9\-._~:/?#[\]@$&'()*+=]|%[0-9A-Fa-f]{2})+$/;
/** obs-dmarc-report-size = "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] — ignored (§4.8). */
const OBS_SIZE = /!\d+[kmgtKMGT]?$/;

/** The joined character-strings of a TXT record. */
export function joinTxt(strings: readonly string[]): string {
  return strings.join('');
}

/** True when the text starts with the `v=DMARC1` tag (§4.10 steps 2 and 6 keep only these). */
export function isDmarcRecord(text: string): boolean {
  const first = text.split(';', 1)[0]!.replace(WSP, '');
  const m = /^v[ \t]*=[ \t]*(.*)$/.exec(first);
  return m !== null && m[1] === 'DMARC1';
}

/** dmarc-urilist: the valid URIs; invalid entries dropped (§4.8), undefined when none is valid. */
function uriList(value: string): string[] | undefined {
  const uris = value
    .split(',')
    .map((u) => u.replace(WSP, '').replace(OBS_SIZE, ''))
    .filter((u) => URI.test(u));
  return uris.length ? uris : undefined;
}

/** dmarc-fo: a ":"-list of 0, 1, d, s — 0 and 1 exclusive, each at most once. */
function failureOptions(value: string): string | undefined {
  const items = value.toLowerCase().split(':');
  if (items.some((x) => !['0', '1', 'd', 's'].includes(x))) return undefined;
  if (new Set(items).size !== items.length) return undefined;
  if (items.includes('0') && items.includes('1')) return undefined;
  return items.join(':');
}

/** Parses one DMARC record; undefined when the text is not a DMARC record (no leading v=DMARC1). */
export function parseDmarcRecord(text: string): DmarcRecord | undefined {
  // Leading/trailing white space around the whole record is tolerated (published records
  // often have it); it is what dmarc-sep would allow between tags anyway.
  if (!isDmarcRecord(text)) return undefined;
  const seen = new Set<string>();
  const invalid: string[] = [];
  let p: DmarcPolicy | undefined;
  let sp: DmarcPolicy | undefined;
  let np: DmarcPolicy | undefined;
  let adkim: 'r' | 's' = 'r';
  let aspf: 'r' | 's' = 'r';
  let psd: 'y' | 'n' | 'u' = 'u';
  let testing = false;
  let rua: string[] = [];
  let ruf: string[] = [];
  let fo: string | undefined;

  for (const part of text.split(';').slice(1)) {
    const m = TAG.exec(part.replace(WSP, ''));
    if (!m) continue; // not a dmarc-tag: ignored
    const name = m[1]!.toLowerCase();
    const value = m[2]!.replace(WSP, '');
    if (seen.has(name)) continue;
    seen.add(name);
    const lower = value.toLowerCase();
    const policy = (POLICIES as readonly string[]).includes(lower) ? (lower as DmarcPolicy) : undefined;
    switch (name) {
      case 'p':
        if (policy) p = policy;
        else invalid.push(name);
        break;
      case 'sp':
        if (policy) sp = policy;
        else invalid.push(name);
        break;
      case 'np':
        if (policy) np = policy;
        else invalid.push(name);
        break;
      case 'adkim':
      case 'aspf':
        if (lower === 'r' || lower === 's') {
          if (name === 'adkim') adkim = lower;
          else aspf = lower;
        } else invalid.push(name);
        break;
      case 'psd':
        if (lower === 'y' || lower === 'n' || lower === 'u') psd = lower;
        else invalid.push(name);
        break;
      case 't':
        if (lower === 'y' || lower === 'n') testing = lower === 'y';
        else invalid.push(name);
        break;
      case 'rua':
      case 'ruf': {
        const uris = uriList(value);
        if (!uris) invalid.push(name);
        else if (name === 'rua') rua = uris;
        else ruf = uris;
        break;
      }
      case 'fo': {
        const f = failureOptions(value);
        if (f === undefined) invalid.push(name);
        else fo = f;
        break;
      }
      default:
        break; // unknown (or removed: pct, rf, ri) — ignored, §4.7
    }
  }
  return {
    ...(p ? { p } : {}),
    ...(sp ? { sp } : {}),
    ...(np ? { np } : {}),
    adkim,
    aspf,
    psd,
    testing,
    rua,
    ruf,
    ...(fo !== undefined ? { fo } : {}),
    invalid,
  };
}
