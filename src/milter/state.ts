/**
 * The protocol state of one milter connection, pure: which command may come next. Modelled
 * on libmilter's state table (engine.c `next_states`): OPTNEG first; CONNECT once per SMTP
 * session; HELO and UNKNOWN between messages; a message is MAIL → RCPT… → DATA → HEADER…
 * → EOH → BODY… → EOM, in that order, any step the MTA does not send skipped (a stage
 * negotiated away, a message without headers or body). ABORT, QUIT and MACRO may come at
 * any time after negotiation; QUIT_NC starts a new SMTP session on the same connection.
 *
 * Where libmilter quietly aborts the message and ignores a command out of order, we close
 * the session (a protocol error): an MTA that sends EOH, BODY or EOM after EOM is confused
 * or hostile, and passing such commands to the filter is how the filter's per-message work
 * ran twice (issue 16: "Digest already called", an unhandled rejection). Postfix never does.
 */
import type { MilterCommand } from './commands.ts';
import type { Stage } from './filter.ts';

/** Steps of one message, in protocol order. */
export type MessageStep = 'mail' | 'rcpt' | 'data' | 'header' | 'eoh' | 'body';

export type Phase =
  | { readonly kind: 'init' } // before OPTNEG
  | { readonly kind: 'negotiated' } // OPTNEG done; CONNECT expected
  | { readonly kind: 'smtp' } // CONNECT done; between messages
  | { readonly kind: 'message'; readonly step: MessageStep };

export const INITIAL_PHASE: Phase = Object.freeze({ kind: 'init' });
export const BETWEEN_MESSAGES: Phase = Object.freeze({ kind: 'smtp' });

export type Transition =
  | { readonly ok: true; readonly next: Phase; readonly startsMessage: boolean; readonly endsMessage: boolean }
  | { readonly ok: false; readonly reason: string };

type Kind = MilterCommand['kind'];
type MessageKind = 'mail' | 'rcpt' | 'data' | 'header' | 'eoh' | 'body' | 'eom';

const RANK: Readonly<Record<MessageKind, number>> = { mail: 1, rcpt: 2, data: 3, header: 4, eoh: 5, body: 6, eom: 7 };
/** Steps that come once per message; the others may repeat. */
const ONCE: ReadonlySet<MessageKind> = new Set(['mail', 'data', 'eoh', 'eom']);
/** UNKNOWN is an SMTP command the MTA did not know: possible outside DATA only. */
const ENVELOPE: ReadonlySet<MessageStep> = new Set(['mail', 'rcpt']);

/** One phase object per message step: a transition per frame allocates none. */
const MESSAGE_PHASE: Readonly<Record<MessageStep, Phase>> = {
  mail: Object.freeze({ kind: 'message', step: 'mail' }),
  rcpt: Object.freeze({ kind: 'message', step: 'rcpt' }),
  data: Object.freeze({ kind: 'message', step: 'data' }),
  header: Object.freeze({ kind: 'message', step: 'header' }),
  eoh: Object.freeze({ kind: 'message', step: 'eoh' }),
  body: Object.freeze({ kind: 'message', step: 'body' }),
};

function isMessageKind(k: Kind): k is MessageKind {
  return k in RANK;
}

const ok = (next: Phase, startsMessage = false, endsMessage = false): Transition => ({ ok: true, next, startsMessage, endsMessage });
const no = (reason: string): Transition => ({ ok: false, reason });

function describe(phase: Phase): string {
  switch (phase.kind) {
    case 'init':
      return 'before option negotiation';
    case 'negotiated':
      return 'before CONNECT';
    case 'smtp':
      return 'outside a message';
    case 'message':
      return `after ${phase.step.toUpperCase()}`;
  }
}

/**
 * `off`: the stages switched off in negotiation (SMFIP_NO*), which the MTA will not send —
 * so e.g. with CONNECT off the first command after OPTNEG may be HELO or MAIL, and with MAIL
 * off a message starts with whatever step comes first.
 */
export function transition(phase: Phase, kind: Kind, off: ReadonlySet<Stage>): Transition {
  if (kind === 'quit') return ok(phase);
  if (phase.kind === 'init') return kind === 'optneg' ? ok({ kind: 'negotiated' }) : no(`${kind} before option negotiation`);
  switch (kind) {
    case 'optneg':
      return no('a second OPTNEG');
    case 'macro':
      return ok(phase);
    case 'abort':
      // Postfix sends ABORT after every message and on RSET, inside a message or not.
      return phase.kind === 'message' ? ok(BETWEEN_MESSAGES, false, true) : ok(phase);
    case 'quit-nc':
      return ok({ kind: 'negotiated' }, false, phase.kind === 'message');
    case 'connect':
      return phase.kind === 'negotiated' ? ok(BETWEEN_MESSAGES) : no(`CONNECT ${describe(phase)}`);
  }
  // Everything below belongs to an SMTP session: CONNECT must have come, unless it is off.
  const session = phase.kind === 'negotiated' ? (off.has('connect') ? BETWEEN_MESSAGES : undefined) : phase;
  if (!session) return no(`${kind.toUpperCase()} before CONNECT`);
  switch (kind) {
    case 'helo':
      return session.kind === 'smtp' ? ok(session) : no(`HELO ${describe(session)}`);
    case 'unknown':
      return session.kind === 'smtp' || (session.kind === 'message' && ENVELOPE.has(session.step)) ? ok(session) : no(`UNKNOWN ${describe(session)}`);
  }
  if (!isMessageKind(kind)) return no(`unexpected ${kind}`);
  if (session.kind === 'smtp') {
    // A message starts with MAIL, or with its first step the MTA sends when MAIL is off.
    if (kind !== 'mail' && !off.has('mail')) return no(`${kind.toUpperCase()} outside a message (no MAIL)`);
    return kind === 'eom' ? ok(BETWEEN_MESSAGES, true, true) : ok(MESSAGE_PHASE[kind], true);
  }
  if (session.kind !== 'message') return no(`unexpected ${kind}`);
  const from = RANK[session.step];
  const to = RANK[kind];
  if (to < from || (to === from && ONCE.has(kind))) return no(`${kind.toUpperCase()} ${describe(session)}`);
  // After headers comes EOH (libmilter's NX_HDRS), unless EOH was negotiated away.
  if (session.step === 'header' && to > RANK.eoh && !off.has('eoh')) return no(`${kind.toUpperCase()} after HEADER without EOH`);
  return kind === 'eom' ? ok(BETWEEN_MESSAGES, false, true) : ok(MESSAGE_PHASE[kind]);
}
