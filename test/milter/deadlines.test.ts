/**
 * PeerDeadlines with an injected clock and timers: bytes do not reset the frame deadline;
 * time we work or hold the socket paused never counts against the MTA; content below the
 * minimum rate is cut after the grace; one timer, re-armed only when a deadline moves earlier.
 */
import test from 'ava';
import { PeerDeadlines, type DeadlineCode } from '../../src/milter/deadlines.ts';

function harness(settings = { readTimeoutMs: 5000, frameTimeoutMs: 1000, minDataRate: 1000 }) {
  let now = 0;
  let armed: { at: number; fn: () => void } | undefined;
  let arms = 0;
  const expired: Array<{ code: DeadlineCode; at: number }> = [];
  const d = new PeerDeadlines(
    settings,
    {
      setTimeout: (fn, ms) => {
        arms++;
        armed = { at: now + ms, fn };
        return armed;
      },
      clearTimeout: (h) => {
        if (armed === h) armed = undefined;
      },
    },
    () => now,
    (code) => expired.push({ code, at: now }),
  );
  /** Moves the clock to `t`, firing the timer whenever it is due. */
  const advance = (t: number): void => {
    while (armed && armed.at <= t) {
      now = armed.at;
      const fn = armed.fn;
      armed = undefined;
      fn();
    }
    now = t;
  };
  return { d, advance, expired, arms: () => arms };
}

test('a frame must be complete within frame_timeout of its first byte, whatever bytes keep coming', (t) => {
  const h = harness();
  h.d.received(0, true); // first byte of a frame at t=0
  for (let ms = 100; ms < 3000; ms += 100) {
    h.advance(ms);
    if (h.expired.length) break;
    h.d.received(0, true); // another byte, still no whole frame
  }
  t.deepEqual(h.expired, [{ code: 'frame-timeout', at: 1000 }]);
});

test('complete frames keep the read deadline away; silence when it is the MTA turn ends at read_timeout', (t) => {
  const h = harness();
  for (let ms = 1000; ms <= 20_000; ms += 1000) {
    h.advance(ms);
    h.d.received(1, false);
  }
  t.deepEqual(h.expired, []);
  h.advance(24_999);
  t.deepEqual(h.expired, []);
  h.advance(25_000);
  t.deepEqual(h.expired, [{ code: 'read-timeout', at: 25_000 }]);
});

test('while we work (busy) or hold the socket paused, nothing runs against the MTA', (t) => {
  const h = harness();
  h.d.setBusy(true);
  h.advance(60_000);
  h.d.setBusy(false);
  h.advance(64_999);
  t.deepEqual(h.expired, [], 'the read deadline counts from the end of our work');
  h.d.received(0, true);
  h.d.setPaused(true);
  h.advance(90_000);
  t.deepEqual(h.expired, [], 'a half-received frame while we hold the socket paused');
  h.d.setPaused(false);
  h.advance(90_999);
  t.deepEqual(h.expired, []);
  h.advance(91_000);
  t.deepEqual(h.expired, [{ code: 'frame-timeout', at: 91_000 }]);
});

test('content below min_data_rate is cut after the grace; our working time is not counted; fast content never is', (t) => {
  const slow = harness();
  slow.d.contentStarted();
  for (let ms = 100; ms <= 5000 && !slow.expired.length; ms += 100) {
    slow.advance(ms);
    slow.d.received(1, false);
    slow.d.contentBytes(20); // 200 bytes/s against 1000 bytes/s
  }
  t.is(slow.expired[0]?.code, 'data-rate');
  t.true(slow.expired[0]!.at > 1000 && slow.expired[0]!.at < 1500, `cut at ${slow.expired[0]?.at}`);

  const fast = harness();
  fast.d.contentStarted();
  for (let ms = 100; ms <= 20_000; ms += 100) {
    fast.advance(ms);
    fast.d.received(1, false);
    fast.d.contentBytes(200); // 2000 bytes/s
    if (ms === 10_000) {
      fast.d.setBusy(true);
      fast.advance(40_000); // 30 s of our own work in the middle
      fast.d.setBusy(false);
    }
  }
  t.deepEqual(fast.expired, []);
  fast.d.contentEnded();
  fast.advance(40_000 + 19_900 + 5000);
  t.is(fast.expired[0]?.code, 'read-timeout', 'after the content, the read deadline again');
});

test('one timer: frames every millisecond for a minute arm it only a few times', (t) => {
  const h = harness();
  for (let ms = 1; ms <= 60_000; ms++) {
    h.advance(ms);
    h.d.received(1, false);
  }
  t.deepEqual(h.expired, []);
  t.true(h.arms() < 30, `${h.arms()} timer arms`);
});

test('stop() ends every deadline', (t) => {
  const h = harness();
  h.d.received(0, true);
  h.d.stop();
  h.advance(100_000);
  t.deepEqual(h.expired, []);
});
