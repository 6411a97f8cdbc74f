/**
 * The outbound filter: DKIM-signs our own users' mail with every active key of the signing
 * domain (RSA and Ed25519 side by side, RFC 8463), inserting the signatures at the top.
 * The router (src/app/mail-filter.ts) only hands it messages from authenticated or trusted
 * senders; mail from anyone else is never signed, whatever its From says.
 */
import type { Logger } from 'winston';
import type { MailFilterDeps } from '../app/mail-filter.ts';
import { BodyHasher, signMessage, type Canonicalization } from '../auth/dkim/sign.ts';
import { describeError } from '../errors.ts';
import type { EndOfMessageResult, FilterFactory, MilterFilter, Modification, SessionContext, Verdict } from '../milter/filter.ts';
import type { OutboundConfig } from './config.ts';
import { authorDomain, chooseSigningKeys } from './signing-domain.ts';

export function createOutboundFilterFactory(deps: MailFilterDeps): FilterFactory {
  const cfg = deps.config.outbound;
  return {
    name: 'outbound',
    requirements: {
      actions: ['add-header'],
      stages: ['mail', 'header', 'body'],
      noReplyStages: ['mail', 'header', 'body'],
      macros: { connect: ['{daemon_name}', '{client_addr}'], mail: ['i', '{auth_authen}'], eom: ['i'] },
    },
    create: (ctx) => new OutboundFilter(ctx, deps, cfg),
  };
}

/**
 * The router creates this filter for every connection, also for the (many more) connections
 * whose mail turns out to be inbound: the logger child and the body hasher are made only
 * when a message of ours needs them.
 */
class OutboundFilter implements MilterFilter {
  readonly #ctx: SessionContext;
  readonly #deps: MailFilterDeps;
  readonly #cfg: OutboundConfig;
  #logger: Logger | undefined;
  #headers: Array<[string, string]> = [];
  #hasher: BodyHasher | undefined;

  constructor(ctx: SessionContext, deps: MailFilterDeps, cfg: OutboundConfig) {
    this.#ctx = ctx;
    this.#deps = deps;
    this.#cfg = cfg;
  }

  get #log(): Logger {
    return (this.#logger ??= this.#deps.logger.child({ sid: this.#ctx.sessionId }));
  }

  #bodyHasher(): BodyHasher {
    return (this.#hasher ??= new BodyHasher(this.#cfg.canonicalization.split('/')[1] as 'simple' | 'relaxed'));
  }

  mailFrom(): Verdict {
    this.abort();
    return { kind: 'continue' };
  }

  header(name: string, value: string): Verdict {
    this.#headers.push([name, value]);
    return { kind: 'continue' };
  }

  body(chunk: Buffer): Verdict {
    this.#bodyHasher().write(chunk);
    return { kind: 'continue' };
  }

  async endOfMessage(): Promise<EndOfMessageResult> {
    const unsigned = (why: string): EndOfMessageResult => {
      this.#log.info('not signed', { reason: why });
      return { verdict: { kind: 'continue' }, modifications: [], summary: { direction: 'outbound', signed: 'no', reason: why } };
    };
    const author = authorDomain(this.#headers.filter(([n]) => n.toLowerCase() === 'from').map(([, v]) => v));
    if ('problem' in author) return unsigned(author.problem);
    try {
      this.#deps.keys.assertHealthy();
    } catch (err) {
      const e = describeError(err);
      if (this.#cfg.on_keystore_error === 'tempfail') {
        this.#log.error('keystore unreadable: outbound mail deferred', e);
        return { verdict: { kind: 'tempfail', reply: { code: 451, enhanced: '4.3.0', text: 'signing keys unavailable, try again later' } }, modifications: [], summary: { direction: 'outbound', signed: 'no', reason: 'keystore unreadable' } };
      }
      return unsigned(`keystore unreadable (${e.message})`);
    }
    const choice = chooseSigningKeys(author.domain, (d) => this.#deps.keys.activeKeys(d), { signingDomains: this.#cfg.signing_domains, signSubdomains: this.#cfg.sign_subdomains });
    if (!choice) return unsigned(`no active key for ${author.domain}`);
    const bodyHash = this.#bodyHasher().digest(); // no body chunk at all: the empty body's hash
    const timestamp = Math.floor(this.#deps.now() / 1000);
    const values = await Promise.all(
      choice.keys.map((key) =>
        signMessage({
          key,
          headers: this.#headers,
          bodyHash,
          canonicalization: this.#cfg.canonicalization as Canonicalization,
          signHeaders: this.#cfg.headers,
          oversignHeaders: this.#cfg.oversign,
          timestamp,
          ...(this.#cfg.signature_ttl ? { expiresInSec: Math.round(this.#cfg.signature_ttl / 1000) } : {}),
        }),
      ),
    );
    const modifications: Modification[] = values.map((value) => ({ kind: 'insert-header', index: 0, name: 'DKIM-Signature', value }));
    this.#deps.observer?.signed(choice.keys);
    return {
      verdict: { kind: 'continue' },
      modifications,
      summary: { direction: 'outbound', signed: choice.keys.map((k) => `${k.algorithm.split('-')[0]}:${k.selector}`).join(','), d: choice.domain },
    };
  }

  abort(): void {
    this.#headers = [];
    this.#hasher = undefined;
  }
}
