/**
 * The per-connection protocol state machine (src/milter/state.ts), table-driven: Postfix's
 * orders pass; a command out of order is refused with a reason (the session then closes).
 */
import test from 'ava';
import type { MilterCommand } from '../../src/milter/commands.ts';
import type { Stage } from '../../src/milter/filter.ts';
import { INITIAL_PHASE, transition, type Phase } from '../../src/milter/state.ts';

type Kind = MilterCommand['kind'];
const NONE: ReadonlySet<Stage> = new Set();

/** Runs `kinds` from the start; the index of the first refused command, or -1. */
function run(kinds: readonly Kind[], off: ReadonlySet<Stage> = NONE): { refusedAt: number; reason?: string; phase: Phase } {
  let phase: Phase = INITIAL_PHASE;
  for (let i = 0; i < kinds.length; i++) {
    const t = transition(phase, kinds[i]!, off);
    if (!t.ok) return { refusedAt: i, reason: t.reason, phase };
    phase = t.next;
  }
  return { refusedAt: -1, phase };
}

const MESSAGE: Kind[] = ['macro', 'mail', 'macro', 'rcpt', 'rcpt', 'data', 'header', 'header', 'eoh', 'body', 'body', 'macro', 'eom'];
const POSTFIX: Kind[] = ['optneg', 'macro', 'connect', 'macro', 'helo', ...MESSAGE, 'abort', ...MESSAGE, 'abort', 'quit'];

test('what Postfix sends passes: two messages, ABORT after each, QUIT', (t) => {
  t.is(run(POSTFIX).refusedAt, -1);
});

test('steps the MTA leaves out are skipped: no DATA, no headers, no body, RSET (ABORT) mid-message, HELO twice, UNKNOWN in the envelope', (t) => {
  t.is(run(['optneg', 'connect', 'helo', 'helo', 'mail', 'rcpt', 'unknown', 'eoh', 'eom', 'quit']).refusedAt, -1);
  t.is(run(['optneg', 'connect', 'mail', 'rcpt', 'abort', 'mail', 'rcpt', 'header', 'eoh', 'eom', 'mail', 'eom']).refusedAt, -1);
  t.is(run(['optneg', 'connect', 'mail', 'header', 'eom'], new Set<Stage>(['eoh'])).refusedAt, -1, 'EOH off: the MTA goes from headers to the end');
});

test('stages negotiated away: with CONNECT off the session starts at HELO or MAIL; with MAIL off a message starts at its first step', (t) => {
  t.is(run(['optneg', 'helo', 'mail', 'eom'], new Set<Stage>(['connect'])).refusedAt, -1);
  t.is(run(['optneg', 'mail'], NONE).refusedAt, 1, 'MAIL before CONNECT is refused when CONNECT is on');
  t.is(run(['optneg', 'connect', 'header', 'eoh', 'eom', 'header', 'eoh', 'eom'], new Set<Stage>(['mail', 'rcpt', 'data'])).refusedAt, -1);
  t.is(run(['optneg', 'connect', 'header']).refusedAt, 2, 'HEADER outside a message, MAIL on');
});

test('QUIT_NC starts a new SMTP session on the connection: CONNECT again', (t) => {
  t.is(run(['optneg', 'connect', ...MESSAGE, 'quit-nc', 'connect', 'helo', ...MESSAGE, 'quit']).refusedAt, -1);
  t.is(run(['optneg', 'connect', 'quit-nc', 'helo']).refusedAt, 3);
});

const refused: Array<[string, Kind[], number, RegExp]> = [
  ['EOH after EOM (issue 16: "Digest already called")', ['optneg', 'connect', 'mail', 'rcpt', 'eoh', 'eom', 'eoh'], 6, /EOH outside a message/],
  ['EOM after EOM', ['optneg', 'connect', 'mail', 'eoh', 'eom', 'eom'], 5, /EOM outside a message/],
  ['BODY after EOM', ['optneg', 'connect', 'mail', 'eoh', 'body', 'eom', 'body'], 6, /BODY outside a message/],
  ['EOH twice', ['optneg', 'connect', 'mail', 'eoh', 'eoh'], 4, /EOH after EOH/],
  ['BODY right after a HEADER (no EOH)', ['optneg', 'connect', 'mail', 'header', 'body'], 4, /BODY after HEADER without EOH/],
  ['EOM right after a HEADER (no EOH)', ['optneg', 'connect', 'mail', 'header', 'eom'], 4, /EOM after HEADER without EOH/],
  ['a header after EOH', ['optneg', 'connect', 'mail', 'eoh', 'header'], 4, /HEADER after EOH/],
  ['RCPT after DATA', ['optneg', 'connect', 'mail', 'rcpt', 'data', 'rcpt'], 5, /RCPT after DATA/],
  ['MAIL inside a message', ['optneg', 'connect', 'mail', 'rcpt', 'mail'], 4, /MAIL after RCPT/],
  ['HELO inside a message', ['optneg', 'connect', 'mail', 'helo'], 3, /HELO after MAIL/],
  ['UNKNOWN in the content', ['optneg', 'connect', 'mail', 'rcpt', 'header', 'unknown'], 5, /UNKNOWN after HEADER/],
  ['CONNECT twice', ['optneg', 'connect', 'connect'], 2, /CONNECT outside a message/],
  ['a second OPTNEG', ['optneg', 'connect', 'optneg'], 2, /second OPTNEG/],
  ['anything before OPTNEG', ['mail'], 0, /before option negotiation/],
  ['macros before OPTNEG', ['macro'], 0, /before option negotiation/],
];
for (const [name, kinds, at, reason] of refused) {
  test(`refused: ${name}`, (t) => {
    const r = run(kinds);
    t.is(r.refusedAt, at);
    t.regex(r.reason ?? '', reason);
  });
}

test('QUIT and ABORT are accepted in any phase after negotiation (QUIT even before)', (t) => {
  for (const prefix of [[], ['optneg'], ['optneg', 'connect'], ['optneg', 'connect', 'mail'], ['optneg', 'connect', 'mail', 'header']] as Kind[][]) {
    t.is(run([...prefix, 'quit']).refusedAt, -1);
    if (prefix.length) t.is(run([...prefix, 'abort', 'abort']).refusedAt, -1);
  }
});
