/**
 * The page as one value: the folded reports, the explanations and proposals, the inputs
 * that were skipped, and the honest counts of what was looked up. Rendered as text, JSON
 * and HTML by the `render-*` modules; `report read` builds it from files, `report page`
 * from the history.
 */
import type { Explanation, Proposal } from './explain.ts';
import type { PageData } from './page-model.ts';

export interface Page {
  readonly title: string;
  readonly generatedAt: number; // ms
  /** The window asked for (history), or undefined when the page shows whatever files were read. */
  readonly window?: { readonly from: number; readonly to: number }; // unix s
  readonly data: PageData;
  readonly explanations: readonly Explanation[];
  readonly proposals: readonly Proposal[];
  readonly skipped: readonly { readonly source: string; readonly reason: string }[];
  readonly reverseDns: { readonly sources: number; readonly lookedUp: number; readonly budgetSpent: boolean; readonly enabled: boolean };
  /** Counts of what was read, for the page's first line. */
  readonly read: { readonly dmarcReports: number; readonly tlsReports: number; readonly duplicates: number; readonly warnings: number };
}
