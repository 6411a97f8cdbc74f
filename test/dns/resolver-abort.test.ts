/**
 * Callers that give up (their message was aborted) and the shared in-flight query: no
 * promise is ever left unhandled, whatever the order of abort and failure — an unhandled
 * rejection ends a Node process, and this one was reachable from SMTP (issue 16).
 */
import test from 'ava';
import { createResolver } from '../../src/dns/resolver.ts';
import { DnsError, type DnsServer } from '../../src/dns/types.ts';
import { fakeTransport } from './fake-transport.ts';

const S1: DnsServer = { host: '192.0.2.1', port: 53 };
const later = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Counts unhandled rejections while `fn` runs and for a moment after. */
async function unhandledDuring(fn: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void seen.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    await fn();
    await later(80); // past every fake failure below
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  return seen;
}

// ava runs each test file in its own process: the listener above sees only this file.
test.serial('a lookup with an already aborted signal starts nothing and rejects ABORTED at once', async (t) => {
  const fake = fakeTransport(async () => {
    await later(20);
    return { rcode: 'REFUSED' };
  });
  const r = createResolver({ servers: [S1], transport: fake.transport, attempts: 1 });
  const unhandled = await unhandledDuring(async () => {
    const err = await t.throwsAsync(r.query('dead.test', 'TXT', { signal: AbortSignal.abort(new Error('message aborted')) }), { instanceOf: DnsError });
    t.is(err.code, 'ABORTED');
  });
  t.deepEqual(unhandled, []);
  t.is(fake.calls.length, 0, 'no query on the wire for a caller that has given up');
  t.is(r.stats().inFlight, 0);
});

test.serial('the only caller aborts while the query is in flight; the query then fails (REFUSED): nothing unhandled', async (t) => {
  const fake = fakeTransport(async () => {
    await later(30);
    return { rcode: 'REFUSED' };
  });
  const r = createResolver({ servers: [S1], transport: fake.transport, attempts: 1 });
  const unhandled = await unhandledDuring(async () => {
    const c = new AbortController();
    const p = r.query('dead.test', 'TXT', { signal: c.signal });
    c.abort(new Error('client went away'));
    t.is((await t.throwsAsync(p, { instanceOf: DnsError })).code, 'ABORTED');
  });
  t.deepEqual(unhandled, []);
  t.is(fake.calls.length, 1);
});

test.serial('a joiner with an aborted signal and a live caller: the live one gets the failure, nothing unhandled', async (t) => {
  const fake = fakeTransport(async () => {
    await later(30);
    return { rcode: 'SERVFAIL' };
  });
  const r = createResolver({ servers: [S1], transport: fake.transport, attempts: 1 });
  const unhandled = await unhandledDuring(async () => {
    const live = r.query('x.test', 'TXT');
    const c = new AbortController();
    const joiner = r.query('x.test', 'TXT', { signal: c.signal });
    c.abort();
    t.is((await t.throwsAsync(joiner, { instanceOf: DnsError })).code, 'ABORTED');
    t.is((await t.throwsAsync(live, { instanceOf: DnsError })).code, 'SERVFAIL');
  });
  t.deepEqual(unhandled, []);
  t.is(fake.calls.length, 1, 'one query for both callers');
});

test.serial('every caller aborts before a timeout: nothing unhandled; the next caller asks again', async (t) => {
  const fake = fakeTransport(async () => {
    await later(30);
    return { fail: 'TIMEOUT' };
  });
  const r = createResolver({ servers: [S1], transport: fake.transport, attempts: 1 });
  const unhandled = await unhandledDuring(async () => {
    const cs = [new AbortController(), new AbortController(), new AbortController()];
    const ps = cs.map((c) => r.query('slow.test', 'A', { signal: c.signal }));
    for (const c of cs) c.abort();
    for (const p of ps) t.is((await t.throwsAsync(p, { instanceOf: DnsError })).code, 'ABORTED');
  });
  t.deepEqual(unhandled, []);
  await t.throwsAsync(r.query('slow.test', 'A'), { instanceOf: DnsError });
  t.is(fake.calls.length, 2);
});
