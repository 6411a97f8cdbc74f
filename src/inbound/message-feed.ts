/**
 * Feeds one message to mailauth while it arrives, so the message is never held whole: the
 * header block at end of headers, body chunks as Postfix sends them, with backpressure.
 * Chunks are coalesced to COALESCE bytes before they are written: mailauth's relaxed body
 * canonicalisation rescans a pending partial line on every write, so a 16 MB single-line
 * body in 64 KB pieces would cost quadratic time; in 1 MiB pieces it is 16 rescans.
 */
import { PassThrough } from 'node:stream';
import { once } from 'node:events';

const COALESCE = 1024 * 1024;

/** Header values as the milter hands them over: latin1, folding with LF; the wire form has CRLF. */
export function headerBlock(headers: ReadonlyArray<readonly [string, string]>): Buffer {
  const text = headers.map(([n, v]) => `${n}:${v.replace(/\r?\n/g, '\r\n')}\r\n`).join('');
  return Buffer.from(`${text}\r\n`, 'latin1');
}

export class MessageFeed {
  readonly stream = new PassThrough({ highWaterMark: COALESCE });
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #failed: Promise<unknown>;

  /** `consumer` is the promise of whoever reads the stream; if it settles early, writes stop waiting. */
  constructor(consumer: Promise<unknown>) {
    this.#failed = consumer.then(
      () => undefined,
      () => undefined,
    );
  }

  async write(chunk: Buffer): Promise<void> {
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    if (this.#pendingBytes >= COALESCE) await this.#flush();
  }

  async end(): Promise<void> {
    await this.#flush();
    this.stream.end();
  }

  /** Stop feeding (abort): the reader gets an error instead of waiting forever. */
  /** True once `end()` or `destroy()` ran: nothing more can be written. */
  get finished(): boolean {
    return this.stream.writableEnded || this.stream.destroyed;
  }

  destroy(reason: Error): void {
    this.#pending = [];
    this.stream.destroy(reason);
  }

  async #flush(): Promise<void> {
    if (!this.#pendingBytes || this.stream.destroyed) return;
    const buf = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending, this.#pendingBytes);
    this.#pending = [];
    this.#pendingBytes = 0;
    if (!this.stream.write(buf)) await Promise.race([once(this.stream, 'drain'), this.#failed]);
  }
}
