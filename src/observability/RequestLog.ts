/**
 * The bytes of a client's requests still in flight, kept so that a command found slow when its
 * reply arrives can be logged with its arguments (SLOWLOG): the read buffer it came from is
 * reused by then. One copy per socket read (not per command), only while SLOWLOG is on; the log
 * starts over whenever the client has nothing in flight, and a read that would push it past
 * MAX_BYTES is not kept (its commands are logged by name only).
 *
 * A client that always has requests in flight (a deep pipeline that never drains) never starts
 * over: instead, when its oldest request in flight lies in the second half of the log, the bytes
 * before it (requests already answered) are dropped and the rest moved to the front, so the log
 * stays about twice the bytes in flight and moving costs no more than the bytes dropped.
 *
 * A command's place in the log travels in the client's reply ring as one number, a "ref":
 * offset * 2^16 + length (lengths from 2^16 - 1 up stored as 2^16 - 1: "long"); NaN when the
 * read was not kept. Offsets are positions in the client's stream of kept bytes (the log's first
 * byte is at `base`), so refs in flight stay valid when the log drops its front; they count
 * modulo 2^36 (a ref stays below 2^53) and the log reads them relative to `base`.
 *
 * SLOWLOG entries refer to the log's bytes rather than copy them ("pins"): under overload most
 * commands are slow and most entries are pushed out of the ring before anyone reads them, so an
 * entry copies its request only when the log is about to overwrite or move it (the next read
 * after the client had nothing in flight, or when it drops its front) and the entry is still in
 * the ring.
 */
import { decodeInlineArgs, parseRequestArgs } from './requestArgs';

/** First allocation: a read without pipelining fits (pooled by Node below 4 KiB); grows by doubling. */
const INITIAL = 512;
export const MAX_BYTES = 4 * 1024 * 1024;
/** A log at least this big drops its answered front once the oldest request in flight is in its second half. */
const COMPACT_MIN_BYTES = 16 * 1024;
/** Stream offsets wrap here (refs stay exact doubles: 2^36 * 2^16 < 2^53). */
const WRAP = 2 ** 36;
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
  /** `wrap`: where stream offsets wrap (tests pass a small one; it must exceed MAX_BYTES). */
  constructor(private readonly wrap = WRAP) {}

  private buf: Buffer | null = null;
  /** Where the last `reserve` made room. */
  reservedAt = 0;
  private len = 0;
  /** Stream offset (modulo WRAP) of buf[0]: refs are read relative to it. */
  private base = 0;
  /** Bumped whenever kept bytes are about to be overwritten or moved. */
  generation = 0;
  /** Entries that refer to this generation's bytes (some may have moved on: they check). */
  private pins: LogPin[] | null = null;

  /**
   * Keep chunk[from, stop); returns what to add to an offset into `chunk` to get the request's
   * offset for its ref, or NaN when the read was not kept. `idle`: nothing of this client is in
   * flight. `oldestRef`: the ref of its oldest request in flight (NaN: unknown), whose bytes and
   * everything after them are still needed.
   */
  add(chunk: Buffer, from: number, stop: number, idle: boolean, oldestRef = Number.NaN): number {
    const delta = this.reserve(from, stop, idle, oldestRef);
    if (!Number.isNaN(delta)) chunk.copy(this.buf!, this.reservedAt, from, stop);
    return delta;
  }

  /**
   * `add` without the copy: room for chunk[from, stop) is made at `reservedAt` of `bytes`, and the
   * caller copies the read there before anything reads the log (the proxy: its parse call does,
   * RequestReader, so the copy costs no crossing into the addon of its own).
   */
  reserve(from: number, stop: number, idle: boolean, oldestRef = Number.NaN): number {
    if (idle) {
      if (this.len > 0) {
        this.unpin();
        this.len = 0;
      }
      this.base = 0;
    } else if (this.len >= COMPACT_MIN_BYTES) {
      const oldest = this.position(oldestRef);
      if (oldest >= 0 && oldest * 2 >= this.len) this.dropFront(oldest, stop - from);
    }
    const n = stop - from;
    if (this.len + n > MAX_BYTES) return Number.NaN;
    let buf = this.buf;
    if (buf === null || this.len + n > buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(INITIAL, (this.len + n) * 2));
      if (buf !== null) buf.copy(grown, 0, 0, this.len);
      buf = this.buf = grown;
    }
    this.reservedAt = this.len;
    const delta = this.base + this.len - from;
    this.len += n;
    return delta;
  }


  /**
   * Drop buf[0, cut) (requests answered), keeping the rest at the front; a buffer grown by an
   * earlier burst and now mostly empty is replaced by a smaller one. `incoming`: the read about
   * to be added.
   */
  private dropFront(cut: number, incoming: number): void {
    this.unpin(); // entries referring to these bytes copy them before they move
    const buf = this.buf!;
    const kept = this.len - cut;
    const want = Math.max(INITIAL, (kept + incoming) * 2);
    if (buf.length > 4 * want && buf.length > 4 * COMPACT_MIN_BYTES) {
      const smaller = Buffer.allocUnsafe(want);
      buf.copy(smaller, 0, cut, this.len);
      this.buf = smaller;
    } else {
      buf.copy(buf, 0, cut, this.len);
    }
    this.len = kept;
    this.base = (this.base + cut) % this.wrap;
  }

  /** Where the request of `ref` starts in `bytes`, or -1 when it is not in the log. */
  position(ref: number): number {
    if (!(ref >= 0) || this.buf === null) return -1;
    const wrap = this.wrap;
    const at = (((refOffset(ref) - this.base) % wrap) + wrap) % wrap;
    return at < this.len ? at : -1;
  }

  /** The log's bytes, valid up to `length` and until the next `add` (null: nothing kept yet). */
  get bytes(): Buffer | null {
    return this.buf;
  }

  get length(): number {
    return this.len;
  }

  /** The request of `ref` is in the log (false: its read was not kept, or its bytes were dropped). */
  holds(ref: number): boolean {
    return this.position(ref) >= 0;
  }

  /** The arguments of the request of `ref` (null: not kept, or malformed); views valid until the next `add`. */
  argsAt(ref: number): Buffer[] | null {
    const offset = this.position(ref);
    if (offset < 0) return null;
    const buf = this.buf!.subarray(0, this.len);
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
    this.base = 0;
  }
}
