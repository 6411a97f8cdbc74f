/**
 * What an ARC-Seal signs (RFC 8617 §5.1.1): the ARC Sets from instance 1 up to its own, each
 * as ARC-Authentication-Results, ARC-Message-Signature, ARC-Seal, with relaxed header
 * canonicalisation only (§4.1.3); the seal itself last, its b= value deleted and without
 * the final CRLF — the same rule as a DKIM-Signature (RFC 6376 §3.7). Shared by the verifier
 * and the sealer so both read the chain the same way.
 */
import type { HeaderField } from '../../mail/header.ts';
import { canonicalHeader } from '../dkim/canonicalize.ts';
import { withoutSignatureValue } from '../dkim/header-hash.ts';

export interface ArcSetFields {
  readonly aar: HeaderField;
  readonly ams: HeaderField;
  readonly as: HeaderField;
}

/** `sets` oldest first; the last set's ARC-Seal is the one being signed or verified. */
export function sealHashInput(sets: readonly ArcSetFields[]): Buffer {
  let text = '';
  sets.forEach((set, k) => {
    text += canonicalHeader(set.aar.name, set.aar.value, 'relaxed');
    text += canonicalHeader(set.ams.name, set.ams.value, 'relaxed');
    if (k < sets.length - 1) text += canonicalHeader(set.as.name, set.as.value, 'relaxed');
    else text += canonicalHeader(set.as.name, withoutSignatureValue(set.as.value), 'relaxed').replace(/\r\n$/, '');
  });
  return Buffer.from(text, 'latin1');
}
