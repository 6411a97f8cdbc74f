/**
 * One milter connection: decodes frames, keeps the protocol state (`state.ts`), negotiates,
 * drives a MilterFilter through the stages and turns its verdicts and modifications into
 * replies. Knows nothing of sockets (the server hands it a transport) and nothing of SPF or
 * DKIM (the filter does that).
 *
 * Failure policy, in one place: a filter that throws, takes longer than its stage deadline
 * (`commandTimeoutMs`, `eomTimeoutMs`) or asks for a modification that was not negotiated
 * gets the configured `onFilterError` verdict (default tempfail) — at a no-reply stage it
 * is remembered and given at the next reply, at the latest at end of message, and the
 * filter sees nothing more of that message. A protocol error (bad frame, unknown command,
 * a command out of order, a deadline of the MTA's side missed, no room in the buffer
 * budget) closes this connection only.
 *
 * Bounds: each frame is admitted against the process-wide `BufferBudget` from its length
 * prefix and released once handled; at most QUEUE_MAX_COMMANDS commands or `maxFrame`
 * bytes wait here before the socket is paused; macros are bounded in `macros.ts`.
 */
import type { Logger } from 'winston';
import { describeError } from '../errors.ts';
import { BufferBudget } from './buffer-budget.ts';
import { FrameDecoder, cstrings, encodeFrame, uint32 } from './codec.ts';
import { parseCommand, stripBrackets, type MilterCommand } from './commands.ts';
import { SMFIC, SMFIF, SMFIP, commandName, flagNames, DEFAULT_MAX_FRAME } from './constants.ts';
import { PeerDeadlines, type DeadlineCode } from './deadlines.ts';
import { MilterProtocolError } from './errors.ts';
import type { EndOfMessageResult, FilterFactory, FilterRequirements, MilterFilter, Modification, SessionContext, Stage, Verdict } from './filter.ts';
import { CONTINUE } from './filter.ts';
import { Macros } from './macros.ts';
import type { MilterMetrics } from './metrics.ts';
import { ACTION_BITS, negotiate, type Negotiated } from './negotiation.ts';
import { encodeModification, encodeProgress, encodeVerdict } from './replies.ts';
import { BETWEEN_MESSAGES, INITIAL_PHASE, transition, type Phase } from './state.ts';

export interface MilterSessionSettings {
  /** It is the MTA's turn and no frame comes for this long: the session is closed. */
  readonly readTimeoutMs: number;
  /** A frame not complete this long after its first byte closes the session. */
  readonly frameTimeoutMs: number;
  /** Message content (first header to end of message) slower than this closes the session; 0 = off. */
  readonly minDataRate: number;
  /** A filter callback before end of message taking longer gets the onFilterError verdict. */
  readonly commandTimeoutMs: number;
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
  frameTimeoutMs: 10_000,
  minDataRate: 16 * 1024,
  commandTimeoutMs: 25_000,
  eomTimeoutMs: 5 * 60_000,
  progressIntervalMs: 10_000,
  maxFrame: DEFAULT_MAX_FRAME,
  onFilterError: 'tempfail',
  logProtocol: false,
};

/** Where the session writes; the server adapts a socket to this. */
export interface SessionTransport {
  write(bytes: Buffer): void;
  /** Close after pending writes; the server then frees the connection fully. */
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

/** Commands waiting to be handled before the socket is paused (a small per-session queue). */
const QUEUE_MAX_COMMANDS = 32;
const CONTENT_STEPS: ReadonlySet<MilterCommand['kind']> = new Set(['header', 'eoh', 'body']);
const NOTHING_OFF: ReadonlySet<Stage> = new Set();
/**
 * The stage histogram's label sets, one per stage (observed for every header and body
 * chunk); prom-client keeps the first it sees and only reads them. Not frozen: a metrics
 * library is free to write to a labels object it was handed.
 */
const STAGE_LABELS: Readonly<Record<Stage, { readonly stage: Stage }>> = {
  connect: { stage: 'connect' },
  helo: { stage: 'helo' },
  mail: { stage: 'mail' },
  rcpt: { stage: 'rcpt' },
  data: { stage: 'data' },
  header: { stage: 'header' },
  eoh: { stage: 'eoh' },
  body: { stage: 'body' },
  eom: { stage: 'eom' },
  unknown: { stage: 'unknown' },
};

interface Queued {
  readonly cmd: MilterCommand;
  /** The frame's size as admitted against the budget. */
  readonly bytes: number;
}

interface MessageState {
  readonly started: number;
  readonly controller: AbortController;
  rcpts: number;
  headers: number;
  bodyBytes: number;
  ended: boolean;
  /** A stage of this message failed where no reply could carry it: the verdict owed. */
  failed?: Verdict;
}

type CallOutcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly verdict: Verdict };
const TIMED_OUT: unique symbol = Symbol('timed out');

export interface MilterSessionOptions {
  readonly id: string;
  readonly factory: FilterFactory;
  readonly logger: Logger;
  readonly transport: SessionTransport;
  readonly settings?: Partial<MilterSessionSettings>;
  readonly metrics?: MilterMetrics;
  readonly timers?: Timers;
  readonly now?: () => number;
  /** Shared by every session of the process (the server's); default: unbounded, this session only. */
  readonly budget?: BufferBudget;
}

export class MilterSession {
  readonly id: string;
  readonly #factory: FilterFactory;
  readonly #baseLog: Logger;
  #childLog: Logger | undefined;
  readonly #transport: SessionTransport;
  readonly #settings: MilterSessionSettings;
  readonly #metrics: MilterMetrics | undefined;
  readonly #timers: Timers;
  readonly #now: () => number;
  readonly #budget: BufferBudget;
  readonly #decoder: FrameDecoder;
  readonly #deadlines: PeerDeadlines;
  readonly #macros = new Macros();
  readonly #queue: Queued[] = [];
  #queuedBytes = 0;
  /** Bytes of this session admitted against the budget and not yet released. */
  #reserved = 0;
  #pumping = false;
  #paused = false;
  #closed = false;
  #draining = false;
  #phase: Phase = INITIAL_PHASE;
  #negotiated: Negotiated | undefined;
  #filter: MilterFilter | undefined;
  #message: MessageState | undefined;
  /** A connection-level stage (connect, helo, unknown) failed at no-reply: owed to every message. */
  #connectionFailed: Verdict | undefined;
  #resolveDone!: () => void;
  /** Resolves when the session is over (quit, drop, protocol error or destroy). */
  readonly done: Promise<void>;

  constructor(o: MilterSessionOptions) {
    this.id = o.id;
    this.#factory = o.factory;
    this.#baseLog = o.logger;
    this.#transport = o.transport;
    this.#settings = { ...DEFAULT_SESSION_SETTINGS, ...o.settings };
    this.#metrics = o.metrics;
    this.#timers = o.timers ?? realTimers;
    this.#now = o.now ?? Date.now;
    this.#budget = o.budget ?? new BufferBudget(Infinity);
    this.#decoder = new FrameDecoder(this.#settings.maxFrame, {
      admit: (bytes) => {
        if (!this.#budget.tryReserve(bytes)) return false;
        this.#reserved += bytes;
        return true;
      },
    });
    this.#deadlines = new PeerDeadlines(this.#settings, this.#timers, this.#now, (code, detail) => this.#peerDeadline(code, detail));
    this.done = new Promise((resolve) => (this.#resolveDone = resolve));
  }

  /** This session's logger (`sid` on every line), made when first needed: most sessions log nothing at `warn`. */
  get #log(): Logger {
    return (this.#childLog ??= this.#baseLog.child({ sid: this.id }));
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
    try {
      const frames = this.#decoder.push(chunk);
      this.#deadlines.received(frames.length, this.#decoder.pending > 0);
      for (const f of frames) {
        if (this.#settings.logProtocol) this.#log.debug('milter command', { command: commandName(f.command), bytes: f.payload.length });
        const bytes = f.payload.length + 5;
        this.#queue.push({ cmd: parseCommand(f), bytes });
        this.#queuedBytes += bytes;
      }
    } catch (err) {
      this.#protocolError(err);
      return;
    }
    if (!this.#paused && (this.#queue.length >= QUEUE_MAX_COMMANDS || this.#queuedBytes >= this.#settings.maxFrame)) {
      this.#paused = true;
      this.#deadlines.setPaused(true);
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
    this.#queue.push({ cmd: { kind: 'quit' }, bytes: 0 });
    void this.#pump();
  }

  /** Finish the current message, then close (SIGTERM drain). Idle sessions close now. */
  drain(): void {
    this.#draining = true;
    if (this.idle && !this.#pumping && this.#queue.length === 0) this.#finish('drained');
  }

  /** Tear down at once (drain deadline, socket error, write backlog). */
  destroy(reason: string): void {
    if (this.#closed) return;
    this.#log.info('milter session closed', { reason, in_message: !this.idle });
    this.#finish(reason);
  }

  /**
   * An error outside any filter call was traced to this session (the process-level policy
   * in src/app/process-errors.ts): this session ends; the process and the others go on.
   */
  failInternal(err: unknown): void {
    if (this.#closed) return;
    const e = describeError(err);
    this.#metrics?.protocolErrors.inc({ kind: 'internal-error' });
    this.#log.error('internal error in this milter session; closing it', { error: e.message, code: e.code, in_message: !this.idle, queue_id: this.#macros.get('i') });
    this.#finish('internal-error');
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    this.#deadlines.setBusy(true);
    try {
      while (!this.#closed && this.#queue.length) {
        const { cmd, bytes } = this.#queue.shift()!;
        this.#queuedBytes -= bytes;
        try {
          // Most commands (headers, body chunks, macros) are handled synchronously: awaiting
          // only what returns a promise saves a microtask round per frame.
          const pending = this.#handle(cmd, bytes);
          if (pending) await pending;
        } finally {
          this.#release(bytes);
        }
        if (this.#paused && this.#queue.length < QUEUE_MAX_COMMANDS / 2 && this.#queuedBytes < this.#settings.maxFrame / 2 && !this.#closed) {
          this.#paused = false;
          this.#deadlines.setPaused(false);
          this.#transport.resume();
        }
      }
    } catch (err) {
      this.#protocolError(err);
    } finally {
      this.#pumping = false;
      if (!this.#closed) this.#deadlines.setBusy(false);
    }
    if (this.#draining && this.idle && !this.#closed && this.#queue.length === 0) this.#finish('drained');
  }

  #release(bytes: number): void {
    if (this.#closed || bytes === 0) return; // #finish released everything at once
    this.#reserved -= bytes;
    this.#budget.release(bytes);
  }

  #peerDeadline(code: DeadlineCode, detail: string): void {
    this.#protocolError(new MilterProtocolError(code, detail, { phase: this.#phase.kind, ...(this.#phase.kind === 'message' ? { step: this.#phase.step } : {}) }));
  }

  #protocolError(err: unknown): void {
    if (this.#closed) return;
    const e = describeError(err);
    this.#metrics?.protocolErrors.inc({ kind: err instanceof MilterProtocolError ? err.code : 'internal' });
    this.#log.warn('milter protocol error; closing this session', { error: e.message, code: e.code, ...(err instanceof MilterProtocolError ? { context: err.context } : {}) });
    this.#finish('protocol-error');
  }

  #finish(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#deadlines.stop();
    this.#queue.length = 0;
    this.#queuedBytes = 0;
    this.#budget.release(this.#reserved);
    this.#reserved = 0;
    if (this.#message && !this.#message.controller.signal.aborted) this.#message.controller.abort(abortReason(`session ${reason}`));
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
    if (this.#message && !this.#message.controller.signal.aborted) this.#message.controller.abort(abortReason('new message'));
    this.#message = { started: this.#now(), controller: new AbortController(), rcpts: 0, headers: 0, bodyBytes: 0, ended: false };
    return this.#message;
  }

  /** The message is over (end of message, abort, final verdict): its work stops. */
  #endMessage(): void {
    this.#deadlines.contentEnded();
    if (this.#message) {
      this.#message.ended = true;
      if (!this.#message.controller.signal.aborted) this.#message.controller.abort(abortReason('message ended'));
    }
  }

  #filterOrThrow(cmd: MilterCommand): MilterFilter {
    if (!this.#filter) throw new MilterProtocolError('unexpected-command', `${cmd.kind} before option negotiation`, { command: cmd.kind });
    return this.#filter;
  }

  #handle(cmd: MilterCommand, bytes: number): void | Promise<void> {
    const t = transition(this.#phase, cmd.kind, this.#negotiated?.off ?? NOTHING_OFF);
    if (!t.ok) throw new MilterProtocolError('unexpected-command', t.reason, { command: cmd.kind });
    this.#phase = t.next;
    if (CONTENT_STEPS.has(cmd.kind)) {
      this.#deadlines.contentStarted();
      this.#deadlines.contentBytes(bytes);
    } else if (cmd.kind === 'macro' && this.#phase.kind === 'message' && CONTENT_STEPS.has(this.#phase.step)) {
      this.#deadlines.contentBytes(bytes);
    }
    if (t.startsMessage) this.#startMessage();
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
        this.#filterOrThrow(cmd);
        this.#endMessage();
        this.#callQuietly('close', () => this.#filter?.close?.());
        this.#macros.clear();
        this.#connectionFailed = undefined;
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

  #optneg(cmd: Extract<MilterCommand, { kind: 'optneg' }>): void {
    const { negotiated: neg, reply } = negotiation(cmd, this.#factory.requirements);
    this.#negotiated = neg;
    this.#send(reply);
    if (this.#baseLog.isDebugEnabled()) {
      this.#log.debug('milter negotiated', {
        filter: this.#factory.name,
        version: neg.version,
        actions: flagNames(neg.actions, SMFIF),
        protocol: flagNames(neg.protocol, SMFIP),
      });
    }
    this.#filter = this.#factory.create(this.#context());
  }

  #stageCommand(cmd: Exclude<MilterCommand, { kind: 'optneg' | 'macro' | 'quit' | 'quit-nc' | 'abort' }>): void | Promise<void> {
    const filter = this.#filterOrThrow(cmd);
    switch (cmd.kind) {
      case 'connect':
        return this.#stage('connect', filter.connect && (() => filter.connect!({ hostname: cmd.hostname, client: cmd.client })));
      case 'helo':
        return this.#stage('helo', filter.helo && (() => filter.helo!(cmd.name)));
      case 'mail': {
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

  /**
   * Runs one filter callback within its deadline. A throw or a timeout becomes the error
   * verdict; after a timeout the message's signal is aborted so its DNS work stops, and a
   * late failure of the abandoned call is observed here (never an unhandled rejection).
   */
  #call<T>(stage: Stage, ms: number, fn: () => T | Promise<T>): CallOutcome<T> | Promise<CallOutcome<T>> {
    const started = this.#now();
    let value: T | Promise<T>;
    try {
      value = fn();
    } catch (err) {
      return { ok: false, verdict: this.#errorVerdict(stage, err) };
    }
    // A callback that answered synchronously cannot have overrun its deadline in a way a
    // timer could catch (the timer could not fire before it returned): no timer, no race.
    if (!isPromiseLike(value)) return { ok: true, value };
    return this.#callAsync(stage, ms, ms - (this.#now() - started), value);
  }

  /** `left`: what remains of `ms` after the callback's synchronous part. */
  async #callAsync<T>(stage: Stage, ms: number, left: number, pending: PromiseLike<T>): Promise<CallOutcome<T>> {
    const work = Promise.resolve(pending);
    work.catch(() => undefined);
    let timer: unknown;
    const timeout = new Promise<typeof TIMED_OUT>((resolve) => (timer = this.#timers.setTimeout(() => resolve(TIMED_OUT), Math.max(0, left))));
    try {
      const r = await Promise.race([work, timeout]);
      if (r === TIMED_OUT) {
        const err = new MilterProtocolError('stage-timeout', `${stage} took longer than ${ms} ms`, { stage, ms });
        this.#message?.controller.abort(err);
        return { ok: false, verdict: this.#errorVerdict(stage, err) };
      }
      return { ok: true, value: r };
    } catch (err) {
      return { ok: false, verdict: this.#errorVerdict(stage, err) };
    } finally {
      this.#timers.clearTimeout(timer);
    }
  }

  #stage(stage: Stage, call: (() => Verdict | Promise<Verdict>) | undefined): void | Promise<void> {
    const inMessage = stage !== 'connect' && stage !== 'helo' && stage !== 'unknown';
    const msg = inMessage && this.#message && !this.#message.ended ? this.#message : undefined;
    const start = this.#now();
    // A failure already owed: the filter sees nothing more of this message.
    const owed = msg?.failed ?? this.#connectionFailed;
    if (owed || !call) return this.#stageDone(stage, inMessage, msg, start, owed ?? CONTINUE, owed !== undefined && owed !== CONTINUE);
    const r = this.#call(stage, this.#settings.commandTimeoutMs, call);
    if (isPromiseLike(r)) return r.then((o) => this.#stageDone(stage, inMessage, msg, start, o.ok ? o.value : o.verdict, !o.ok));
    return this.#stageDone(stage, inMessage, msg, start, r.ok ? r.value : r.verdict, !r.ok);
  }

  #stageDone(stage: Stage, inMessage: boolean, msg: MessageState | undefined, start: number, verdict: Verdict, failed: boolean): void {
    const neg = this.#negotiated!;
    this.#metrics?.stageSeconds.observe(STAGE_LABELS[stage], (this.#now() - start) / 1000);
    if (neg.noReply.has(stage)) {
      if (failed) {
        // No reply can carry it now: owed at the next reply, at the latest at end of message.
        if (msg) msg.failed = verdict;
        else if (!inMessage) this.#connectionFailed = verdict;
      } else if (verdict.kind !== 'continue') this.#log.warn('verdict at a no-reply stage cannot be sent', { stage, verdict: verdict.kind });
      return;
    }
    this.#send(encodeVerdict(verdict));
    // A final verdict before end of message ends the message (RCPT verdicts are per recipient).
    if (verdict.kind !== 'continue' && stage !== 'rcpt' && msg) {
      this.#summary(verdict, [], undefined, stage);
      this.#endMessage();
      this.#phase = BETWEEN_MESSAGES;
    }
  }

  async #eom(filter: MilterFilter, lastChunk: Buffer): Promise<void> {
    const neg = this.#negotiated!;
    const msg = this.#message ?? this.#startMessage();
    // From here it is our turn: the data-rate rule is over for this message.
    this.#deadlines.contentEnded();
    const owed = msg.failed ?? this.#connectionFailed;
    if (owed) {
      this.#finishEom({ verdict: owed, modifications: [] }, neg, 'error');
      return;
    }
    if (lastChunk.length && filter.body) {
      msg.bodyBytes += lastChunk.length;
      const r = await this.#call('body', this.#settings.commandTimeoutMs, () => filter.body!(lastChunk));
      if (!r.ok) {
        this.#finishEom({ verdict: r.verdict, modifications: [] }, neg, 'error');
        return;
      }
    }
    const start = this.#now();
    const progress = this.#timers.setInterval(() => this.#send(encodeProgress()), this.#settings.progressIntervalMs);
    let r: CallOutcome<EndOfMessageResult>;
    try {
      r = await this.#call('eom', this.#settings.eomTimeoutMs, () => filter.endOfMessage());
    } finally {
      this.#timers.clearInterval(progress);
    }
    this.#metrics?.stageSeconds.observe(STAGE_LABELS.eom, (this.#now() - start) / 1000);
    if (this.#closed) return;
    this.#finishEom(r.ok ? r.value : { verdict: r.verdict, modifications: [] }, neg, r.ok ? 'ok' : 'error');
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
    // Modifications only make sense for a message that is delivered. They and the verdict
    // go out in one write: one system call per message instead of one per frame.
    const replies: Buffer[] = [];
    if (verdict.kind === 'continue' || verdict.kind === 'accept') {
      for (const m of modifications) replies.push(encodeModification(m, neg.leadingSpace));
    } else {
      modifications = [];
    }
    replies.push(encodeVerdict(verdict));
    this.#send(replies.length === 1 ? replies[0]! : Buffer.concat(replies));
    this.#summary(verdict, modifications, outcome === 'ok' ? result.summary : undefined, 'eom');
    this.#endMessage();
    if (this.#draining) this.#finish('drained');
  }

  #summary(verdict: Verdict, mods: readonly Modification[], summary: EndOfMessageResult['summary'], stage: Stage): void {
    const msg = this.#message;
    const label = verdict.kind === 'continue' ? 'accept' : verdict.kind;
    this.#metrics?.messages.inc({ verdict: label });
    if (!this.#baseLog.isInfoEnabled()) return;
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

function isPromiseLike<T>(v: T | PromiseLike<T>): v is PromiseLike<T> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/**
 * An abort reason. Only its message is read (the `cause` of an ABORTED DnsError), and one
 * is needed for every message, so each distinct message (a handful of fixed strings) is
 * built once, without a stack trace, and shared.
 */
const ABORT_REASONS = new Map<string, Error>();

function abortReason(message: string): Error {
  let reason = ABORT_REASONS.get(message);
  if (reason) return reason;
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    reason = new Error(message);
  } finally {
    Error.stackTraceLimit = limit;
  }
  if (ABORT_REASONS.size < 32) ABORT_REASONS.set(message, reason);
  return reason;
}

/**
 * The outcome of negotiation and its encoded reply, per filter requirements and MTA offer:
 * the same for every connection from one Postfix, so worked out once. A few offers per
 * requirements at most (a peer that varies its offer just gets them computed each time).
 */
const NEGOTIATIONS = new WeakMap<FilterRequirements, Map<string, { readonly negotiated: Negotiated; readonly reply: Buffer }>>();
const MAX_CACHED_OFFERS = 8;

function negotiation(offer: Extract<MilterCommand, { kind: 'optneg' }>, req: FilterRequirements): { readonly negotiated: Negotiated; readonly reply: Buffer } {
  let byOffer = NEGOTIATIONS.get(req);
  const key = `${offer.version}:${offer.actions}:${offer.protocol}`;
  const cached = byOffer?.get(key);
  if (cached) return cached;
  const negotiated = negotiate(offer, req);
  const parts = [uint32(negotiated.version), uint32(negotiated.actions), uint32(negotiated.protocol)];
  for (const [stage, names] of negotiated.macros) parts.push(uint32(stage), cstrings(names));
  const made = { negotiated, reply: encodeFrame(SMFIC.OPTNEG, Buffer.concat(parts)) };
  if (!byOffer) NEGOTIATIONS.set(req, (byOffer = new Map()));
  if (byOffer.size < MAX_CACHED_OFFERS) byOffer.set(key, made);
  return made;
}
