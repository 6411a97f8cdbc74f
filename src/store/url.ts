/**
 * A store location: a file path (SQLite) or a `postgresql://` / `postgres://` URL. The
 * password — from the URL or `store.password_file` — is kept out of every string meant for
 * a log line or an error message (`location`).
 */
import { isAbsolute, resolve } from 'node:path';
import { StoreError } from './errors.ts';

export type StoreTarget =
  | { readonly engine: 'sqlite'; readonly path: string; readonly location: string }
  | {
      readonly engine: 'postgres';
      /** The URL as given (may carry a password): only for the driver. */
      readonly url: string;
      /** `postgresql://user@host:port/db`, no password, no query. */
      readonly location: string;
      readonly hasPassword: boolean;
    };

const PG = /^postgres(ql)?:\/\//i;

export function parseStoreUrl(text: string, cwd: string = process.cwd()): StoreTarget {
  const value = text.trim();
  if (!value) throw new StoreError('BAD_URL', 'the store location is empty');
  if (PG.test(value)) {
    let u: URL;
    try {
      u = new URL(value);
    } catch {
      // Never echo the text: it may hold a password.
      throw new StoreError('BAD_URL', 'the PostgreSQL store URL does not parse (expected postgresql://user@host:port/database)');
    }
    const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
    if (!database) throw new StoreError('BAD_URL', `${redact(u)}: the URL names no database (postgresql://user@host:port/database)`);
    return { engine: 'postgres', url: value, location: redact(u), hasPassword: u.password !== '' || u.searchParams.has('password') };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) throw new StoreError('BAD_URL', `unsupported store URL scheme ${value.split(':')[0]}: (a file path for SQLite, or postgresql://…)`);
  const path = value.startsWith('sqlite:') ? value.slice('sqlite:'.length) : value;
  const abs = isAbsolute(path) ? path : resolve(cwd, path);
  return { engine: 'sqlite', path: abs, location: abs };
}

function redact(u: URL): string {
  const user = u.username ? `${decodeURIComponent(u.username)}@` : '';
  return `postgresql://${user}${u.host}${u.pathname}`;
}
