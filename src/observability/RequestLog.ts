/**
 * The bytes of a client's requests still in flight, kept so that a command found slow when its
 * reply arrives can be logged with its arguments (SLOWLOG): the read buffer it came from is
 * reused by then. One copy per socket read (not per command), only while SLOWLOG is on; the log
 * starts over whenever the client has nothing in flight, and a read that would push it past
 * MAX_BYTES is not kept (its commands are logged by name only).
 *
 * A command's place in the log travels in the client's reply ring as one number, a "ref":
 * offset * 2^16 + length (lengths from 2^16 - 1 up stored as 2^16 - 1: "long"); NaN when the
 * read was not kept.
 *
 * SLOWLOG entries refer to the log's bytes rather than copy them ("pins"): under overload most
 * commands are slow and most entries are pushed out of the ring before anyone reads them, so an
 * entry copies its request only when the log is about to overwrite it (the next read after the
 * client had nothing in flight) and the entry is still in the ring.
 */
import { decodeInlineArgs, parseRequestArgs } from './requestArgs';

/** First allocation: a read without pipelining fits (pooled by Node below 4 KiB); grows by doubling. */
const INITIAL = 512;
const MAX_BYTES = 4 * 1024 * 1024;
const SPAN = 65536;
/** A ref's length when the request is 2^16 - 1 bytes or longer. */
export const LONG_REQUEST = SPAN - 1;

/** The ref of the request at log `offset` (NaN: not kept), `length` bytes long. */
export function requestRef(offset: number, length: number): number {
  return offset * SPAN + (length < LONG_REQUEST ? length : LONG_REQUEST);
}

export function refOffset(ref: number): number {
  return Math.floor(ref / SPAN);
}

/** The request's length, or LONG_REQUEST. */
export function refLength(ref: number): number {
  return ref % SPAN;
}

/** Something that refers to a log's bytes (a SLOWLOG entry): told before they are overwritten. */
export interface LogPin {
  /** The bytes of `log`'s `generation` are about to be overwritten: copy what is still needed. */
  detach(log: RequestLog, generation: number): void;
}

/** Pins are kept only while the log is at most this big (a dropped log stays alive through them). */
const PIN_MAX_BYTES = 64 * 1024;
/**
 * A client that always has requests in flight keeps one generation: after this many pins its
 * entries still in the ring copy their bytes and the log carries on in a new generation.
 */
const PINS_PER_GENERATION = 64;

export class RequestLog {
  private buf: Buffer | null = null;
  private len = 0;
  /** Bumped whenever kept bytes are about to be overwritten. */
  generation = 0;
  /** Entries that refer to this generation's bytes (some may have moved on: they check). */
  private pins: LogPin[] | null = null;

  /**
   * Keep chunk[from, stop); returns what to add to an offset into `chunk` to get the offset into
   * the log, or NaN when the read was not kept. `idle`: nothing of this client is in flight.
   */
  add(chunk: Buffer, from: number, stop: number, idle: boolean): number {
    if (idle && this.len > 0) {
      this.unpin();
      this.len = 0;
    }
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

  /** The log's bytes, valid up to `length` and until the next `add` (null: nothing kept yet). */
  get bytes(): Buffer | null {
    return this.buf;
  }

  get length(): number {
    return this.len;
  }

  /** The request of `ref` is in the log (false: its read was not kept). */
  holds(ref: number): boolean {
    return ref >= 0 && this.buf !== null && refOffset(ref) < this.len;
  }

  /** The arguments of the request of `ref` (null: not kept, or malformed); views valid until the next `add`. */
  argsAt(ref: number): Buffer[] | null {
    if (!this.holds(ref)) return null;
    const buf = this.buf!.subarray(0, this.len);
    const offset = refOffset(ref);
    return buf[offset] === 0x2a ? parseRequestArgs(buf, offset) : decodeInlineArgs(buf, offset);
  }

  /**
   * `pin` refers to this generation's bytes until told otherwise (`detach`); false when the log
   * is too big to be kept alive for it (then copy at once).
   */
  pin(pin: LogPin): boolean {
    if (this.buf === null || this.buf.length > PIN_MAX_BYTES) return false;
    const pins = (this.pins ??= []);
    pins.push(pin);
    if (pins.length >= PINS_PER_GENERATION) this.unpin();
    return true;
  }

  /** Tell every pin that this generation's bytes go, and start the next generation. */
  private unpin(): void {
    const pins = this.pins;
    const generation = this.generation++;
    if (pins === null || pins.length === 0) return;
    for (let i = 0; i < pins.length; i++) pins[i].detach(this, generation);
    pins.length = 0;
  }

  /** Give the memory back (the client closed, or SLOWLOG was turned off). */
  clear(): void {
    this.unpin();
    this.buf = null;
    this.len = 0;
  }
}
