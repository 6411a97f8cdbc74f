/**
 * Frame codec: pure, no sockets or timers. The decoder takes chunks as they arrive and
 * yields complete frames; a length over the bound is refused from the 4-byte prefix alone,
 * before anything is allocated for it, and so is a frame the caller's `admit` (a memory
 * budget) will not take.
 */
import { DEFAULT_MAX_FRAME } from './constants.ts';
import { MilterProtocolError } from './errors.ts';

export interface Frame {
  readonly command: number;
  readonly payload: Buffer;
}

export interface DecoderOptions {
  /**
   * Asked once per frame, with its whole size (4 + length), as soon as its length prefix
   * is in: false refuses the frame (MilterProtocolError `over-budget`) before its bytes are
   * buffered. What was admitted is the caller's to release once it is done with the frame.
   */
  readonly admit?: (frameBytes: number) => boolean;
}

export class FrameDecoder {
  readonly #maxFrame: number;
  readonly #admit: ((frameBytes: number) => boolean) | undefined;
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Where the unread bytes of `#chunks[0]` start. */
  #offset = 0;
  /** Size of the frame at the head of the buffer once admitted; 0 before. */
  #admittedHead = 0;

  constructor(maxFrame: number = DEFAULT_MAX_FRAME, options: DecoderOptions = {}) {
    this.#maxFrame = maxFrame;
    this.#admit = options.admit;
  }

  /** Bytes received but not yet part of a complete frame. */
  get pending(): number {
    return this.#buffered;
  }

  /** The admitted size of the frame being received (0 when none or not yet admitted). */
  get admittedPartial(): number {
    return this.#admittedHead;
  }

  /** Adds a chunk; returns every frame it completes. Throws MilterProtocolError on a bad length. */
  push(chunk: Buffer): Frame[] {
    if (chunk.length) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const frames: Frame[] = [];
    for (;;) {
      if (this.#buffered < 4) break;
      const length = this.#peekLength();
      if (length === 0) throw new MilterProtocolError('frame-empty', 'milter frame of length 0', {});
      if (length > this.#maxFrame) {
        throw new MilterProtocolError('frame-too-large', `milter frame of ${length} bytes exceeds the limit of ${this.#maxFrame}`, { length, limit: this.#maxFrame });
      }
      if (!this.#admittedHead) {
        if (this.#admit && !this.#admit(4 + length)) {
          throw new MilterProtocolError('over-budget', `no room for a frame of ${length} bytes within the milter's buffer budget`, { length });
        }
        this.#admittedHead = 4 + length;
      }
      if (this.#buffered < 4 + length) break;
      this.#admittedHead = 0;
      frames.push(this.#take(4 + length));
    }
    return frames;
  }

  /** The stream ended; anything buffered is a truncated frame. */
  end(): void {
    if (this.#buffered > 0) {
      throw new MilterProtocolError('frame-truncated', `connection closed inside a frame (${this.#buffered} bytes pending)`, { pending: this.#buffered });
    }
  }

  #peekLength(): number {
    const head = this.#chunks[0]!;
    const at = this.#offset;
    if (head.length - at >= 4) return head.readUInt32BE(at);
    // The prefix spans chunks (rare: a read ended inside it).
    let n = 0;
    let got = 0;
    for (let i = 0; got < 4; i++) {
      const c = this.#chunks[i]!;
      for (let j = i === 0 ? at : 0; j < c.length && got < 4; j++, got++) n = n * 256 + c[j]!;
    }
    return n;
  }

  /**
   * The next `n` bytes (a whole frame, `n` > 4) as command and payload. Within one chunk the
   * payload is a view of it, the chunk's remaining bytes stay where they are (an offset, not a
   * new view per frame); a frame spanning chunks is copied, exactly its bytes.
   */
  #take(n: number): Frame {
    const head = this.#chunks[0]!;
    const at = this.#offset;
    this.#buffered -= n;
    if (head.length - at >= n) {
      const frame = { command: head[at + 4]!, payload: head.subarray(at + 5, at + n) };
      if (head.length - at === n) {
        this.#chunks.shift();
        this.#offset = 0;
      } else this.#offset = at + n;
      return frame;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.#chunks[0]!;
      const from = this.#offset;
      const need = n - filled;
      if (c.length - from <= need) {
        c.copy(out, filled, from);
        filled += c.length - from;
        this.#chunks.shift();
        this.#offset = 0;
      } else {
        c.copy(out, filled, from, from + need);
        this.#offset = from + need;
        filled = n;
      }
    }
    return { command: out[4]!, payload: out.subarray(5) };
  }
}

export function encodeFrame(command: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.allocUnsafe(5 + payload.length);
  out.writeUInt32BE(payload.length + 1, 0);
  out[4] = command;
  payload.copy(out, 5);
  return out;
}

/** `s\0` for each string, concatenated. */
export function cstrings(...values: readonly string[]): Buffer {
  return Buffer.concat(values.map((v) => Buffer.from(`${v}\0`, 'utf8')));
}

export function uint32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}
