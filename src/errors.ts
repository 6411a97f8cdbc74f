/**
 * Base of every error mailanchor throws on purpose. Each layer defines its own subclass
 * with a closed union of codes (e.g. `MilterProtocolError`, `DnsError`, `KeystoreError`),
 * carries the context needed to act on it, and chains the underlying error as `cause`.
 */
export class MailanchorError<Code extends string = string> extends Error {
  readonly code: Code;
  readonly context: Readonly<Record<string, unknown>>;

  constructor(
    code: Code,
    message: string,
    context: Record<string, unknown> = {},
    options: { cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.context = context;
  }
}

/** Message and code of anything thrown, for log lines; never includes stack or key material. */
export function describeError(err: unknown): { message: string; code?: string } {
  if (err instanceof MailanchorError) return { message: err.message, code: err.code };
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? { message: err.message, code } : { message: err.message };
  }
  return { message: String(err) };
}
