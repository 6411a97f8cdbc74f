/**
 * Our seal as the milter sends it and the MTA inserts it: through the real SMFIR_INSHEADER
 * encoder (src/milter/replies.ts), with and without SMFIP_HDR_LEADSPC, inserted at index 0
 * AAR first as Postfix does, then read back the way the next hop's milter receives it
 * (one space after the colon, LF folding) — the chain validates for us and for python3-dkim.
 */
import test from 'ava';
import { FrameDecoder } from '../../../src/milter/codec.ts';
import { SMFIR } from '../../../src/milter/constants.ts';
import { encodeModification } from '../../../src/milter/replies.ts';
import { headerBlock, type HeaderField } from '../../../src/mail/header.ts';
import { arcOracleMissing, pythonArcVerify } from '../../support/arc-oracle.ts';
import { addHop, baseBody, baseHeaders, keyDns, rsaKey, sealHop, verifyChain } from './chain-builder.ts';

const k1 = rsaKey('forwarder.test', 'arc1', 2048);
const k2 = rsaKey('example.org', 'arc2026', 2048, 1);
const dns = () => keyDns([k1, k2]);

/** Postfix's side: decode SMFIR_INSHEADER frames and insert; without LEADSPC the MTA writes "name: value". */
function insertAsMta(headers: readonly HeaderField[], frames: Buffer, leadingSpace: boolean): HeaderField[] {
  const out = [...headers];
  for (const f of new FrameDecoder().push(frames)) {
    if (f.command !== SMFIR.INSHEADER) throw new Error(`unexpected frame ${f.command}`);
    const [name = '', value = ''] = f.payload.subarray(4).toString('latin1').replace(/\0$/, '').split('\0');
    out.splice(f.payload.readUInt32BE(0), 0, { name, value: leadingSpace ? value : ` ${value}` });
  }
  return out;
}

for (const leadingSpace of [true, false]) {
  test(`sealed fields survive the milter encoder and MTA insertion (SMFIP_HDR_LEADSPC ${leadingSpace ? 'on' : 'off'})`, async (t) => {
    const received = await addHop(baseHeaders(), baseBody(), k1, dns());
    const out = await sealHop(received, baseBody(), { key: k2, chain: await verifyChain(received, baseBody(), dns()) });
    if (out.kind !== 'sealed') return t.fail();
    // AAR first, each at index 0: ARC-Seal ends on top.
    const frames = Buffer.concat([...out.fields].reverse().map((f) => encodeModification({ kind: 'insert-header', index: 0, name: f.name, value: f.value }, leadingSpace)));
    const delivered = insertAsMta(received, frames, leadingSpace);
    t.deepEqual(delivered.slice(0, 3).map((f) => f.name), ['ARC-Seal', 'ARC-Message-Signature', 'ARC-Authentication-Results']);
    for (const f of delivered.slice(0, 3)) {
      t.true(f.value.startsWith(' ') && !f.value.startsWith('  '), 'one space after the colon');
      t.false(f.value.includes('\r'), 'LF folding inside the MTA');
    }
    t.like(await verifyChain(delivered, baseBody(), dns()), { result: 'pass', instances: 2 });
    if (!arcOracleMissing()) {
      const py = await pythonArcVerify(Buffer.concat([headerBlock(delivered), baseBody()]), { [k1.name]: k1.record, [k2.name]: k2.record });
      t.is(py.cv, 'pass', py.reason);
    }
  });
}
