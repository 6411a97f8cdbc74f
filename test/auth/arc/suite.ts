/**
 * The ValiMail ARC suites (test/fixtures/suites/arc, MIT, see LICENSE.txt there) as data:
 * scenarios, messages split the way a milter receives them, and a fake DNS serving each
 * scenario's `txt-records`.
 */
import { readFileSync } from 'node:fs';
import { isMap, isScalar, parseAllDocuments, type YAMLMap } from 'yaml';
import type { HeaderField } from '../../../src/mail/header.ts';
import { fakeLookup, type FakeLookup } from '../../support/fake-dns.ts';

const dir = new URL('../../fixtures/suites/arc/', import.meta.url);

export interface ValidationCase {
  readonly scenario: string;
  readonly name: string;
  readonly description: string;
  readonly message: string;
  /** `None`/`Pass`/`Fail` as written; '' for the three empty block scalars. */
  readonly cv: string;
  readonly txtRecords: Readonly<Record<string, string>>;
  /** A later test of the same name in the same scenario replaces this one (YAML duplicate key). */
  readonly shadowed: boolean;
}

export interface SigningCase {
  readonly scenario: string;
  readonly name: string;
  readonly description: string;
  readonly message: string;
  readonly t: number;
  readonly sigHeaders: readonly string[];
  readonly srvId: string;
  readonly AS: string;
  readonly AMS: string;
  readonly AAR: string;
  readonly domain: string;
  readonly selector: string;
  readonly privateKey: string;
  readonly txtRecords: Readonly<Record<string, string>>;
}

/**
 * Every test of every scenario, in file order. The validation file repeats four test names
 * inside one scenario (as_fields_b_head_case, …_head_unfold, …_eol_wsp, …_inl_wsp); a YAML
 * reader keeps the later one, which gives the suite's 171 tests. The earlier ones are
 * returned too, marked `shadowed`, so they can be run as well.
 */
function scenarios(file: string): { scenario: Record<string, unknown>; tests: { name: string; body: Record<string, unknown>; shadowed: boolean }[] }[] {
  const docs = parseAllDocuments(readFileSync(new URL(file, dir), 'utf8'), { uniqueKeys: false });
  return (Array.isArray(docs) ? docs : [docs]).map((doc) => {
    const scenario = doc.toJS() as Record<string, unknown>;
    const testsNode = doc.get('tests');
    if (!isMap(testsNode)) throw new Error(`${file}: a scenario without tests`);
    const items = (testsNode as YAMLMap).items;
    const names = items.map((it) => (isScalar(it.key) ? String(it.key.value) : ''));
    const tests = items.map((it, k) => ({
      name: names[k]!,
      body: (it.value as { toJSON(): unknown }).toJSON() as Record<string, unknown>,
      shadowed: names.indexOf(names[k]!, k + 1) >= 0,
    }));
    return { scenario, tests };
  });
}

export function validationSuite(): ValidationCase[] {
  return scenarios('arc-draft-validation-tests.yml').flatMap(({ scenario, tests }) =>
    tests.map(({ name, body, shadowed }) => ({
      scenario: String(scenario.description).trim(),
      name,
      description: String(body.description ?? ''),
      message: String(body.message ?? ''),
      cv: String(body.cv ?? '').trim(),
      txtRecords: (scenario['txt-records'] ?? {}) as Record<string, string>,
      shadowed,
    })),
  );
}

export function signingSuite(): SigningCase[] {
  return scenarios('arc-draft-sign-tests.yml').flatMap(({ scenario, tests }) =>
    tests.map(({ name, body }) => ({
      scenario: String(scenario.description).trim(),
      name,
      description: String(body.description ?? ''),
      message: String(body.message),
      t: Number(body.t),
      sigHeaders: String(body['sig-headers']).split(':'),
      srvId: String(body['srv-id']),
      AS: String(body.AS ?? ''),
      AMS: String(body.AMS ?? ''),
      AAR: String(body.AAR ?? ''),
      domain: String(scenario.domain),
      selector: String(scenario.sel),
      privateKey: String(scenario.privatekey),
      txtRecords: (scenario['txt-records'] ?? {}) as Record<string, string>,
    })),
  );
}

/**
 * A suite message (LF line ends) as the milter hands it over: header fields with the value
 * after the colon and LF folding kept, and the body with CRLF line ends. A message that
 * starts with an empty line has no header fields.
 */
export function splitSuiteMessage(text: string): { headers: HeaderField[]; body: Buffer } {
  const lines = text.split('\n');
  const headers: { name: string; value: string }[] = [];
  let k = 0;
  for (; k < lines.length; k++) {
    const line = lines[k]!;
    if (line === '') {
      k++;
      break;
    }
    if (/^[ \t]/.test(line) && headers.length > 0) headers[headers.length - 1]!.value += `\n${line}`;
    else {
      const colon = line.indexOf(':');
      if (colon <= 0) throw new Error(`not a header line: ${JSON.stringify(line)}`);
      headers.push({ name: line.slice(0, colon), value: line.slice(colon + 1) });
    }
  }
  const body = Buffer.from(lines.slice(k).join('\r\n'), 'latin1');
  return { headers, body };
}

/** The scenario's key records as TXT; the YAML folding (spaces or line breaks inside p=) is whitespace the key parser ignores. */
export function suiteDns(txtRecords: Readonly<Record<string, string>>): FakeLookup {
  return fakeLookup(Object.fromEntries(Object.entries(txtRecords).map(([name, text]) => [name, { TXT: [text.replace(/\s*\n\s*/g, ' ').trim()] }])));
}

/**
 * The suite's AR consolidation (README-schema.md "AR Consolidation"): every
 * Authentication-Results of the srv-id, in order, each result on its own line. In the
 * milter this is the one Authentication-Results value we render.
 */
export function consolidate(headers: readonly HeaderField[], srvId: string): string {
  const results: string[] = [];
  for (const f of headers) {
    if (f.name.toLowerCase() !== 'authentication-results') continue;
    const v = f.value.replace(/\r?\n[ \t]+/g, ' ').trim();
    const [id, ...rest] = v.split(';');
    if (id!.trim() !== srvId) continue;
    results.push(...rest.map((x) => x.trim()).filter(Boolean));
  }
  return `${srvId};\r\n\t${results.join(';\r\n\t')}`;
}

/** The suite's normalised form: whitespace runs → one space, "; " between items, none inside b=/bh=. */
export function normalise(value: string): string {
  return value
    .replace(/\s+/g, ' ')
    .trim()
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((p) => (/^(b|bh)=/.test(p) ? p.replace(/\s+/g, '') : p))
    .join('; ');
}
