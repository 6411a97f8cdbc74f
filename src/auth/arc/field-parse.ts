/**
 * What parsing one ARC header field yields. The instance is reported even when the rest of
 * the field is invalid, so the chain collector can still tell which ARC Set a broken field
 * belongs to (RFC 8617 §5.2 step 3 needs it) — unless the tag list itself is unreadable.
 */
export type ArcFieldParse<T> =
  | { readonly ok: true; readonly instance: number; readonly value: T }
  | { readonly ok: false; readonly instance?: number; readonly reason: string };
