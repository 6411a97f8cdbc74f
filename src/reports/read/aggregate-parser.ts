/**
 * A streaming reader of DMARC aggregate reports (RFC 7489 Appendix C, RFC 9990 Appendix
 * A): text goes in by chunks, the header comes out as soon as it is complete and rows
 * come out as they close, so a 100 MB report never exists as one string or one tree.
 * saxes checks well-formedness (XML 1.0, linear time); this file decides what the
 * elements mean.
 *
 * Lenient where real senders are sloppy: any namespace prefix or none, elements in any
 * order inside their parent, unknown elements ignored, upper-case values (`Pass`), empty
 * `<org_name>`, `<auth_results>`, `<reason>` or `<human_result>`. Strict where a wrong
 * answer would follow: the root must be `<feedback>`, a report needs a date range and a
 * policy domain, a row needs an IP address and a count (a row without them is dropped and
 * its messages named in a warning, so totals stay honest).
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { SaxesParser } from 'saxes';
import { ReportError } from '../errors.ts';
import type { AggregateHeader, AggregateRow, AlignedResult, Disposition, DkimAuth, OverrideReason, PublishedPolicy, SpfAuth } from './model.ts';
import { printable } from './printable.ts';
import { Warnings } from './warnings.ts';

export const DMARC_2_NS = 'urn:ietf:params:xml:ns:dmarc-2.0';

/** Longest text kept from one element; report values are short (a comment is the longest). */
const MAX_TEXT = 4096;
/** Rows kept while waiting for a header that comes after the records (out-of-order reports). */
const MAX_EARLY_ROWS = 100_000;
/** DKIM/SPF results kept per row; RFC 9990 §3.2.3 suggests at most 100 signatures. */
const MAX_AUTH = 100;

const DISPOSITIONS = new Set<Disposition>(['none', 'pass', 'quarantine', 'reject']);

function disposition(v: string | undefined): Disposition | undefined {
  if (v === undefined || v === '') return undefined;
  const d = v.toLowerCase() as Disposition;
  return DISPOSITIONS.has(d) ? d : 'unknown';
}

function aligned(v: string | undefined): AlignedResult {
  if (v === undefined || v === '') return 'unknown';
  return v.toLowerCase() === 'pass' ? 'pass' : 'fail';
}

/** Canonical text of an IP address (IPv6 compressed, lower case), or undefined. */
export function canonicalIp(text: string): string | undefined {
  const v = text.trim();
  const family = isIP(v);
  if (family === 4) return v.split('.').map((o) => String(Number(o))).join('.');
  if (family === 6) return new URL(`http://[${v}]/`).hostname.slice(1, -1);
  return undefined;
}

const domainOf = (v: string | undefined): string => (v ?? '').trim().toLowerCase().replace(/\.$/, '');
const collapse = (v: string | undefined): string => (v ?? '').replace(/\s+/g, ' ').trim();

interface RecordDraft {
  sourceIp?: string;
  count?: string;
  disposition?: string;
  dkim?: string;
  spf?: string;
  reasons: OverrideReason[];
  reason?: { type?: string; comment?: string };
  headerFrom?: string;
  envelopeFrom?: string;
  envelopeTo?: string;
  dkimAuth: DkimAuth[];
  spfAuth: SpfAuth[];
  auth?: { domain?: string; selector?: string; result?: string; scope?: string };
}

export interface AggregateStats {
  rows: number;
  messages: number;
  droppedRows: number;
  droppedMessages: number;
}

export class AggregateParser {
  readonly warnings = new Warnings();
  readonly stats: AggregateStats = { rows: 0, messages: 0, droppedRows: 0, droppedMessages: 0 };
  readonly #sax: SaxesParser<{ xmlns: false; position: true }>;
  readonly #stack: string[] = [];
  #text = '';
  #truncated = false;
  #root = false;
  #namespace: string | undefined;
  #version: string | undefined;
  readonly #meta: Record<string, string> = {};
  readonly #errors: string[] = [];
  readonly #policy: Record<string, string> = {};
  #record: RecordDraft | undefined;
  #rows: AggregateRow[] = [];
  #header: AggregateHeader | undefined;
  #sawRecord = false;
  #closed = false;
  /** The tolerated element around <feedback>, if any. */
  #wrapper: string | undefined;
  /** </feedback> has closed. */
  #done = false;
  #ignoreRest = false;

  constructor() {
    this.#sax = new SaxesParser({ xmlns: false, position: true });
    this.#sax.on('error', (err) => {
      throw new ReportError('UNREADABLE', `malformed XML: ${err.message}`, {}, { cause: err });
    });
    this.#sax.on('opentag', (tag) => this.#open(tag.name, tag.attributes as Record<string, string>));
    this.#sax.on('closetag', () => this.#close());
    this.#sax.on('text', (t) => this.#addText(t));
    this.#sax.on('cdata', (t) => this.#addText(t));
  }

  /** The header, once metadata and policy are complete and the records began (or after `end`). */
  get header(): AggregateHeader | undefined {
    return this.#header;
  }

  write(text: string): void {
    if (this.#ignoreRest) return;
    try {
      this.#sax.write(text);
    } catch (err) {
      if (!this.#afterFeedback(err)) throw err;
    }
  }

  /** Once </feedback> has closed, what follows (an unclosed wrapper, junk) cannot change the report. */
  #afterFeedback(err: unknown): boolean {
    if (!this.#done || !(err instanceof ReportError) || err.code !== 'UNREADABLE') return false;
    this.warnings.add(`ignored after </feedback>: ${err.message}`);
    this.#ignoreRest = true;
    return true;
  }

  /** Ends the document: throws when it is not a complete report. */
  end(): AggregateHeader {
    if (!this.#closed) {
      this.#closed = true;
      if (!this.#ignoreRest) {
        try {
          this.#sax.close();
        } catch (err) {
          if (!this.#afterFeedback(err)) throw err;
        }
      }
    }
    if (!this.#root) throw new ReportError('NOT_A_REPORT', this.#wrapper === undefined ? 'XML without a <feedback> element' : `XML whose root is <${this.#wrapper}>, not a DMARC aggregate report's <feedback>`);
    this.#header ??= this.#buildHeader();
    return this.#header;
  }

  /** Rows completed since the last call; none while the header is still incomplete. */
  takeRows(): AggregateRow[] {
    if (!this.#header) return [];
    const out = this.#rows;
    this.#rows = [];
    return out;
  }

  #local(name: string): string {
    const i = name.indexOf(':');
    return i < 0 ? name : name.slice(i + 1);
  }

  #open(rawName: string, attributes: Record<string, string>): void {
    if (this.#done) return;
    const name = this.#local(rawName);
    const depth = this.#stack.length;
    if (depth === 0) {
      if (name !== 'feedback') {
        // One wrapper around <feedback> is tolerated: IKEA's reports came inside an
        // unclosed <xs:schema>. Anything else at the root is not a report.
        if (this.#wrapper === undefined && !this.#root) {
          this.#wrapper = rawName;
          return;
        }
        throw new ReportError('NOT_A_REPORT', `XML whose root is <${this.#wrapper ?? rawName}>, not a DMARC aggregate report's <feedback>`);
      }
      if (this.#wrapper !== undefined) this.warnings.add(`<feedback> found inside <${this.#wrapper}>`);
      this.#root = true;
      for (const [k, v] of Object.entries(attributes)) if ((k === 'xmlns' || k.startsWith('xmlns:')) && v === DMARC_2_NS) this.#namespace = v;
    }
    this.#stack.push(name);
    this.#text = '';
    this.#truncated = false;
    const parent = this.#stack[depth - 1];
    if (depth === 1 && name === 'record') {
      this.#sawRecord = true;
      if (!this.#header && this.#headerComplete()) this.#header = this.#buildHeader();
      this.#record = { reasons: [], dkimAuth: [], spfAuth: [] };
    } else if (this.#record && parent === 'policy_evaluated' && name === 'reason') this.#record.reason = {};
    else if (this.#record && parent === 'auth_results' && (name === 'dkim' || name === 'spf')) this.#record.auth = {};
  }

  #addText(t: string): void {
    if (this.#truncated || this.#done) return;
    if (this.#text.length + t.length > MAX_TEXT) {
      this.#text += t.slice(0, MAX_TEXT - this.#text.length);
      this.#truncated = true;
      this.warnings.add(`text of <${this.#stack.at(-1)}> longer than ${MAX_TEXT} characters, cut`);
      return;
    }
    this.#text += t;
  }

  #close(): void {
    if (this.#done || this.#stack.length === 0) return; // the tolerated wrapper, or after </feedback>
    const s = this.#stack;
    const name = s.pop()!;
    if (s.length === 0) {
      this.#done = true;
      return;
    }
    const depth = s.length; // depth of the closed element's parent chain
    const value = printable(this.#text).trim();
    this.#text = '';
    const top = s[1]; // report_metadata, policy_published, record (s[0] is feedback)
    if (depth === 1) {
      if (name === 'version') this.#version = value;
      else if (name === 'record') this.#finishRecord();
      return;
    }
    if (top === 'report_metadata') {
      if (depth === 2 && name !== 'date_range') {
        if (name === 'error') {
          if (value && this.#errors.length < 20) this.#errors.push(value);
        } else this.#meta[name] = value;
      } else if (depth === 3 && s[2] === 'date_range') this.#meta[`date_range/${name}`] = value;
      return;
    }
    if (top === 'policy_published') {
      if (depth === 2) this.#policy[name] = value;
      return;
    }
    const r = this.#record;
    if (top !== 'record' || !r) return;
    const parent = s[depth - 1];
    const section = s[2]; // row, identifiers, auth_results
    if (section === 'row') {
      if (depth === 3) {
        if (name === 'source_ip') r.sourceIp = value;
        else if (name === 'count') r.count = value;
      } else if (depth === 4 && parent === 'policy_evaluated') {
        if (name === 'disposition') r.disposition = value;
        else if (name === 'dkim') r.dkim = value;
        else if (name === 'spf') r.spf = value;
        else if (name === 'reason' && r.reason) {
          const type = (r.reason.type ?? '').toLowerCase();
          const comment = r.reason.comment ?? '';
          if (type || comment) r.reasons.push(comment ? { type: type || 'other', comment } : { type: type || 'other' });
          delete r.reason;
        }
      } else if (depth === 5 && parent === 'reason' && r.reason) {
        if (name === 'type') r.reason.type = value;
        else if (name === 'comment') r.reason.comment = value;
      }
    } else if (section === 'identifiers' && depth === 3) {
      if (name === 'header_from') r.headerFrom = value;
      else if (name === 'envelope_from') r.envelopeFrom = value;
      else if (name === 'envelope_to') r.envelopeTo = value;
    } else if (section === 'auth_results') {
      if (depth === 3 && (name === 'dkim' || name === 'spf') && r.auth) {
        this.#finishAuth(r, name, r.auth);
        delete r.auth;
      } else if (depth === 4 && r.auth && (parent === 'dkim' || parent === 'spf')) {
        if (name === 'domain' || name === 'selector' || name === 'result' || name === 'scope') r.auth[name] = value;
      }
    }
  }

  #finishAuth(r: RecordDraft, kind: 'dkim' | 'spf', a: NonNullable<RecordDraft['auth']>): void {
    const domain = domainOf(a.domain);
    const result = (a.result ?? '').toLowerCase();
    if (!domain && !result) return; // an empty <dkim/> or <spf/>: nothing was evaluated
    if (kind === 'dkim') {
      if (r.dkimAuth.length >= MAX_AUTH) return;
      const selector = (a.selector ?? '').trim().toLowerCase();
      r.dkimAuth.push(selector ? { domain, selector, result: result || 'none' } : { domain, result: result || 'none' });
    } else {
      if (r.spfAuth.length >= MAX_AUTH) return;
      const scope = (a.scope ?? '').toLowerCase();
      r.spfAuth.push(scope === 'mfrom' || scope === 'helo' ? { domain, scope, result: result || 'none' } : { domain, result: result || 'none' });
    }
  }

  #finishRecord(): void {
    const r = this.#record;
    this.#record = undefined;
    if (!r) return;
    const ip = canonicalIp(r.sourceIp ?? '');
    const count = /^\d{1,15}$/.test(r.count ?? '') ? Number(r.count) : undefined;
    if (ip === undefined || count === undefined) {
      this.stats.droppedRows++;
      if (count !== undefined) this.stats.droppedMessages += count;
      this.warnings.add(
        ip === undefined
          ? `record dropped: <source_ip> ${JSON.stringify((r.sourceIp ?? '').slice(0, 60))} is not an IP address`
          : `record dropped: <count> ${JSON.stringify((r.count ?? '').slice(0, 30))} is not a number`,
      );
      return;
    }
    const d = disposition(r.disposition);
    if (d === undefined) this.warnings.add('record without <disposition>: counted as none');
    if (d === 'unknown') this.warnings.add(`unknown <disposition> ${JSON.stringify(r.disposition!.slice(0, 30))}`);
    const row: AggregateRow = {
      sourceIp: ip,
      count,
      disposition: d ?? 'none',
      dkim: aligned(r.dkim),
      spf: aligned(r.spf),
      reasons: r.reasons,
      headerFrom: domainOf(r.headerFrom),
      ...(r.envelopeFrom !== undefined ? { envelopeFrom: domainOf(r.envelopeFrom) } : {}),
      ...(r.envelopeTo ? { envelopeTo: domainOf(r.envelopeTo) } : {}),
      dkimAuth: r.dkimAuth,
      spfAuth: r.spfAuth,
    };
    this.stats.rows++;
    this.stats.messages += count;
    if (!Number.isSafeInteger(this.stats.messages)) throw new ReportError('NOT_A_REPORT', 'message counts add up beyond 2^53');
    if (!this.#header && this.#rows.length >= MAX_EARLY_ROWS) {
      throw new ReportError('TOO_LARGE', `more than ${MAX_EARLY_ROWS} records before <report_metadata>/<policy_published> were complete`);
    }
    this.#rows.push(row);
  }

  #headerComplete(): boolean {
    const m = this.#meta;
    return m['date_range/begin'] !== undefined && m['date_range/end'] !== undefined && m.report_id !== undefined && this.#policy.domain !== undefined;
  }

  #buildHeader(): AggregateHeader {
    const m = this.#meta;
    const p = this.#policy;
    if (Object.keys(m).length === 0 && Object.keys(p).length === 0 && !this.#sawRecord) {
      throw new ReportError('NOT_A_REPORT', '<feedback> without <report_metadata>, <policy_published> or <record>');
    }
    const secs = (v: string | undefined, what: string): number => {
      // Integers per the schema; some reporters write "1538413632.0" or pad with blanks.
      const n = v === undefined || v === '' ? NaN : Number(v);
      if (!Number.isFinite(n) || n < 0 || n > 4_102_444_800) throw new ReportError('NOT_A_REPORT', `<date_range><${what}> ${v === undefined ? 'missing' : JSON.stringify(v.slice(0, 40))}: not a Unix time`);
      return Math.floor(n);
    };
    let begin = secs(m['date_range/begin'], 'begin');
    let end = secs(m['date_range/end'], 'end');
    if (end < begin) {
      this.warnings.add('<date_range> ends before it begins: swapped');
      [begin, end] = [end, begin];
    }
    const domain = domainOf(p.domain);
    if (!domain) throw new ReportError('NOT_A_REPORT', '<policy_published> without <domain>');
    const email = collapse(m.email);
    let orgName = collapse(m.org_name);
    if (!orgName) {
      // RFC 7489's schema allows an empty string; the contact's domain names the reporter best.
      orgName = email.includes('@') ? email.slice(email.lastIndexOf('@') + 1).toLowerCase() : 'unknown reporter';
      this.warnings.add(`empty <org_name>: reporter named ${orgName}`);
    }
    let reportId = collapse(m.report_id);
    if (!reportId) {
      // Without an id a report mailed twice cannot be told apart; a digest of what names it can.
      reportId = `sha256:${createHash('sha256').update(`${orgName}\0${email}\0${begin}\0${end}\0${domain}`).digest('hex').slice(0, 24)}`;
      this.warnings.add(`empty <report_id>: using ${reportId}`);
    }
    const pPolicy = disposition(p.p);
    if (pPolicy === undefined) this.warnings.add('<policy_published> without <p>');
    const pct = p.pct !== undefined && /^\d{1,3}$/.test(p.pct) ? Math.min(100, Number(p.pct)) : undefined;
    const align = (v: string | undefined): 'r' | 's' | undefined => {
      const x = (v ?? '').toLowerCase();
      return x === 'r' || x === 's' ? x : undefined;
    };
    const sp = disposition(p.sp);
    const np = disposition(p.np);
    const adkim = align(p.adkim);
    const aspf = align(p.aspf);
    const testing = (p.testing ?? '').toLowerCase();
    const policy: PublishedPolicy = {
      domain,
      p: pPolicy ?? 'unknown',
      ...(sp ? { sp } : {}),
      ...(np ? { np } : {}),
      ...(pct !== undefined ? { pct } : {}),
      ...(adkim ? { adkim } : {}),
      ...(aspf ? { aspf } : {}),
      ...(p.fo ? { fo: p.fo } : {}),
      ...(testing === 'y' || testing === 'n' ? { testing: testing === 'y' } : {}),
      ...(p.discovery_method ? { discoveryMethod: p.discovery_method.toLowerCase() } : {}),
    };
    const extra = collapse(m.extra_contact_info);
    const generator = collapse(m.generator);
    return {
      schema: this.#namespace === DMARC_2_NS ? 'rfc9990' : 'rfc7489',
      orgName,
      email,
      ...(extra ? { extraContactInfo: extra } : {}),
      reportId,
      begin,
      end,
      ...(generator ? { generator } : {}),
      errors: this.#errors,
      policy,
    };
  }

  /** `<version>` as written, for diagnostics. */
  get version(): string | undefined {
    return this.#version;
  }
}

/** A whole document in memory (tests, small inputs): the header, every row, the warnings. */
export function parseAggregate(xml: string): { header: AggregateHeader; rows: AggregateRow[]; stats: AggregateStats; warnings: string[] } {
  const p = new AggregateParser();
  const rows: AggregateRow[] = [];
  for (let i = 0; i < xml.length; i += 65536) {
    p.write(xml.slice(i, i + 65536));
    rows.push(...p.takeRows());
  }
  const header = p.end();
  rows.push(...p.takeRows());
  return { header, rows, stats: p.stats, warnings: p.warnings.list() };
}
