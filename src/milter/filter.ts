/**
 * The seam between the milter session (wire protocol, negotiation) and the mail logic
 * (inbound verification, outbound signing). A filter never sees frames; the session never
 * sees SPF or DKIM. The session negotiates with the MTA exactly what the filter declares in
 * `FilterRequirements` and refuses (throws) any modification that was not negotiated.
 */

/** Milter stages, named as libmilter's macro stages (SMFIM_*) and callbacks. */
export type Stage =
  | 'connect'
  | 'helo'
  | 'mail'
  | 'rcpt'
  | 'data'
  | 'header'
  | 'eoh'
  | 'body'
  | 'eom'
  | 'unknown';

/** Modifications a filter may ask for; each maps to one SMFIF_* action bit. */
export type ActionName =
  | 'add-header' // SMFIF_ADDHDRS
  | 'change-header' // SMFIF_CHGHDRS (change, delete, insert at index)
  | 'change-body' // SMFIF_CHGBODY
  | 'add-rcpt' // SMFIF_ADDRCPT
  | 'delete-rcpt' // SMFIF_DELRCPT
  | 'quarantine' // SMFIF_QUARANTINE
  | 'change-from'; // SMFIF_CHGFROM

export interface FilterRequirements {
  /** Modifications the filter may emit. Anything else is refused by the session. */
  readonly actions: readonly ActionName[];
  /**
   * Stages whose callback the filter implements. Stages not listed are switched off at
   * negotiation (SMFIP_NO*), unless a later stage's data needs them.
   */
  readonly stages: readonly Stage[];
  /**
   * Stages whose verdict can never be anything but `continue`: negotiated as no-reply
   * (SMFIP_NR_*) so the MTA does not wait for us there.
   */
  readonly noReplyStages: readonly Stage[];
  /** Macros to request per stage (SMFIC_OPTNEG macro lists). */
  readonly macros: Partial<Readonly<Record<'connect' | 'helo' | 'mail' | 'rcpt' | 'data' | 'eoh' | 'eom', readonly string[]>>>;
}

/** Where the SMTP client connected from (SMFIC_CONNECT). */
export type ClientAddress =
  | { readonly family: 'inet' | 'inet6'; readonly address: string; readonly port: number }
  | { readonly family: 'unix'; readonly path: string }
  | { readonly family: 'unknown' };

export interface ConnectInfo {
  /** Client hostname as the MTA reports it (`[1.2.3.4]` when it has no verified name). */
  readonly hostname: string;
  readonly client: ClientAddress;
}

/** An SMTP reply the MTA gives the client: code, enhanced status, text. */
export interface SmtpReply {
  readonly code: number; // 4xx or 5xx
  readonly enhanced?: string; // e.g. "5.7.1"
  readonly text: string;
}

/** What a stage decides. `continue` goes on to the next stage. */
export type Verdict =
  | { readonly kind: 'continue' }
  | { readonly kind: 'accept' } // accept the message, skip the rest
  | { readonly kind: 'reject'; readonly reply?: SmtpReply }
  | { readonly kind: 'tempfail'; readonly reply?: SmtpReply }
  | { readonly kind: 'discard' };

export const CONTINUE: Verdict = Object.freeze({ kind: 'continue' });

/** Message modifications, sent by the session at end of message before the final verdict. */
export type Modification =
  /** Append at the end of the header (SMFIR_ADDHEADER). */
  | { readonly kind: 'add-header'; readonly name: string; readonly value: string }
  /** Insert at a 0-based position; 0 is the very top (SMFIR_INSHEADER). */
  | { readonly kind: 'insert-header'; readonly index: number; readonly name: string; readonly value: string }
  /**
   * Change the `occurrence`-th (1-based) header of that name (SMFIR_CHGHEADER);
   * an empty value deletes it.
   */
  | { readonly kind: 'change-header'; readonly name: string; readonly occurrence: number; readonly value: string }
  | { readonly kind: 'quarantine'; readonly reason: string } // SMFIR_QUARANTINE (Postfix: hold queue)
  | { readonly kind: 'change-from'; readonly sender: string; readonly args?: string } // SMFIR_CHGFROM
  | { readonly kind: 'add-rcpt'; readonly rcpt: string } // SMFIR_ADDRCPT
  | { readonly kind: 'delete-rcpt'; readonly rcpt: string } // SMFIR_DELRCPT
  | { readonly kind: 'replace-body'; readonly body: Buffer }; // SMFIR_REPLBODY

export interface EndOfMessageResult {
  readonly verdict: Verdict;
  readonly modifications: readonly Modification[];
  /** Short words for the per-message summary log line (e.g. "dmarc=pass", "signed=rsa,ed25519"). */
  readonly summary?: Readonly<Record<string, string | number | boolean>>;
}

/** Macros as the MTA sent them so far in this connection; later stages overwrite. */
export interface MacroView {
  get(name: string): string | undefined;
  entries(): IterableIterator<[string, string]>;
}

/** What the session hands a filter instance: ids for logging and the macro view. */
export interface SessionContext {
  /** Connection id, unique in this process; on every log line. */
  readonly sessionId: string;
  readonly macros: MacroView;
  /** Tell the MTA we are still working (SMFIR_PROGRESS) during long end-of-message work. */
  progress(): void;
  /** Aborted when the MTA aborts the current message (SMFIC_ABORT), quits, or the connection drops. */
  messageSignal(): AbortSignal;
}

type MaybePromise<T> = T | Promise<T>;

/**
 * One instance per milter connection (an SMTP connection may carry several messages:
 * `abort` or a new MAIL after `eom` resets the per-message state). Callbacks are never
 * called concurrently for one instance. Header values arrive byte-exact (SMFIP_HDR_LEADSPC:
 * the leading space after the colon and folding CRLFs are kept).
 */
export interface MilterFilter {
  connect?(info: ConnectInfo): MaybePromise<Verdict>;
  helo?(name: string): MaybePromise<Verdict>;
  /** `sender` without angle brackets; '' for the null sender `<>`. */
  mailFrom?(sender: string, esmtpArgs: readonly string[]): MaybePromise<Verdict>;
  rcptTo?(rcpt: string, esmtpArgs: readonly string[]): MaybePromise<Verdict>;
  data?(): MaybePromise<Verdict>;
  header?(name: string, value: string): MaybePromise<Verdict>;
  endOfHeaders?(): MaybePromise<Verdict>;
  body?(chunk: Buffer): MaybePromise<Verdict>;
  endOfMessage(): MaybePromise<EndOfMessageResult>;
  /** The current message is abandoned; reset per-message state. */
  abort?(): void;
  /** The connection is over (quit, drop, or shutdown). */
  close?(): void;
}

/** Builds per-connection filters and declares what they need negotiated. */
export interface FilterFactory {
  readonly name: string;
  readonly requirements: FilterRequirements;
  create(ctx: SessionContext): MilterFilter;
}
