/**
 * The inbound filter: mail from the internet through the authentication engine
 * (`src/auth/session.ts`), our one Authentication-Results on top with forged ones removed,
 * the DMARC disposition (`src/policy/`), ARC sealing of mail we forward, and the evaluation
 * recorded for aggregate reports. This file only adapts milter stages to the engine and the
 * engine's typed verdicts to milter modifications; the decisions live in auth/ and policy/.
 *
 * Stages, and what each starts: MAIL FROM → iprev (once per connection) and SPF (one evaluation, reused);
 * end of headers → DKIM and ARC key lookups, DMARC policy and organizational-domain walks;
 * body → body hashes, one per distinct canonicalisation and l=; end of message → the verdict.
 */
import type { Logger } from 'winston';
import type { MailFilterDeps } from '../app/mail-filter.ts';
import { authenticationResults } from '../auth/authentication-results.ts';
import { seal } from '../auth/arc/seal.ts';
import { sealDecision } from '../auth/arc/seal-decision.ts';
import { checkIprev } from '../auth/iprev/check.ts';
import type { IprevCheck } from '../auth/results.ts';
import { MessageAuthenticator, type Engine, type MessageResult } from '../auth/session.ts';
import { KeyParseCache } from '../auth/dkim/key-lookup.ts';
import { describeError } from '../errors.ts';
import { AUTHENTICATION_RESULTS, renderAuthenticationResults } from '../mail/auth-results.ts';
import type { HeaderField } from '../mail/header.ts';
import type { ConnectInfo, EndOfMessageResult, FilterFactory, MilterFilter, Modification, SessionContext, Verdict } from '../milter/filter.ts';
import { decideDisposition, type Disposition, type DispositionPolicy } from '../policy/disposition.ts';
import { compileNetworks } from '../policy/networks.ts';
import type { InboundConfig } from './config.ts';
import { buildEvaluation } from './evaluation.ts';
import { forgedRemovals } from './forged-results.ts';

const CONTINUE: Verdict = { kind: 'continue' };

/** What every connection of this config shares: the engine settings and the compiled policy. */
interface Shared {
  readonly cfg: InboundConfig;
  readonly deps: MailFilterDeps;
  readonly engine: (receiver: string) => Engine;
  readonly policy: DispositionPolicy;
}

export function createInboundFilterFactory(deps: MailFilterDeps, keyCache: KeyParseCache = new KeyParseCache()): FilterFactory {
  const cfg = deps.config.inbound;
  const engine = (receiver: string): Engine => ({
    dns: deps.dns,
    keyCache,
    now: deps.now,
    budget: { timeMs: cfg.dns_budget_time, maxQueries: cfg.dns_budget_queries },
    spfLimits: { lookups: cfg.spf_max_lookups, voidLookups: cfg.spf_max_void_lookups },
    minKeyBits: cfg.min_key_bits,
    maxSignatures: cfg.max_signatures,
    arc: cfg.arc,
    dmarc: { noAuthorPolicy: cfg.no_author_policy, multipleFrom: cfg.multiple_from, countPartialBody: cfg.partial_body_signatures === 'count' },
    receiver,
  });
  const policy: DispositionPolicy = {
    enforce: cfg.enforce,
    onTemperror: cfg.on_temperror,
    overrides: cfg.overrides.map((o) => ({ domains: o.domains, networks: compileNetworks(o.networks), action: o.action, reason: o.reason, ...(o.comment ? { comment: o.comment } : {}) })),
    trustedArcSealers: cfg.trusted_arc_sealers,
  };
  const shared: Shared = { cfg, deps, engine, policy };
  return {
    name: 'inbound',
    requirements: {
      actions: ['add-header', 'change-header', 'quarantine'],
      stages: ['connect', 'helo', 'mail', 'rcpt', 'header', 'eoh', 'body'],
      // Only the end of message can change the verdict; Postfix need not wait anywhere else.
      noReplyStages: ['connect', 'helo', 'mail', 'rcpt', 'header', 'eoh', 'body'],
      macros: { connect: ['j', '{daemon_name}', '{client_addr}', '{client_name}'], mail: ['i', '{auth_authen}'], eom: ['i'] },
    },
    create: (ctx) => new InboundFilter(ctx, shared),
  };
}

interface Message {
  readonly auth: MessageAuthenticator;
  readonly sender: string;
  readonly recipients: string[];
  /** Authentication-Results values in header order, for forged-header removal. */
  readonly arValues: string[];
}

class InboundFilter implements MilterFilter {
  readonly #ctx: SessionContext;
  readonly #s: Shared;
  #logger: Logger | undefined;
  #ip: string | undefined;
  #helo = '';
  /** Per connection: the client's address does not change between its messages. */
  #iprev: Promise<IprevCheck> | undefined;
  #msg: Message | undefined;

  constructor(ctx: SessionContext, shared: Shared) {
    this.#ctx = ctx;
    this.#s = shared;
  }

  /** Made when first needed: most connections never log from the filter (the session logs the summary). */
  get #log(): Logger {
    return (this.#logger ??= this.#s.deps.logger.child({ sid: this.#ctx.sessionId }));
  }

  connect(info: ConnectInfo): Verdict {
    if (info.client.family === 'inet' || info.client.family === 'inet6') this.#ip = info.client.address;
    return CONTINUE;
  }

  helo(name: string): Verdict {
    this.#helo = name;
    return CONTINUE;
  }

  #authservId(): string {
    return this.#s.cfg.authserv_id ?? this.#ctx.macros.get('j') ?? 'localhost';
  }

  mailFrom(sender: string): Verdict {
    this.abort();
    // iprev starts with the connection's first message from the internet (the router sends
    // only those here): mail of our own users, on connections that send nothing else, never
    // costs the PTR and forward lookups. Its messages share the one check.
    if (this.#s.cfg.iprev && this.#ip !== undefined) this.#iprev ??= checkIprev(this.#ip, this.#s.deps.dns);
    const auth = new MessageAuthenticator(this.#s.engine(this.#authservId()), { ip: this.#ip, helo: this.#helo || (this.#ip ?? ''), mailFrom: sender }, { signal: this.#ctx.messageSignal() });
    this.#msg = { auth, sender, recipients: [], arValues: [] };
    return CONTINUE;
  }

  rcptTo(rcpt: string): Verdict {
    this.#msg?.recipients.push(rcpt);
    return CONTINUE;
  }

  header(name: string, value: string): Verdict {
    const m = this.#msg;
    if (!m) return CONTINUE;
    if (name.toLowerCase() === 'authentication-results') m.arValues.push(value);
    m.auth.header({ name, value });
    return CONTINUE;
  }

  endOfHeaders(): Verdict {
    this.#msg?.auth.endOfHeaders({ sealBodyHash: this.#sealWanted() });
    return CONTINUE;
  }

  #sealWanted(): boolean {
    const c = this.#s.cfg.arc_seal;
    const m = this.#msg;
    if (!c.enabled || !m) return false;
    const daemonName = this.#ctx.macros.get('{daemon_name}');
    return sealDecision(c, { recipients: m.recipients, ...(daemonName === undefined ? {} : { daemonName }) }).seal;
  }

  body(chunk: Buffer): Verdict {
    this.#msg?.auth.body(chunk);
    return CONTINUE;
  }

  async endOfMessage(): Promise<EndOfMessageResult> {
    const m = this.#msg;
    if (!m) return { verdict: CONTINUE, modifications: [] };
    const result = await m.auth.finish(this.#iprev);
    const ourId = this.#authservId();
    const arValue = renderAuthenticationResults(authenticationResults(ourId, result));
    const disposition = decideDisposition({ dmarc: result.dmarc, clientIp: this.#ip, arc: result.arc }, this.#s.policy);

    // Forged A-R headers go first (their indexes are counted before our insertions).
    const removals = forgedRemovals(m.arValues, ourId);
    const modifications: Modification[] = [...removals, { kind: 'insert-header', index: 0, name: AUTHENTICATION_RESULTS, value: arValue }];
    let verdict: Verdict = CONTINUE;
    const domain = result.dmarc.policyDomain ?? result.dmarc.fromDomain ?? 'the author domain';
    switch (disposition.action) {
      case 'reject':
        verdict = { kind: 'reject', ...(disposition.reply ? { reply: disposition.reply } : {}) };
        break;
      case 'tempfail':
        verdict = { kind: 'tempfail', ...(disposition.reply ? { reply: disposition.reply } : {}) };
        break;
      case 'quarantine':
        if (this.#s.cfg.quarantine === 'hold') modifications.push({ kind: 'quarantine', reason: `DMARC policy quarantine of ${domain}` });
        else modifications.push({ kind: 'add-header', name: this.#s.cfg.quarantine_header, value: `DMARC policy quarantine of ${domain}` });
        break;
      case 'deliver':
        break;
    }
    const sealed = verdict.kind === 'continue' ? await this.#seal(m, result, arValue) : undefined;
    if (sealed) modifications.push(...sealed.map((f) => ({ kind: 'insert-header', index: 0, name: f.name, value: f.value }) as const));
    this.#record(m, result, disposition);
    this.#s.deps.observer?.inbound(result.dmarc, disposition);
    return { verdict, modifications, summary: this.#summary(result, disposition, sealed !== undefined, removals.length) };
  }

  /** ARC-seals mail we pass on to a forwarding destination, over our own verdict (RFC 8617 §5.1). */
  async #seal(m: Message, result: MessageResult, arValue: string): Promise<HeaderField[] | undefined> {
    const c = this.#s.cfg.arc_seal;
    if (!c.enabled || !result.sealBodyHash || !result.arc || !c.domain) return undefined;
    const key = this.#s.deps.keys.activeKeys(c.domain).find((k) => k.algorithm === 'rsa-sha256');
    if (!key) {
      this.#log.warn('ARC seal skipped: no active rsa-sha256 key', { domain: c.domain, queue_id: this.#ctx.macros.get('i') });
      return undefined;
    }
    try {
      const out = await seal({
        headers: result.headers,
        bodyHash: result.sealBodyHash,
        authservId: this.#authservId(),
        authenticationResults: arValue,
        chain: result.arc,
        key,
        timestamp: Math.floor(this.#s.deps.now() / 1000),
        signedHeaders: c.headers,
        oversignedHeaders: c.oversign,
      });
      if (out.kind === 'sealed') return [...out.fields].reverse(); // inserted at 0 one after another: AAR first
      this.#log.info('ARC seal skipped', { reason: out.reason, queue_id: this.#ctx.macros.get('i') });
    } catch (err) {
      this.#log.error('ARC seal failed; message passed on unsealed', { queue_id: this.#ctx.macros.get('i'), ...describeError(err) });
    }
    return undefined;
  }

  #record(m: Message, result: MessageResult, disposition: Disposition): void {
    const log = this.#s.deps.evaluations;
    if (!log || !this.#s.cfg.record_evaluations || !this.#ip) return;
    const ev = buildEvaluation({
      receivedAt: this.#s.deps.now(),
      queueId: this.#ctx.macros.get('i'),
      sourceIp: this.#ip,
      sender: m.sender,
      helo: this.#helo,
      firstRcpt: m.recipients[0],
      result,
      disposition,
    });
    if (ev) log.record(ev);
  }

  #summary(r: MessageResult, d: Disposition, sealed: boolean, forgedRemoved: number): Record<string, string | number | boolean> {
    return {
      direction: 'inbound',
      spf: r.spf?.result ?? 'none',
      dkim: r.dkim.map((c) => `${c.result}${c.domain ? `:${c.domain}` : ''}`).join(',') || 'none',
      dmarc: r.dmarc.result,
      ...(r.dmarc.fromDomain ? { from_domain: r.dmarc.fromDomain } : {}),
      ...(r.arc ? { arc: r.arc.result } : {}),
      ...(r.iprev ? { iprev: r.iprev.result } : {}),
      policy: d.action,
      reason: d.reason,
      ...(r.dns.exhausted ? { dns_budget: r.dns.exhausted } : {}),
      ...(sealed ? { arc_sealed: true } : {}),
      ...(forgedRemoved ? { forged_ar_removed: forgedRemoved } : {}),
    };
  }

  abort(): void {
    this.#msg?.auth.dispose();
    this.#msg = undefined;
  }

  close(): void {
    this.abort();
  }
}
