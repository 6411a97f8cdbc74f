/**
 * Typed parsing of the commands Postfix sends. Every payload is checked for length and
 * shape; anything off is a MilterProtocolError naming the command. Strings are decoded as
 * latin1 — one char per byte — so header values and addresses round-trip byte for byte
 * (8-bit headers, SMTPUTF8) and DKIM sees exactly what the MTA has.
 */
import { isIP } from 'node:net';
import { MAX_MACRO_BYTES, SMFIC, commandName } from './constants.ts';
import { MilterProtocolError } from './errors.ts';
import type { Frame } from './codec.ts';
import type { ClientAddress } from './filter.ts';

export type MilterCommand =
  | { readonly kind: 'optneg'; readonly version: number; readonly actions: number; readonly protocol: number }
  | { readonly kind: 'macro'; readonly stage: number; readonly macros: ReadonlyArray<readonly [string, string]> }
  | { readonly kind: 'connect'; readonly hostname: string; readonly client: ClientAddress }
  | { readonly kind: 'helo'; readonly name: string }
  | { readonly kind: 'mail'; readonly args: readonly string[] }
  | { readonly kind: 'rcpt'; readonly args: readonly string[] }
  | { readonly kind: 'data' }
  | { readonly kind: 'header'; readonly name: string; readonly value: string }
  | { readonly kind: 'eoh' }
  | { readonly kind: 'body'; readonly chunk: Buffer }
  | { readonly kind: 'eom'; readonly chunk: Buffer }
  | { readonly kind: 'abort' }
  | { readonly kind: 'quit' }
  | { readonly kind: 'quit-nc' }
  | { readonly kind: 'unknown'; readonly line: string };

const MAX_HOSTNAME = 255;
const HEADER_NAME = /^[^\x00-\x1f\x7f:]+$/;

function malformed(command: number, why: string): MilterProtocolError {
  return new MilterProtocolError('malformed-payload', `malformed ${commandName(command)} payload: ${why}`, { command: commandName(command) });
}

/** Splits `a\0b\0` into ['a','b']; the payload must end with NUL. */
function cstrings(command: number, payload: Buffer, min: number, max = Infinity): string[] {
  if (payload.length === 0 || payload[payload.length - 1] !== 0) throw malformed(command, 'strings not NUL-terminated');
  const parts = payload.subarray(0, payload.length - 1).toString('latin1').split('\0');
  if (parts.length < min || parts.length > max) throw malformed(command, `expected ${min === max ? min : `${min}..${max}`} strings, got ${parts.length}`);
  return parts;
}

/** `<addr>` → addr; `<>` → ''. Postfix always sends brackets; tolerate their absence. */
export function stripBrackets(arg: string): string {
  return arg.startsWith('<') && arg.endsWith('>') ? arg.slice(1, -1) : arg;
}

export function parseCommand(frame: Frame): MilterCommand {
  const { command: c, payload: p } = frame;
  switch (c) {
    case SMFIC.OPTNEG: {
      // MILTER_OPTLEN: version, actions, protocol — exactly; libmilter sends nothing more.
      if (p.length !== 12) throw malformed(c, `expected 12 bytes, got ${p.length}`);
      return { kind: 'optneg', version: p.readUInt32BE(0), actions: p.readUInt32BE(4), protocol: p.readUInt32BE(8) };
    }
    case SMFIC.MACRO: {
      if (p.length < 1) throw malformed(c, 'no stage byte');
      // Refused before a single string is decoded (macros.ts bounds the sum over a session).
      if (p.length > MAX_MACRO_BYTES + 1) {
        throw new MilterProtocolError('macros-too-large', `one MACRO frame of ${p.length} bytes, over the ${MAX_MACRO_BYTES} a connection may hold`, { bytes: p.length });
      }
      const stage = p[0]!;
      if (p.length === 1) return { kind: 'macro', stage, macros: [] };
      const parts = cstrings(c, p.subarray(1), 0);
      if (parts.length % 2 !== 0) throw malformed(c, 'odd number of name/value strings');
      const macros: Array<readonly [string, string]> = [];
      for (let i = 0; i < parts.length; i += 2) macros.push([normaliseMacroName(parts[i]!), parts[i + 1]!]);
      return { kind: 'macro', stage, macros };
    }
    case SMFIC.CONNECT: {
      const nul = p.indexOf(0);
      if (nul < 0) throw malformed(c, 'hostname not NUL-terminated');
      // A DNS name (253) or `[IPv6:…]`; Postfix sends nothing longer.
      if (nul > MAX_HOSTNAME) throw malformed(c, `hostname of ${nul} bytes`);
      const hostname = p.subarray(0, nul).toString('latin1');
      if (p.length < nul + 2) throw malformed(c, 'no address family');
      const family = String.fromCharCode(p[nul + 1]!);
      if (family === 'U' && p.length === nul + 2) return { kind: 'connect', hostname, client: { family: 'unknown' } };
      if (p.length < nul + 4) throw malformed(c, 'no port');
      const port = p.readUInt16BE(nul + 2);
      const rest = p.subarray(nul + 4);
      if (rest.length === 0 || rest[rest.length - 1] !== 0) throw malformed(c, 'address not NUL-terminated');
      const address = rest.subarray(0, rest.length - 1).toString('latin1');
      switch (family) {
        case '4':
          // SPF, iprev and the trust decision all key on this: it must be an address.
          if (isIP(address) !== 4) throw malformed(c, `not an IPv4 address: ${JSON.stringify(address.slice(0, 64))}`);
          return { kind: 'connect', hostname, client: { family: 'inet', address, port } };
        case '6': {
          // Postfix sends IPv6 addresses with an "IPv6:" prefix in some versions.
          const v6 = address.replace(/^IPv6:/i, '');
          if (isIP(v6) !== 6) throw malformed(c, `not an IPv6 address: ${JSON.stringify(address.slice(0, 64))}`);
          return { kind: 'connect', hostname, client: { family: 'inet6', address: v6, port } };
        }
        case 'L':
          return { kind: 'connect', hostname, client: { family: 'unix', path: address } };
        case 'U':
          return { kind: 'connect', hostname, client: { family: 'unknown' } };
        default:
          throw malformed(c, `unknown address family ${JSON.stringify(family)}`);
      }
    }
    case SMFIC.HELO:
      return { kind: 'helo', name: cstrings(c, p, 1, 1)[0]! };
    case SMFIC.MAIL:
      return { kind: 'mail', args: cstrings(c, p, 1) };
    case SMFIC.RCPT:
      return { kind: 'rcpt', args: cstrings(c, p, 1) };
    case SMFIC.DATA:
      return { kind: 'data' };
    case SMFIC.HEADER: {
      // The common shape (`name\0value\0`) is read in place, one header per frame; anything
      // else goes through cstrings, which names what is wrong.
      const nul = p.indexOf(0);
      const wellFormed = nul > 0 && p[p.length - 1] === 0 && nul < p.length - 1 && p.indexOf(0, nul + 1) === p.length - 1;
      let name: string;
      let value: string;
      if (wellFormed) {
        name = p.toString('latin1', 0, nul);
        value = p.toString('latin1', nul + 1, p.length - 1);
      } else [name, value] = cstrings(c, p, 2, 2) as [string, string];
      if (!name) throw malformed(c, 'empty header name');
      // RFC 5322 §2.2: printable US-ASCII but ':'; Postfix never sends control characters
      // (CR, LF, NUL cannot pass the cstring split anyway) and keeps obsolete spaces.
      if (!HEADER_NAME.test(name)) throw malformed(c, `header name with control characters or a colon: ${JSON.stringify(name.slice(0, 64))}`);
      return { kind: 'header', name, value };
    }
    case SMFIC.EOH:
      return { kind: 'eoh' };
    case SMFIC.BODY:
      return { kind: 'body', chunk: p };
    case SMFIC.BODYEOB:
      return { kind: 'eom', chunk: p };
    case SMFIC.ABORT:
      return { kind: 'abort' };
    case SMFIC.QUIT:
      return { kind: 'quit' };
    case SMFIC.QUIT_NC:
      return { kind: 'quit-nc' };
    case SMFIC.UNKNOWN:
      return { kind: 'unknown', line: p.length && p[p.length - 1] === 0 ? p.subarray(0, -1).toString('latin1') : p.toString('latin1') };
    default:
      throw new MilterProtocolError('unknown-command', `unknown milter command ${commandName(c)}`, { command: c });
  }
}

/** Sendmail sends `{name}` for long names and bare letters for short ones; keep one spelling. */
export function normaliseMacroName(name: string): string {
  return name.length > 1 && !name.startsWith('{') ? `{${name}}` : name;
}
