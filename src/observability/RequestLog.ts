/**
 * The bytes of a client's requests still in flight, kept so that a command found slow when its
 * reply arrives can be logged with its arguments (SLOWLOG): the read buffer it came from is
 * reused by then. One copy per socket read (not per command), only while SLOWLOG is on; the log
 * starts over whenever the client has nothing in flight, and a read that would push it past
 * MAX_BYTES is not kept (its commands are logged by name only).
 */
import { decodeInlineArgs, parseRequestArgs, requestEnd } from './requestArgs';

/** First allocation: a read without pipelining fits (pooled by Node below 4 KiB); grows by doubling. */
const INITIAL = 512;
const MAX_BYTES = 4 * 1024 * 1024;

export class RequestLog {
  private buf: Buffer | null = null;
  private len = 0;

  /**
   * Keep chunk[from, stop); returns what to add to an offset into `chunk` to get the offset into
   * the log, or NaN when the read was not kept. `idle`: nothing of this client is in flight.
   */
  add(chunk: Buffer, from: number, stop: number, idle: boolean): number {
    if (idle) this.len = 0;
    const n = stop - from;
    if (this.len + n > MAX_BYTES) return Number.NaN;
    let buf = this.buf;
    if (buf === null || this.len + n > buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(INITIAL, (this.len + n) * 2));
      if (buf !== null) buf.copy(grown, 0, 0, this.len);
      buf = this.buf = grown;
    }
    chunk.copy(buf, this.len, from, stop);
    const delta = this.len - from;
    this.len += n;
    return delta;
  }

  /** The arguments of the request at `offset` (NaN: not kept → null); views valid until the next `add`. */
  argsAt(offset: number): Buffer[] | null {
    if (!(offset >= 0) || this.buf === null || offset >= this.len) return null;
    const buf = this.buf.subarray(0, this.len);
    return buf[offset] === 0x2a ? parseRequestArgs(buf, offset) : decodeInlineArgs(buf, offset);
  }

  /**
   * A copy of the request at `offset` when it is at most `maxBytes` (a SLOWLOG entry decodes it
   * later); null when not kept, cut, or bigger.
   */
  requestAt(offset: number, maxBytes: number): Buffer | null {
    if (!(offset >= 0) || this.buf === null || offset >= this.len) return null;
    const end = requestEnd(this.buf, offset, Math.min(this.len, offset + maxBytes));
    return end < 0 ? null : Buffer.from(this.buf.subarray(offset, end));
  }

  /** Give the memory back (the client closed, or SLOWLOG was turned off). */
  clear(): void {
    this.buf = null;
    this.len = 0;
  }
}
