/**
 * Text from a report as we keep and show it: tab, CR and LF become a space; every other
 * control character (C0, DEL, C1) and every lone surrogate becomes U+FFFD. A reporter's
 * name, report id or domain ends up in terminal output, the journal, HTML and the store; an
 * ESC there would drive the operator's terminal, and a NUL is refused by PostgreSQL text
 * columns — one such report would then fail every import run and hold up the mailbox
 * behind it. XML 1.0 already refuses C0 but allows C1; JSON allows anything as `\u` escapes.
 */
const CONTROL = /[\t\n\r]|[\u0000-\u001f\u007f-\u009f]/g;

const ANY_CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export function printable(s: string): string {
  // Most values are plain: test before building a new string (a 100 MB report has millions).
  if (s.isWellFormed() && !ANY_CONTROL.test(s)) return s;
  return s.toWellFormed().replace(CONTROL, (c) => (c === '\t' || c === '\n' || c === '\r' ? ' ' : '\uFFFD'));
}
