/**
 * One milter connection: decodes frames, negotiates, drives a MilterFilter through the
 * stages and turns its verdicts and modifications into replies. Knows nothing of sockets
 * (the server hands it a transport) and nothing of SPF or DKIM (the filter does that).
 *
 * Failure policy, in one place: a filter that throws, times out or asks for a modification
 * that was not negotiated gets the configured `onFilterError` verdict (default tempfail);
 * a protocol error (bad frame, unknown command) closes this connection only.
 */
import type { Logger } from 'winston';
import { describeError } from '../errors.ts';
import { FrameDecoder } from './codec.ts';
import { parseCommand, normaliseMacroName, stripBrackets, type MilterCommand } from './commands.ts';
import { SMFIC, SMFIF, SMFIP, commandName, flagNames, DEFAULT_MAX_FRAME } from './constants.ts';
import { MilterProtocolError } from './errors.ts';
import { ACTION_BITS, negotiate, type Negotiated } from './negotiation.ts';
import { encodeModification, encodeProgress, encodeVerdict } from './replies.ts';
import { encodeFrame, uint32, cstrings } from './codec.ts';
import type { EndOfMessageResult, FilterFactory, MacroView, MilterFilter, Modification, SessionContext, Stage, Verdict } from './filter.ts';
import { CONTINUE } from './filter.ts';
import type { MilterMetrics } from './metrics.ts';

export interface MilterSessionSettings {
  /** No complete command from the MTA for this long closes the session. */
  readonly readTimeoutMs: number;
  /** endOfMessage taking longer than this gets the onFilterError verdict. */
  readonly eomTimeoutMs: number;
  /** SMFIR_PROGRESS interval while endOfMessage runs (Postfix's milter_content_timeout). */
  readonly progressIntervalMs: number;
  readonly maxFrame: number;
  readonly onFilterError: 'tempfail' | 'accept';
  /** Log every command at debug level. */
  readonly logProtocol: boolean;
}

export const DEFAULT_SESSION_SETTINGS: MilterSessionSettings = {
  readTimeoutMs: 5 * 60_000,
  eomTimeoutMs: 5 * 60_000,
  progressIntervalMs: 10_000,
  maxFrame: DEFAULT_MAX_FRAME,
  onFilterError: 'tempfail',
  logProtocol: false,
};

/** Where the session writes; the server adapts a socket to this. */
export interface SessionTransport {
  write(bytes: Buffer): void;
  /** Close after pending writes. */
  end(): void;
  pause(): void;
  resume(): void;
}

export interface Timers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: Timers = {
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (h) => clearInterval(h as NodeJS.Timeout),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Macro lookup order: the latest stage first (SMFIC command bytes the macros precede). */
const MACRO_ORDER = [SMFIC.BODYEOB, SMFIC.EOH, SMFIC.HEADER, SMFIC.BODY, SMFIC.DATA, SMFIC.RCPT, SMFIC.MAIL, SMFIC.HELO, SMFIC.CONNECT, SMFIC.UNKNOWN];
/** Stages whose macros belong to one message: cleared when the next MAIL's macros arrive. */
const MESSAGE_MACRO_STAGES = [SMFIC.MAIL, SMFIC.RCPT, SMFIC.DATA, SMFIC.HEADER, SMFIC.EOH, SMFIC.BODY, SMFIC.BODYEOB];
const QUEUE_BACKLOG = 64;

class Macros implements MacroView {
  readonly #stages = new Map<number, Map<string, string>>();

  set(stage: number, entries: ReadonlyArray<readonly [string, string]>): void {
    if (stage === SMFIC.MAIL) for (const s of MESSAGE_MACRO_STAGES) this.#stages.delete(s);
    this.#stages.set(stage, new Map(entries));
  }

  clear(): void {
    this.#stages.clear();
  }

  get(name: string): string | undefined {
    const key = normaliseMacroName(name.startsWith('{') || name.length === 1 ? name : `{${name}}`);
    for (const s of MACRO_ORDER) {
      const v = this.#stages.get(s)?.get(key);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  *entries(): IterableIterator<[string, string]> {
    const seen = new Set<string>();
    for (const s of MACRO_ORDER) {
      for (const [k, v] of this.#stages.get(s) ?? []) {
        if (!seen.has(k)) {
          seen.add(k);
          yield [k, v];
        }
      }
    }
  }
}

interface MessageState {
  readonly started: number;
  readonly controller: AbortController;
  rcpts: number;
  headers: number;
  bodyBytes: number;
  ended: boolean;
}

export interface MilterSessionOptions {
  readonly id: string;
  readonly factory: FilterFactory;
  readonly logger: Logger;
  readonly transport: SessionTransport;
  readonly settings?: Partial<MilterSessionSettings>;
  readonly metrics?: MilterMetrics;
  readonly timers?: Timers;
  readonly now?: () => number;
}

export class MilterSession {
  readonly id: string;
  readonly #factory: FilterFactory;
  readonly #log: Logger;
  readonly #transport: SessionTransport;
  readonly #settings: MilterSessionSettings;
  readonly #metrics: MilterMetrics | undefined;
  readonly #timers: Timers;
  readonly #now: () => number;
  readonly #decoder: FrameDecoder;
  readonly #macros = new Macros();
  readonly #queue: MilterCommand[] = [];
  #pumping = false;
  #paused = false;
  #closed = false;
  #draining = false;
  #negotiated: Negotiated | undefined;
  #filter: MilterFilter | undefined;
  #message: MessageState | undefined;
  #resolveDone!: () => void;
  /** Resolves when the session is over (quit, drop, protocol error or destroy). */
  readonly done: Promise<void>;

  constructor(o: MilterSessionOptions) {
    this.id = o.id;
    this.#factory = o.factory;
    this.#log = o.logger.child({ sid: o.id });
    this.#transport = o.transport;
    this.#settings = { ...DEFAULT_SESSION_SETTINGS, ...o.settings };
    this.#metrics = o.metrics;
    this.#timers = o.timers ?? realTimers;
    this.#now = o.now ?? Date.now;
    this.#decoder = new FrameDecoder(this.#settings.maxFrame);
    this.done = new Promise((resolve) => (this.#resolveDone = resolve));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** True between messages: closing now loses no message in progress. */
  get idle(): boolean {
    return !this.#message || this.#message.ended;
  }

  /** Bytes from the MTA. */
  receive(chunk: Buffer): void {
    if (this.#closed) return;
    let commands: MilterCommand[];
    try {
      commands = this.#decoder.push(chunk).map((f) => {
        if (this.#settings.logProtocol) this.#log.debug('milter command', { command: commandName(f.command), bytes: f.payload.length });
        return parseCommand(f);
      });
    } catch (err) {
      this.#protocolError(err);
      return;
    }
    this.#queue.push(...commands);
    if (this.#queue.length > QUEUE_BACKLOG && !this.#paused) {
      this.#paused = true;
      this.#transport.pause();
    }
    void this.#pump();
  }

  /** The MTA closed its side. */
  end(): void {
    if (this.#closed) return;
    try {
      this.#decoder.end();
    } catch (err) {
      this.#protocolError(err);
      return;
    }
    // Let queued commands (e.g. a final QUIT) finish first.
    this.#queue.push({ kind: 'quit' });
    void this.#pump();
  }

  /** Finish the current message, then close (SIGTERM drain). Idle sessions close now. */
  drain(): void {
    this.#draining = true;
    if (this.idle && !this.#pumping && this.#queue.length === 0) this.#finish('drained');
  }

  /** Tear down at once (drain deadline, read timeout, socket error). */
  destroy(reason: string): void {
    if (this.#closed) return;
    this.#log.info('milter session closed', { reason, in_message: !this.idle });
    this.#finish(reason);
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (!this.#closed && this.#queue.length) {
        const cmd = this.#queue.shift()!;
        await this.#handle(cmd);
        if (this.#paused && this.#queue.length < QUEUE_BACKLOG / 2) {
          this.#paused = false;
          this.#transport.resume();
        }
      }
    } catch (err) {
      this.#protocolError(err);
    } finally {
      this.#pumping = false;
    }
    if (this.#draining && this.idle && !this.#closed && this.#queue.length === 0) this.#finish('drained');
  }

  #protocolError(err: unknown): void {
    const e = describeError(err);
    this.#metrics?.protocolErrors.inc({ kind: err instanceof MilterProtocolError ? err.code : 'internal' });
    this.#log.warn('milter protocol error; closing this session', { error: e.message, code: e.code, ...(err instanceof MilterProtocolError ? { context: err.context } : {}) });
    this.#finish('protocol-error');
  }

  #finish(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.length = 0;
    this.#message?.controller.abort(new Error(`session ${reason}`));
    this.#callQuietly('close', () => this.#filter?.close?.());
    this.#filter = undefined;
    this.#transport.end();
    this.#resolveDone();
  }

  /** close()/abort() must not throw into the session; a throw is logged, not swallowed. */
  #callQuietly(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#log.error(`filter ${what} failed`, describeError(err));
    }
  }

  #send(bytes: Buffer): void {
    if (!this.#closed) this.#transport.write(bytes);
  }

  #context(): SessionContext {
    return {
      sessionId: this.id,
      macros: this.#macros,
      progress: () => this.#send(encodeProgress()),
      messageSignal: () => (this.#message ?? this.#startMessage()).controller.signal,
    };
  }

  #startMessage(): MessageState {
    this.#message?.controller.abort(new Error('new message'));
    this.#message = { started: this.#now(), controller: new AbortController(), rcpts: 0, headers: 0, bodyBytes: 0, ended: false };
    return this.#message;
  }

  #requireNegotiated(cmd: MilterCommand): { neg: Negotiated; filter: MilterFilter } {
    if (!this.#negotiated || !this.#filter) {
      throw new MilterProtocolError('unexpected-command', `${cmd.kind} before option negotiation`, { command: cmd.kind });
    }
    return { neg: this.#negotiated, filter: this.#filter };
  }

  async #handle(cmd: MilterCommand): Promise<void> {
    switch (cmd.kind) {
      case 'optneg':
        return this.#optneg(cmd);
      case 'macro':
        this.#macros.set(cmd.stage, cmd.macros);
        return;
      case 'quit':
        this.#finish('quit');
        return;
      case 'quit-nc': {
        // The MTA reuses this connection for a new SMTP session: fresh filter, no macros.
        this.#requireNegotiated(cmd);
        this.#endMessage();
        this.#callQuietly('close', () => this.#filter?.close?.());
        this.#macros.clear();
        this.#filter = this.#factory.create(this.#context());
        return;
      }
      case 'abort': {
        if (!this.#filter) return;
        if (this.#message && !this.#message.ended) this.#metrics?.messages.inc({ verdict: 'aborted' });
        this.#callQuietly('abort', () => this.#filter?.abort?.());
        this.#endMessage();
        return;
      }
      default:
        return this.#stageCommand(cmd);
    }
  }

  #endMessage(): void {
    if (this.#message) {
      this.#message.ended = true;
      this.#message.controller.abort(new Error('message ended'));
    }
  }

  #optneg(cmd: Extract<MilterCommand, { kind: 'optneg' }>): void {
    const req = this.#factory.requirements;
    const neg = negotiate(cmd, req);
    this.#negotiated = neg;
    const parts = [uint32(neg.version), uint32(neg.actions), uint32(neg.protocol)];
    for (const [stage, names] of neg.macros) parts.push(uint32(stage), cstrings(names));
    this.#send(encodeFrame(SMFIC.OPTNEG, Buffer.concat(parts)));
    this.#log.debug('milter negotiated', {
      filter: this.#factory.name,
      version: neg.version,
      actions: flagNames(neg.actions, SMFIF),
      protocol: flagNames(neg.protocol, SMFIP),
    });
    if (this.#filter) this.#callQuietly('close', () => this.#filter?.close?.());
    this.#filter = this.#factory.create(this.#context());
  }

  async #stageCommand(cmd: Exclude<MilterCommand, { kind: 'optneg' | 'macro' | 'quit' | 'quit-nc' | 'abort' }>): Promise<void> {
    const { filter } = this.#requireNegotiated(cmd);
    switch (cmd.kind) {
      case 'connect':
        return this.#stage('connect', filter.connect && (() => filter.connect!({ hostname: cmd.hostname, client: cmd.client })));
      case 'helo':
        return this.#stage('helo', filter.helo && (() => filter.helo!(cmd.name)));
      case 'mail': {
        this.#startMessage();
        const [sender = '', ...args] = cmd.args;
        return this.#stage('mail', filter.mailFrom && (() => filter.mailFrom!(stripBrackets(sender), args)));
      }
      case 'rcpt': {
        if (this.#message) this.#message.rcpts++;
        const [rcpt = '', ...args] = cmd.args;
        return this.#stage('rcpt', filter.rcptTo && (() => filter.rcptTo!(stripBrackets(rcpt), args)));
      }
      case 'data':
        return this.#stage('data', filter.data && (() => filter.data!()));
      case 'header':
        if (this.#message) this.#message.headers++;
        return this.#stage('header', filter.header && (() => filter.header!(cmd.name, cmd.value)));
      case 'eoh':
        return this.#stage('eoh', filter.endOfHeaders && (() => filter.endOfHeaders!()));
      case 'body':
        if (this.#message) this.#message.bodyBytes += cmd.chunk.length;
        return this.#stage('body', filter.body && (() => filter.body!(cmd.chunk)));
      case 'unknown':
        return this.#stage('unknown', undefined);
      case 'eom':
        return this.#eom(filter, cmd.chunk);
    }
  }

  #errorVerdict(stage: Stage, err: unknown): Verdict {
    const e = describeError(err);
    this.#metrics?.filterErrors.inc({ stage });
    this.#log.error('filter failed', { stage, error: e.message, code: e.code, queue_id: this.#macros.get('i'), policy: this.#settings.onFilterError });
    return this.#settings.onFilterError === 'accept'
      ? { kind: 'accept' }
      : { kind: 'tempfail', reply: { code: 451, enhanced: '4.3.0', text: 'temporary mail filter failure, try again later' } };
  }

  async #stage(stage: Stage, call: (() => Verdict | Promise<Verdict>) | undefined): Promise<void> {
    const neg = this.#negotiated!;
    const start = this.#now();
    let verdict: Verdict = CONTINUE;
    if (call) {
      try {
        verdict = await call();
      } catch (err) {
        verdict = this.#errorVerdict(stage, err);
      }
    }
    this.#metrics?.stageSeconds.observe({ stage }, (this.#now() - start) / 1000);
    if (neg.noReply.has(stage)) {
      if (verdict.kind !== 'continue') this.#log.warn('verdict at a no-reply stage cannot be sent', { stage, verdict: verdict.kind });
      return;
    }
    this.#send(encodeVerdict(verdict));
    // A final verdict before end of message ends the message (RCPT verdicts are per recipient).
    if (verdict.kind !== 'continue' && stage !== 'rcpt' && stage !== 'connect' && stage !== 'helo' && this.#message && !this.#message.ended) {
      this.#summary(verdict, [], undefined, stage);
      this.#endMessage();
    }
  }

  async #eom(filter: MilterFilter, lastChunk: Buffer): Promise<void> {
    const neg = this.#negotiated!;
    const msg = this.#message ?? this.#startMessage();
    if (lastChunk.length && filter.body) {
      msg.bodyBytes += lastChunk.length;
      try {
        await filter.body(lastChunk);
      } catch (err) {
        this.#finishEom({ verdict: this.#errorVerdict('body', err), modifications: [] }, neg, 'error');
        return;
      }
    }
    const start = this.#now();
    const progress = this.#timers.setInterval(() => this.#send(encodeProgress()), this.#settings.progressIntervalMs);
    let timer: unknown;
    const timeout = new Promise<'timeout'>((resolve) => (timer = this.#timers.setTimeout(() => resolve('timeout'), this.#settings.eomTimeoutMs)));
    let result: EndOfMessageResult;
    let outcome: 'ok' | 'error' = 'ok';
    try {
      const r = await Promise.race([Promise.resolve().then(() => filter.endOfMessage()), timeout]);
      if (r === 'timeout') {
        msg.controller.abort(new Error('end-of-message timeout'));
        result = { verdict: this.#errorVerdict('eom', new Error(`endOfMessage took longer than ${this.#settings.eomTimeoutMs} ms`)), modifications: [] };
        outcome = 'error';
      } else {
        result = r;
      }
    } catch (err) {
      result = { verdict: this.#errorVerdict('eom', err), modifications: [] };
      outcome = 'error';
    } finally {
      this.#timers.clearInterval(progress);
      this.#timers.clearTimeout(timer);
    }
    this.#metrics?.stageSeconds.observe({ stage: 'eom' }, (this.#now() - start) / 1000);
    this.#finishEom(result, neg, outcome);
  }

  #finishEom(result: EndOfMessageResult, neg: Negotiated, outcome: 'ok' | 'error'): void {
    let { verdict, modifications } = result;
    const refused = modifications.filter((m) => !(neg.actions & ACTION_BITS[actionOf(m)]));
    if (refused.length) {
      const err = new MilterProtocolError('modification-not-negotiated', `filter asked for ${refused.map((m) => m.kind).join(', ')} which was not negotiated`, {
        refused: refused.map((m) => m.kind),
      });
      verdict = this.#errorVerdict('eom', err);
      modifications = [];
    }
    // Modifications only make sense for a message that is delivered.
    if (verdict.kind === 'continue' || verdict.kind === 'accept') {
      for (const m of modifications) this.#send(encodeModification(m, neg.leadingSpace));
    } else {
      modifications = [];
    }
    this.#send(encodeVerdict(verdict));
    this.#summary(verdict, modifications, outcome === 'ok' ? result.summary : undefined, 'eom');
    this.#endMessage();
    if (this.#draining) this.#finish('drained');
  }

  #summary(verdict: Verdict, mods: readonly Modification[], summary: EndOfMessageResult['summary'], stage: Stage): void {
    const msg = this.#message;
    const label = verdict.kind === 'continue' ? 'accept' : verdict.kind;
    this.#metrics?.messages.inc({ verdict: label });
    const reply = 'reply' in verdict && verdict.reply ? `${verdict.reply.code}${verdict.reply.enhanced ? ` ${verdict.reply.enhanced}` : ''} ${verdict.reply.text}` : undefined;
    this.#log.info('message', {
      queue_id: this.#macros.get('i') ?? 'NOQUEUE',
      verdict: label,
      stage,
      ...(reply ? { reply } : {}),
      actions: mods.map(describeModification),
      rcpts: msg?.rcpts ?? 0,
      body_bytes: msg?.bodyBytes ?? 0,
      ms: msg ? this.#now() - msg.started : 0,
      ...summary,
    });
  }
}

function actionOf(m: Modification): keyof typeof ACTION_BITS {
  switch (m.kind) {
    case 'add-header':
    case 'insert-header':
      return 'add-header';
    case 'change-header':
      return 'change-header';
    case 'quarantine':
      return 'quarantine';
    case 'change-from':
      return 'change-from';
    case 'add-rcpt':
      return 'add-rcpt';
    case 'delete-rcpt':
      return 'delete-rcpt';
    case 'replace-body':
      return 'change-body';
  }
}

function describeModification(m: Modification): string {
  switch (m.kind) {
    case 'add-header':
    case 'insert-header':
      return `${m.kind}:${m.name}`;
    case 'change-header':
      return `${m.value === '' ? 'delete-header' : 'change-header'}:${m.name}#${m.occurrence}`;
    case 'quarantine':
      return 'quarantine';
    default:
      return m.kind;
  }
}
