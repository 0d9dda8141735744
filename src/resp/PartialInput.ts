/**
 * The incomplete tail of a read (half a command, half a reply), kept until more bytes arrive.
 * Bytes are appended into one growing buffer (doubling), so a large request or reply that comes
 * in many reads is copied about twice in total rather than once per read. `need` (a lower bound
 * from the hot path) avoids re-framing before enough bytes are there; `resumeAt`/`resumeArgs`
 * (the request parser's resume point in the kept command) let framing pick up where it stopped,
 * so the kept bytes are not framed again on each read.
 */
export class PartialInput {
  private buf: Buffer | null = null;
  private len = 0;
  need = 0;
  /** S_RESUME_AT / S_RESUME_ARGS for the kept bytes (0 = none); still readable after `take`. */
  resumeAt = 0;
  resumeArgs = 0;

  get active(): boolean {
    return this.buf !== null;
  }

  get bytes(): number {
    return this.len;
  }

  private lastTaken: Buffer | null = null;

  /**
   * Keep `tail` (a view into a read buffer, or into what `take` returned) and the total it needs
   * (0 = unknown). When nothing of the taken bytes was consumed, their buffer is reused as is.
   */
  keep(tail: Buffer, need: number, resumeAt = 0, resumeArgs = 0): void {
    const last = this.lastTaken;
    this.lastTaken = null;
    this.resumeAt = resumeAt;
    this.resumeArgs = resumeArgs;
    if (last !== null && tail.buffer === last.buffer && tail.byteOffset === last.byteOffset) {
      this.buf = last;
      this.len = tail.length;
      this.need = need;
      return;
    }
    // Never allocate what a client merely announces ($500000000): grow as bytes really arrive.
    this.buf = Buffer.allocUnsafe(Math.max(tail.length * 2, 4096));
    tail.copy(this.buf, 0);
    this.len = tail.length;
    this.need = need;
  }

  append(chunk: Buffer): void {
    let buf = this.buf!;
    if (this.len + chunk.length > buf.length) {
      const target = this.len + chunk.length;
      let cap = Math.max(buf.length * 2, target);
      if (this.need >= target) cap = Math.min(cap, this.need);
      const grown = Buffer.allocUnsafe(cap);
      buf.copy(grown, 0, 0, this.len);
      buf = this.buf = grown;
    }
    chunk.copy(buf, this.len);
    this.len += chunk.length;
  }

  /** Enough bytes to try framing again. */
  get ready(): boolean {
    return this.len >= this.need;
  }

  /** The bytes so far; the buffer is handed over (views into it may be kept by the caller). */
  take(): Buffer {
    const out = this.buf!.subarray(0, this.len);
    this.lastTaken = this.buf;
    this.buf = null;
    this.len = 0;
    this.need = 0;
    return out;
  }

  clear(): void {
    this.resumeAt = 0;
    this.resumeArgs = 0;
    this.buf = null;
    this.lastTaken = null;
    this.len = 0;
    this.need = 0;
  }
}
