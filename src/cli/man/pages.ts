/**
 * The man pages the project ships, made from their sources: mailanchor(8) from the command
 * specs, mailanchor.yml(5) from the config schema and mailanchor.example.yml. `npm run man`
 * (scripts/man.ts) writes them to man/; test/cli/man.test.ts fails when those differ.
 *
 * A page's date (in `.TH`) is the day it last changed: regenerating pages whose text is the
 * same keeps the date they have, so the committed pages are stable from day to day.
 */
import { configSchema } from '../../config/sections.ts';
import { commandPage, type PageInfo } from './command-page.ts';
import { configPage } from './config-page.ts';

export interface ManPage {
  /** File name under man/: `mailanchor.8`. */
  readonly file: string;
  readonly text: string;
}

export function manPages(info: PageInfo, exampleText: string): ManPage[] {
  return [
    { file: 'mailanchor.8', text: commandPage(info) },
    { file: 'mailanchor.yml.5', text: configPage(info, configSchema, exampleText) },
  ];
}

const TH_DATE = /^(\.TH \S+ \d) (\d{4}-\d{2}-\d{2}) /m;

/** The date in a page's `.TH` line. */
export const pageDate = (text: string): string | undefined => TH_DATE.exec(text)?.[2];

/** The same page, whatever its date. */
export const sameExceptDate = (a: string, b: string): boolean => a.replace(TH_DATE, '$1 DATE ') === b.replace(TH_DATE, '$1 DATE ');
