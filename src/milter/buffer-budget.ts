/**
 * The process-wide bound on bytes the milter holds for its peers: frames being received
 * and frames received but not yet handled, over all sessions. A frame is admitted from its
 * 4-byte length prefix, before its bytes are buffered: past the bound it is refused and
 * that session closed (Postfix then applies milter_default_action to its message), so 500
 * connections each holding a frame one byte short of max_frame can no longer pin 500 MB —
 * they pin at most `limit`, for at most milter.frame_timeout.
 */
export class BufferBudget {
  readonly limit: number;
  #used = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  get used(): number {
    return this.#used;
  }

  /** Takes `bytes` if they fit; false (nothing taken) if they do not. */
  tryReserve(bytes: number): boolean {
    if (this.#used + bytes > this.limit) return false;
    this.#used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.#used = Math.max(0, this.#used - bytes);
  }
}
