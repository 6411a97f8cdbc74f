/** The macro store: later stages win, MAIL clears the last message's, only real stages, bounded per connection. */
import test from 'ava';
import { MAX_MACRO_BYTES, SMFIC } from '../../src/milter/constants.ts';
import { MilterProtocolError } from '../../src/milter/errors.ts';
import { Macros } from '../../src/milter/macros.ts';

test('lookup: the latest stage wins; names in either spelling; MAIL clears the previous message', (t) => {
  const m = new Macros();
  m.set(SMFIC.CONNECT, [['j', 'mx.test'], ['{daemon_name}', 'smtpd']]);
  m.set(SMFIC.MAIL, [['i', 'Q1'], ['{auth_authen}', 'alice']]);
  m.set(SMFIC.BODYEOB, [['i', 'Q2']]);
  t.is(m.get('i'), 'Q2');
  t.is(m.get('daemon_name'), 'smtpd');
  t.is(m.get('{auth_authen}'), 'alice');
  m.set(SMFIC.MAIL, [['i', 'Q3']]);
  t.is(m.get('i'), 'Q3');
  t.is(m.get('auth_authen'), undefined, 'the previous message is gone');
  t.is(m.get('j'), 'mx.test', 'connection macros stay');
});

test('macros for a byte that is no stage are refused', (t) => {
  t.is(t.throws(() => new Macros().set(0x5d, [['x', 'y']]), { instanceOf: MilterProtocolError }).code, 'malformed-payload');
});

test('all macros of a connection are bounded; replacing a stage frees its share', (t) => {
  const m = new Macros();
  const half = 'v'.repeat(MAX_MACRO_BYTES / 2 - 10);
  m.set(SMFIC.CONNECT, [['{a}', half]]);
  m.set(SMFIC.HELO, [['{b}', half.slice(0, half.length - 20)]]);
  t.is(t.throws(() => m.set(SMFIC.RCPT, [['{c}', 'x'.repeat(100)]]), { instanceOf: MilterProtocolError }).code, 'macros-too-large');
  m.set(SMFIC.HELO, [['{b}', 'small']]);
  t.notThrows(() => m.set(SMFIC.RCPT, [['{c}', 'x'.repeat(100)]]));
  m.clear();
  t.is(m.get('{a}'), undefined);
});
