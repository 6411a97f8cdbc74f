/**
 * Slow and greedy milter peers, as a local user (or anything that reaches the listener)
 * could run them. Each opens `connections` sockets and records when the milter closed each
 * one, so a test or a person can see who was cut off when:
 *
 * - `slowloris`: one byte every `byteEveryMs`, never a whole frame (the socket idle timer
 *   every byte reset let 1,000 of these stay forever);
 * - `idle`: connect and send nothing;
 * - `partialFrame`: announce a frame of `frameBytes`, send all but its last byte, hold;
 * - `dribble`: a real conversation up to the message content, then one small header every
 *   `frameEveryMs` (each frame complete, the rate far too slow);
 * - `zeroFrame`: OPTNEG, then a zero-length frame, then keep the socket open (a protocol
 *   error that used to leave the session half-closed, holding its slot).
 *
 *   node attack/slow-peers.ts --target inet:127.0.0.1:8891 --kind slowloris --connections 1000
 */
import { createConnection, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { parseListenSpec } from '../src/config/schema.ts';
import { encodeFrame, uint32 } from '../src/milter/codec.ts';
import { SMFIC } from '../src/milter/constants.ts';
import { POSTFIX_OFFER } from '../src/milter/mta-client.ts';

export type SlowKind = 'slowloris' | 'idle' | 'partialFrame' | 'dribble' | 'zeroFrame';

export interface SlowPeerOptions {
  readonly target: string;
  readonly kind: SlowKind;
  readonly connections: number;
  readonly byteEveryMs?: number;
  readonly frameEveryMs?: number;
  readonly frameBytes?: number;
}

export interface SlowPeers {
  /** ms after the start at which the milter closed each connection (undefined: still open). */
  readonly closedAfterMs: ReadonlyArray<number | undefined>;
  readonly open: number;
  /** Resolves when every connection is closed, or after `timeoutMs` (then false). */
  allClosed(timeoutMs: number): Promise<boolean>;
  stop(): void;
}

const nul = (...s: string[]): Buffer => Buffer.concat(s.map((x) => Buffer.from(`${x}\0`, 'latin1')));
const OPTNEG = encodeFrame(SMFIC.OPTNEG, Buffer.concat([uint32(POSTFIX_OFFER.version), uint32(POSTFIX_OFFER.actions), uint32(POSTFIX_OFFER.protocol)]));
/** Up to the message content, as Postfix sends it (replies are read and dropped). */
const ENVELOPE = Buffer.concat([
  OPTNEG,
  encodeFrame(SMFIC.CONNECT, Buffer.concat([nul('client.test'), Buffer.from('4'), Buffer.from([0, 25]), nul('192.0.2.10')])),
  encodeFrame(SMFIC.HELO, nul('client.test')),
  encodeFrame(SMFIC.MAIL, nul('<a@slow.test>')),
  encodeFrame(SMFIC.RCPT, nul('<b@anchor.test>')),
  encodeFrame(SMFIC.DATA),
]);

export function startSlowPeers(o: SlowPeerOptions): SlowPeers {
  const spec = parseListenSpec(o.target);
  if (!spec) throw new Error(`bad target ${o.target}`);
  const started = Date.now();
  const closedAfterMs: Array<number | undefined> = new Array(o.connections).fill(undefined);
  const sockets: Socket[] = [];
  const timers: NodeJS.Timeout[] = [];
  let open = o.connections;
  const waiters = new Set<() => void>();
  for (let i = 0; i < o.connections; i++) {
    const s = spec.kind === 'unix' ? createConnection({ path: spec.path }) : createConnection({ host: spec.host, port: spec.port });
    sockets.push(s);
    s.on('data', () => undefined);
    s.on('error', () => undefined);
    // The milter ending its side ('end') is the cut; 'close' follows once we let go too.
    let cut = false;
    const onCut = (): void => {
      if (cut) return;
      cut = true;
      closedAfterMs[i] = Date.now() - started;
      open--;
      if (open === 0) for (const w of waiters) w();
    };
    s.on('end', onCut);
    s.on('close', onCut);
    s.on('connect', () => {
      switch (o.kind) {
        case 'idle':
          return;
        case 'slowloris': {
          // An OPTNEG frame, one byte at a time.
          let k = 0;
          const t = setInterval(() => {
            if (s.destroyed || k >= OPTNEG.length) return clearInterval(t);
            s.write(OPTNEG.subarray(k, ++k));
          }, o.byteEveryMs ?? 5000);
          timers.push(t);
          s.write(OPTNEG.subarray(0, ++k));
          return;
        }
        case 'partialFrame': {
          const n = o.frameBytes ?? 1024 * 1024;
          const head = Buffer.alloc(5);
          head.writeUInt32BE(n, 0);
          head[4] = SMFIC.BODY;
          s.write(Buffer.concat([OPTNEG, head, Buffer.alloc(n - 2, 0x41)]));
          return;
        }
        case 'dribble': {
          s.write(ENVELOPE);
          let k = 0;
          const t = setInterval(() => {
            if (s.destroyed) return clearInterval(t);
            s.write(encodeFrame(SMFIC.HEADER, nul(`X-Slow-${k++}`, ' x')));
          }, o.frameEveryMs ?? 1000);
          timers.push(t);
          return;
        }
        case 'zeroFrame':
          s.write(Buffer.concat([OPTNEG, Buffer.from([0, 0, 0, 0])]));
          return;
      }
    });
  }
  return {
    closedAfterMs,
    get open() {
      return open;
    },
    allClosed(timeoutMs) {
      if (open === 0) return Promise.resolve(true);
      return new Promise((resolve) => {
        const t = setTimeout(() => {
          waiters.delete(done);
          resolve(false);
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(t);
          resolve(true);
        };
        waiters.add(done);
      });
    },
    stop() {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { target: { type: 'string' }, kind: { type: 'string', default: 'slowloris' }, connections: { type: 'string', default: '100' }, seconds: { type: 'string', default: '60' } } });
  if (!values.target) throw new Error('--target is needed');
  const peers = startSlowPeers({ target: values.target, kind: values.kind as SlowKind, connections: Number(values.connections) });
  const ok = await peers.allClosed(Number(values.seconds) * 1000);
  const cut = peers.closedAfterMs.filter((x): x is number => x !== undefined).sort((a, b) => a - b);
  console.log(`${values.kind}: ${cut.length}/${values.connections} cut off${cut.length ? `, after ${cut[0]}–${cut.at(-1)} ms` : ''}${ok ? '' : `; ${peers.open} still open after ${values.seconds} s`}`);
  peers.stop();
}

if (import.meta.main) await main();
