import test from 'ava';
import { FrameDecoder, encodeFrame, cstrings, uint32 } from '../../src/milter/codec.ts';
import { parseCommand } from '../../src/milter/commands.ts';
import { SMFIC } from '../../src/milter/constants.ts';
import { MilterProtocolError, type MilterErrorCode } from '../../src/milter/errors.ts';
import { prng } from '../support/prng.ts';

/** A realistic conversation: negotiate, macros, connect (v4, v6, unix), helo, mail, header, body, eom. */
const conversation = Buffer.concat([
  encodeFrame(SMFIC.OPTNEG, Buffer.concat([uint32(6), uint32(0x1ff), uint32(0x1fffff)])),
  encodeFrame(SMFIC.MACRO, Buffer.concat([Buffer.from('C'), cstrings('j', 'mx.test', '{daemon_name}', 'smtpd')])),
  encodeFrame(SMFIC.CONNECT, Buffer.concat([Buffer.from('client.test\x004'), Buffer.from([0x30, 0x39]), Buffer.from('192.0.2.1\0')])),
  encodeFrame(SMFIC.CONNECT, Buffer.concat([Buffer.from('v6.test\x006'), Buffer.from([0, 25]), Buffer.from('IPv6:2001:db8::1\0')])),
  encodeFrame(SMFIC.CONNECT, Buffer.concat([Buffer.from('localhost\0L'), Buffer.from([0, 0]), Buffer.from('/run/x.sock\0')])),
  encodeFrame(SMFIC.HELO, cstrings('client.test')),
  encodeFrame(SMFIC.MAIL, cstrings('<a@b.test>', 'SIZE=100', 'BODY=8BITMIME')),
  encodeFrame(SMFIC.HEADER, Buffer.from('Subject\0 caf\xe9\n\tfolded\0', 'latin1')),
  encodeFrame(SMFIC.BODY, Buffer.alloc(70_000, 0x61)),
  encodeFrame(SMFIC.BODYEOB),
]);

test('decoding the same conversation split at every byte offset gives the same frames', (t) => {
  const whole = new FrameDecoder().push(conversation);
  t.is(whole.length, 10);
  // Every two-way split, plus byte-at-a-time for the small frames.
  for (let i = 0; i <= conversation.length; i += i < 400 || i > conversation.length - 400 ? 1 : 997) {
    const d = new FrameDecoder();
    const frames = [...d.push(conversation.subarray(0, i)), ...d.push(conversation.subarray(i))];
    t.deepEqual(frames.map((f) => [f.command, f.payload.length]), whole.map((f) => [f.command, f.payload.length]), `split at ${i}`);
    t.is(d.pending, 0);
  }
  const d = new FrameDecoder();
  const small = conversation.subarray(0, 300);
  const frames = [];
  for (let i = 0; i < small.length; i++) frames.push(...d.push(small.subarray(i, i + 1)));
  t.deepEqual(frames.map((f) => f.command), whole.slice(0, frames.length).map((f) => f.command));
});

test('random chunkings (seeded) give the same frames byte for byte, whatever the chunk sizes', (t) => {
  const whole = new FrameDecoder().push(conversation);
  const rnd = prng(17);
  for (let round = 0; round < 200; round++) {
    const d = new FrameDecoder();
    const frames = [];
    // Chunk sizes from 1 byte to a little over a body frame, so prefixes, payloads and whole
    // frames all end up split, and some chunks hold several frames.
    for (let at = 0; at < conversation.length; ) {
      const max = rnd() < 0.3 ? 8 : rnd() < 0.5 ? 300 : 80_000;
      const n = 1 + Math.floor(rnd() * max);
      frames.push(...d.push(conversation.subarray(at, at + n)));
      at += n;
    }
    t.is(d.pending, 0);
    t.is(frames.length, whole.length);
    for (let i = 0; i < whole.length; i++) {
      if (frames[i]!.command !== whole[i]!.command || !frames[i]!.payload.equals(whole[i]!.payload)) {
        t.fail(`round ${round}: frame ${i} differs`);
        return;
      }
    }
  }
  t.pass();
});

test('typed parse of every command shape', (t) => {
  const cmds = new FrameDecoder().push(conversation).map(parseCommand);
  t.deepEqual(cmds[0], { kind: 'optneg', version: 6, actions: 0x1ff, protocol: 0x1fffff });
  t.deepEqual(cmds[1], { kind: 'macro', stage: SMFIC.CONNECT, macros: [['j', 'mx.test'], ['{daemon_name}', 'smtpd']] });
  t.deepEqual(cmds[2], { kind: 'connect', hostname: 'client.test', client: { family: 'inet', address: '192.0.2.1', port: 12345 } });
  t.deepEqual(cmds[3], { kind: 'connect', hostname: 'v6.test', client: { family: 'inet6', address: '2001:db8::1', port: 25 } });
  t.deepEqual(cmds[4], { kind: 'connect', hostname: 'localhost', client: { family: 'unix', path: '/run/x.sock' } });
  t.deepEqual(cmds[6], { kind: 'mail', args: ['<a@b.test>', 'SIZE=100', 'BODY=8BITMIME'] });
  t.deepEqual(cmds[7], { kind: 'header', name: 'Subject', value: ' caf\xe9\n\tfolded' }, 'byte-exact, latin1');
  t.is(cmds[8]?.kind, 'body');
});

test('bad lengths are refused before allocation; truncation is reported at end', (t) => {
  const zero = Buffer.from([0, 0, 0, 0]);
  t.is(t.throws(() => new FrameDecoder().push(zero), { instanceOf: MilterProtocolError })?.code, 'frame-empty');
  // 4 GiB - 1 announced: refused from the prefix alone.
  t.is(t.throws(() => new FrameDecoder(1024).push(Buffer.from([0xff, 0xff, 0xff, 0xff]))) instanceof Error, true);
  t.is((t.throws(() => new FrameDecoder(1024).push(Buffer.from([0, 0, 4, 2, 0x42]))) as MilterProtocolError).code, 'frame-too-large');
  const d = new FrameDecoder();
  d.push(Buffer.from([0, 0, 0, 9, 0x48, 0x61]));
  t.is((t.throws(() => d.end()) as MilterProtocolError).code, 'frame-truncated');
});

test('malformed payloads are typed errors naming the command', (t) => {
  const bad = [
    encodeFrame(0x7a), // unknown command 'z'
    encodeFrame(SMFIC.OPTNEG, Buffer.alloc(5)),
    encodeFrame(SMFIC.HELO, Buffer.from('no-nul')),
    encodeFrame(SMFIC.HEADER, Buffer.from('only-name\0')),
    encodeFrame(SMFIC.CONNECT, Buffer.from('host\0X\0\x19addr\0')),
    encodeFrame(SMFIC.CONNECT, Buffer.from('host-without-nul')),
    encodeFrame(SMFIC.MACRO, Buffer.from('Cname\0')),
  ];
  const codes = bad.map((b) => {
    const [f] = new FrameDecoder().push(b);
    try {
      parseCommand(f!);
      return 'parsed';
    } catch (err) {
      return (err as MilterProtocolError).code;
    }
  });
  t.deepEqual(codes, ['unknown-command', 'malformed-payload', 'malformed-payload', 'malformed-payload', 'malformed-payload', 'malformed-payload', 'malformed-payload']);
});

test('admit: asked once per frame with its whole size, from the length prefix, before the payload is buffered', (t) => {
  const asked: number[] = [];
  const d = new FrameDecoder(1 << 20, { admit: (n) => (asked.push(n), true) });
  const big = encodeFrame(SMFIC.BODY, Buffer.alloc(70_000, 0x61));
  d.push(big.subarray(0, 3));
  t.deepEqual(asked, [], 'not before the four length bytes are in');
  d.push(big.subarray(3, 10));
  t.deepEqual(asked, [70_005]);
  t.is(d.admittedPartial, 70_005);
  d.push(big.subarray(10, 40_000));
  t.deepEqual(asked, [70_005], 'not again while the frame arrives');
  const frames = d.push(Buffer.concat([big.subarray(40_000), encodeFrame(SMFIC.EOH), encodeFrame(SMFIC.BODYEOB).subarray(0, 4)]));
  t.is(frames.length, 2);
  t.deepEqual(asked, [70_005, 5, 5]);
  t.is(d.admittedPartial, 5);
});

test('admit refusing a frame: over-budget, before its bytes are kept', (t) => {
  const d = new FrameDecoder(1 << 20, { admit: (n) => n < 1000 });
  t.is(d.push(encodeFrame(SMFIC.EOH)).length, 1);
  const err = t.throws(() => d.push(encodeFrame(SMFIC.BODY, Buffer.alloc(5000)).subarray(0, 6)), { instanceOf: MilterProtocolError });
  t.is(err.code, 'over-budget');
});

const conn = (host: string, fam: string, addr: string): Buffer => Buffer.concat([Buffer.from(`${host}\0${fam}`, 'latin1'), Buffer.from([0, 25]), Buffer.from(`${addr}\0`, 'latin1')]);
const malformedCases: Array<[string, Buffer, MilterErrorCode]> = [
  ['OPTNEG of 11 bytes', encodeFrame(SMFIC.OPTNEG, Buffer.alloc(11)), 'malformed-payload'],
  ['OPTNEG of 13 bytes', encodeFrame(SMFIC.OPTNEG, Buffer.alloc(13)), 'malformed-payload'],
  ['CONNECT from 999.1.1.1 (issue 16)', encodeFrame(SMFIC.CONNECT, conn('h', '4', '999.1.1.1')), 'malformed-payload'],
  ['CONNECT family 4 with an IPv6 address', encodeFrame(SMFIC.CONNECT, conn('h', '4', '2001:db8::1')), 'malformed-payload'],
  ['CONNECT family 6 with garbage', encodeFrame(SMFIC.CONNECT, conn('h', '6', 'IPv6:::zz')), 'malformed-payload'],
  ['CONNECT with a 300-byte hostname', encodeFrame(SMFIC.CONNECT, conn('x'.repeat(300), '4', '192.0.2.1')), 'malformed-payload'],
  ['HEADER name with CR', encodeFrame(SMFIC.HEADER, cstrings('Sub\rject', ' x')), 'malformed-payload'],
  ['HEADER name with LF', encodeFrame(SMFIC.HEADER, cstrings('Sub\nject', ' x')), 'malformed-payload'],
  ['HEADER name with a colon', encodeFrame(SMFIC.HEADER, cstrings('Fr:om', ' x')), 'malformed-payload'],
  ['HEADER name with a control byte', encodeFrame(SMFIC.HEADER, cstrings('X-\x01', ' x')), 'malformed-payload'],
  ['one MACRO frame over the macro bound', encodeFrame(SMFIC.MACRO, Buffer.concat([Buffer.from('M'), cstrings('{x}', 'v'.repeat(70_000))])), 'macros-too-large'],
];
for (const [name, frame, code] of malformedCases) {
  test(`refused: ${name}`, (t) => {
    const [f] = new FrameDecoder().push(frame);
    t.is(t.throws(() => parseCommand(f!), { instanceOf: MilterProtocolError }).code, code);
  });
}

test('accepted: IPv4, IPv6 with and without the prefix, 8-bit header names Postfix may pass', (t) => {
  for (const [fam, addr, want] of [['4', '192.0.2.1', '192.0.2.1'], ['6', 'IPv6:2001:db8::1', '2001:db8::1'], ['6', '::1', '::1']] as const) {
    const [f] = new FrameDecoder().push(encodeFrame(SMFIC.CONNECT, conn('h', fam, addr)));
    const c = parseCommand(f!);
    t.true(c.kind === 'connect' && 'address' in c.client && c.client.address === want);
  }
  const [h] = new FrameDecoder().push(encodeFrame(SMFIC.HEADER, Buffer.from('X-Caf\xe9\0 v\0', 'latin1')));
  t.is(parseCommand(h!).kind, 'header');
});
