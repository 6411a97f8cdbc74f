/**
 * The inbound filter: SPF, DKIM, DMARC, ARC (mailauth, through our caching resolver) and
 * iprev for mail from the internet; one Authentication-Results header on top, forged ones
 * with our authserv-id removed; DMARC policy applied. DNS work starts as early as it can:
 * iprev at connect, SPF at MAIL FROM, DKIM keys and the DMARC record at end of headers,
 * all while the body streams into the verifier; the shared cache and in-flight dedupe make
 * mailauth's own (sequential) lookups at the end hits.
 */
import { createRequire } from 'node:module';
import type { Logger } from 'winston';
import type { MailFilterDeps } from '../app/mail-filter.ts';
import { mailauthResolver, type MailauthResolver } from '../dns/mailauth-resolver.ts';
import { iprevResult } from '../auth/authentication-results.ts';
import { checkIprev } from '../auth/iprev/check.ts';
import type { IprevCheck } from '../auth/results.ts';
import { describeError } from '../errors.ts';
import { renderResult } from '../mail/auth-results.ts';
import type { FilterFactory, MilterFilter, Modification, SessionContext, Verdict } from '../milter/filter.ts';
import { recordEvaluation } from '../store/dmarc-evaluations.ts';
import { AR_HEADER, forgedRemovals, renderAuthResults } from './authentication-results.ts';
import type { InboundConfig } from './config.ts';
import { buildEvaluation } from './evaluation.ts';
import { arcKeyNames, correctArc, correctDmarc, type MailauthResult } from './mailauth-result.ts';
import { MessageFeed, headerBlock } from './message-feed.ts';
import { decidePolicy, networkCovered, type PolicyDecision } from './policy.ts';

const require = createRequire(import.meta.url);
// mailauth is CommonJS; its typings do not cover the options we pass (maxResolveCount …).
const mailauth = require('mailauth') as {
  authenticate(input: NodeJS.ReadableStream, opts: Record<string, unknown>): Promise<MailauthResult>;
  spf(opts: Record<string, unknown>): Promise<unknown>;
};

/** Temporary DNS failures seen while checking one message (for the ARC correction). */
function recordingResolver(base: MailauthResolver, tempFailures: Set<string>): MailauthResolver {
  return async (name, type) => {
    try {
      return await base(name, type);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== 'ENOTFOUND' && code !== 'ENODATA') tempFailures.add(name.toLowerCase().replace(/\.$/, ''));
      throw err;
    }
  };
}

const tagValue = (header: string, tag: string): string | undefined =>
  new RegExp(`(?:^|;)\\s*${tag}\\s*=\\s*([^;\\s]+)`, 'i').exec(header.replace(/\r?\n[ \t]/g, ' '))?.[1];

const fromDomains = (value: string): string[] =>
  [...value.matchAll(/@([A-Za-z0-9.\-_\u0080-\uffff]+)/g)].map((m) => m[1]!.toLowerCase().replace(/\.$/, ''));

interface Message {
  sender: string;
  firstRcpt?: string;
  readonly headers: Array<[string, string]>;
  readonly arValues: string[];
  readonly arcHeaders: string[];
  fromHeaders: number;
  fromAuthors: Set<string>;
  dkimSignatures: number;
  feed?: MessageFeed;
  auth?: Promise<MailauthResult>;
  readonly tempFailures: Set<string>;
  readonly resolver: MailauthResolver;
  readonly started: number;
}

export interface InboundVerdict {
  readonly decision: PolicyDecision;
  readonly authResults: string;
}

export function createInboundFilterFactory(deps: MailFilterDeps): FilterFactory {
  const cfg: InboundConfig = deps.config.inbound;
  const trustedNetworks = deps.config.outbound.trusted_networks;
  const trustedDaemons = new Set(deps.config.outbound.trusted_daemons);
  return {
    name: 'inbound',
    requirements: {
      actions: ['add-header', 'change-header', 'quarantine'],
      stages: ['connect', 'helo', 'mail', 'rcpt', 'header', 'eoh', 'body'],
      // Only the end of message can change the verdict; Postfix need not wait anywhere else.
      noReplyStages: ['connect', 'helo', 'mail', 'rcpt', 'header', 'eoh', 'body'],
      macros: { connect: ['j', '{daemon_name}', '{client_addr}', '{client_name}'], mail: ['i', '{auth_authen}'], eom: ['i'] },
    },
    create: (ctx) => new InboundFilter(ctx, deps, cfg, trustedNetworks, trustedDaemons),
  };
}

class InboundFilter implements MilterFilter {
  readonly #ctx: SessionContext;
  readonly #deps: MailFilterDeps;
  readonly #cfg: InboundConfig;
  readonly #log: Logger;
  readonly #trustedNetworks: readonly string[];
  readonly #trustedDaemons: ReadonlySet<string>;
  #ip: string | undefined;
  #helo = '';
  #iprev: Promise<IprevCheck> | undefined;
  #msg: Message | undefined;

  constructor(ctx: SessionContext, deps: MailFilterDeps, cfg: InboundConfig, trustedNetworks: readonly string[], trustedDaemons: ReadonlySet<string>) {
    this.#ctx = ctx;
    this.#deps = deps;
    this.#cfg = cfg;
    this.#log = deps.logger.child({ sid: ctx.sessionId });
    this.#trustedNetworks = trustedNetworks;
    this.#trustedDaemons = trustedDaemons;
  }

  connect(info: Parameters<NonNullable<MilterFilter['connect']>>[0]): Verdict {
    if (info.client.family === 'inet' || info.client.family === 'inet6') {
      this.#ip = info.client.address;
      if (this.#cfg.iprev) {
        this.#iprev = checkIprev(this.#ip, this.#deps.dns);
        // Awaited at end of message; a rejection here is impossible (checkIprev maps errors to results).
        this.#iprev.catch((err: unknown) => this.#log.error('iprev failed', describeError(err)));
      }
    }
    return { kind: 'continue' };
  }

  helo(name: string): Verdict {
    this.#helo = name;
    return { kind: 'continue' };
  }

  #authserv(): string {
    return this.#cfg.authserv_id ?? this.#ctx.macros.get('j') ?? 'localhost';
  }

  mailFrom(sender: string): Verdict {
    this.abort();
    const tempFailures = new Set<string>();
    const resolver = recordingResolver(mailauthResolver(this.#deps.dns, { signal: this.#ctx.messageSignal() }), tempFailures);
    this.#msg = {
      sender,
      headers: [],
      arValues: [],
      arcHeaders: [],
      fromHeaders: 0,
      fromAuthors: new Set(),
      dkimSignatures: 0,
      tempFailures,
      resolver,
      started: this.#deps.now(),
    };
    // SPF is fully known now: resolve it while the message is still coming; the answers
    // land in the shared cache, so mailauth's SPF check at the end is all cache hits.
    if (this.#ip) {
      mailauth
        .spf({ sender, ip: this.#ip, helo: this.#helo || this.#ip, mta: this.#authserv(), resolver, maxResolveCount: this.#cfg.spf_max_lookups, maxVoidCount: this.#cfg.spf_max_void_lookups })
        .catch((err: unknown) => this.#log.debug('SPF prefetch failed (repeated at end of message)', describeError(err)));
    }
    return { kind: 'continue' };
  }

  rcptTo(rcpt: string): Verdict {
    if (this.#msg && this.#msg.firstRcpt === undefined) this.#msg.firstRcpt = rcpt;
    return { kind: 'continue' };
  }

  header(name: string, value: string): Verdict {
    const m = this.#msg;
    if (!m) return { kind: 'continue' };
    const lname = name.toLowerCase();
    if (lname === 'authentication-results') m.arValues.push(value);
    if (lname === 'arc-seal' || lname === 'arc-message-signature') m.arcHeaders.push(value);
    if (lname === 'from') {
      m.fromHeaders++;
      for (const d of fromDomains(value)) m.fromAuthors.add(d);
    }
    if (lname === 'dkim-signature') {
      m.dkimSignatures++;
      // Over the cap: not fed to the verifier at all (a flood of signatures is a DoS).
      if (m.dkimSignatures > this.#cfg.max_signatures) return { kind: 'continue' };
    }
    m.headers.push([name, value]);
    return { kind: 'continue' };
  }

  async endOfHeaders(): Promise<Verdict> {
    const m = this.#msg;
    if (!m) return { kind: 'continue' };
    this.#prefetch(m);
    let resolveAuth!: (p: Promise<MailauthResult>) => void;
    const auth = new Promise<MailauthResult>((resolve) => (resolveAuth = (p) => resolve(p)));
    m.feed = new MessageFeed(auth);
    resolveAuth(
      mailauth.authenticate(m.feed.stream, {
        ...(this.#ip ? { ip: this.#ip } : {}),
        helo: this.#helo || this.#ip,
        sender: m.sender, // '' for the null sender: mailauth then checks the HELO identity
        mta: this.#authserv(),
        resolver: m.resolver,
        disableBimi: true,
        disableArc: !this.#cfg.arc,
        minBitLength: this.#cfg.min_key_bits,
        maxResolveCount: this.#cfg.spf_max_lookups,
        maxVoidCount: this.#cfg.spf_max_void_lookups,
        trustReceived: false,
      }),
    );
    m.auth = auth;
    // Until end of message nobody awaits it; keep an early failure from being unhandled.
    auth.catch(() => undefined);
    await m.feed.write(headerBlock(m.headers));
    return { kind: 'continue' };
  }

  /** DKIM keys and the DMARC record, looked up while the body streams. */
  #prefetch(m: Message): void {
    const names: string[] = [];
    for (const [n, v] of m.headers) {
      if (n.toLowerCase() !== 'dkim-signature') continue;
      const s = tagValue(v, 's');
      const d = tagValue(v, 'd');
      if (s && d) names.push(`${s}._domainkey.${d}`);
    }
    for (const d of m.fromAuthors) names.push(`_dmarc.${d}`);
    for (const name of names) {
      m.resolver(name, 'TXT').catch(() => undefined); // answers (and NXDOMAINs) warm the cache; errors recur where they matter
    }
  }

  async body(chunk: Buffer): Promise<Verdict> {
    await this.#msg?.feed?.write(chunk);
    return { kind: 'continue' };
  }

  async endOfMessage() {
    const m = this.#msg;
    if (!m?.feed || !m.auth) {
      // No headers ever came (e.g. QUIT_NC edge): nothing to verify.
      return { verdict: { kind: 'continue' } as Verdict, modifications: [] };
    }
    await m.feed.end();
    const result = await m.auth;
    const iprev = this.#iprev ? await this.#iprev : undefined;
    const ourId = this.#authserv();

    const arc = correctArc(result.arc, arcKeyNames(m.arcHeaders), m.tempFailures);
    const dmarc = correctDmarc(result.dmarc);
    const infos: string[] = [];
    const dkimRows = result.dkim.results ?? [];
    // mailauth drops a DKIM-Signature it cannot parse and may then say "message not signed";
    // a signed message whose signature is broken is a permerror (RFC 6376 §6.1.1), not none.
    const verified = dkimRows.filter((r) => r.status.result !== 'none');
    const unparsed = Math.min(m.dkimSignatures, this.#cfg.max_signatures) - verified.length;
    if (unparsed > 0) infos.push(...verified.map((r) => r.info), `dkim=permerror (${unparsed} malformed DKIM-Signature header${unparsed > 1 ? 's' : ''})`);
    else infos.push(...(dkimRows.length ? dkimRows.map((r) => r.info) : ['dkim=none']));
    if (m.dkimSignatures > this.#cfg.max_signatures) infos.push(`dkim=policy (${m.dkimSignatures - this.#cfg.max_signatures} signatures over the limit of ${this.#cfg.max_signatures} not verified)`);
    if (result.spf) infos.push(result.spf.info);
    if (arc?.info) infos.push(arc.info);
    if (dmarc) infos.push(dmarc.info);
    else if (m.fromAuthors.size > 1 || m.fromHeaders > 1) infos.push('dmarc=permerror (several From authors)');
    else if (m.fromHeaders === 0) infos.push('dmarc=none (no From header)');
    if (iprev) infos.push(renderResult(iprevResult(iprev)));

    const authAuthen = this.#ctx.macros.get('{auth_authen}');
    const daemon = this.#ctx.macros.get('{daemon_name}');
    const trusted = Boolean(authAuthen) || (this.#ip !== undefined && networkCovered(this.#ip, this.#trustedNetworks)) || (daemon !== undefined && this.#trustedDaemons.has(daemon));
    const author = result.dmarc ? result.dmarc.status.header?.from : [...m.fromAuthors][0];
    const decision = decidePolicy({
      dmarc: dmarc
        ? {
            result: dmarc.result,
            ...(result.dmarc && typeof result.dmarc.policy === 'string' ? { policy: result.dmarc.policy as 'none' | 'quarantine' | 'reject' } : {}),
            ...(author ? { domain: author } : {}),
            ...(result.dmarc && result.dmarc.policyDomain ? { policyDomain: result.dmarc.policyDomain } : {}),
          }
        : undefined,
      multipleAuthors: m.fromHeaders > 1 || m.fromAuthors.size > 1,
      trusted,
      clientIp: this.#ip,
      config: this.#cfg,
    });

    const modifications: Modification[] = [...forgedRemovals(m.arValues, ourId), { kind: 'insert-header', index: 0, name: AR_HEADER, value: renderAuthResults(ourId, infos) }];
    let verdict: Verdict = { kind: 'continue' };
    const domain = decision.override ? author : (result.dmarc && result.dmarc.policyDomain) || author || 'the sender domain';
    switch (decision.action) {
      case 'reject':
        verdict = {
          kind: 'reject',
          reply: {
            code: 550,
            enhanced: '5.7.1',
            text: m.fromHeaders > 1 || m.fromAuthors.size > 1 ? 'Message rejected: several From authors (RFC 5322, DMARC)' : `Message rejected: DMARC policy of ${domain} (p=reject) failed: not authenticated by an aligned SPF or DKIM`,
          },
        };
        break;
      case 'tempfail':
        verdict = { kind: 'tempfail', reply: { code: 451, enhanced: '4.7.1', text: `DMARC check for ${domain} failed temporarily (DNS); try again later` } };
        break;
      case 'quarantine':
        if (this.#cfg.quarantine === 'hold') modifications.push({ kind: 'quarantine', reason: `DMARC policy quarantine of ${domain}` });
        else modifications.push({ kind: 'add-header', name: this.#cfg.quarantine_header, value: `DMARC policy quarantine of ${domain}` });
        break;
      case 'deliver':
        break;
    }

    this.#record(m, result, dmarc?.result, decision, arc?.result);
    const dkimSummary = dkimRows.map((r) => `${r.status.result}${r.signingDomain ? `:${r.signingDomain}` : ''}`).join(',') || 'none';
    return {
      verdict,
      modifications,
      summary: {
        direction: 'inbound',
        spf: result.spf ? result.spf.status.result : 'none',
        dkim: dkimSummary,
        dmarc: dmarc?.result ?? 'none',
        ...(author ? { from_domain: author } : {}),
        ...(arc ? { arc: arc.result } : {}),
        ...(iprev ? { iprev: iprev.result } : {}),
        policy: decision.action,
        reason: decision.reason,
        ...(m.arValues.length ? { forged_ar_removed: modifications.filter((x) => x.kind === 'change-header').length } : {}),
      },
    };
  }

  #record(m: Message, result: MailauthResult, dmarcResult: string | undefined, decision: PolicyDecision, arcResult: string | undefined): void {
    const db = this.#deps.db;
    if (!db || !this.#cfg.record_evaluations || !dmarcResult || !this.#ip) return;
    const ev = buildEvaluation({
      receivedAt: this.#deps.now(),
      queueId: this.#ctx.macros.get('i'),
      sourceIp: this.#ip,
      sender: m.sender,
      helo: this.#helo,
      firstRcpt: m.firstRcpt,
      result,
      dmarcResult: dmarcResult as 'pass',
      disposition: decision.disposition,
      ...(decision.override ? { override: decision.override } : {}),
      ...(arcResult ? { arcResult } : {}),
    });
    if (!ev) return;
    try {
      recordEvaluation(db, ev);
    } catch (err) {
      // The mail is not lost for a report row: logged and counted, message handled as decided.
      this.#log.error('DMARC evaluation not recorded', { queue_id: this.#ctx.macros.get('i'), ...describeError(err) });
    }
  }

  abort(): void {
    // Postfix aborts after every message too; only a feed still open needs stopping.
    const feed = this.#msg?.feed;
    if (feed && !feed.finished) feed.destroy(new Error('message aborted'));
    this.#msg = undefined;
  }

  close(): void {
    this.abort();
  }
}
