/**
 * Requests in flight on one connection, by sequence number: the one ring both sides use.
 *
 * - A client connection keeps, per request, the reply parked until the earlier ones are out
 *   (`objs`, null = not answered yet) and the command id (`ints`, for per-command error counts).
 * - A backend connection keeps, per request written to it, who waits for the reply (`objs`, a
 *   ReplySink), the sink's tag (`ints`) and when it was written (`times`, for the request timeout).
 *
 * Entries live at `seq & mask` for head <= seq < tail (head = oldest unanswered). Nothing is
 * allocated until the first request, the capacity doubles when full, and `shrinkIfIdle` gives a
 * ring grown by a deep pipeline back once it is empty, so a fresh connection holds no arrays and
 * one used without pipelining a small one (a client's ring goes with its replies stage when the
 * worker's idle sweep finds it quiet: ClientConnection). Columns are plain arrays (small integers stay unboxed);
 * sequence numbers are not limited to 32 bits.
 */
/** How a kind of ring grows and shrinks (one shared object per kind, not fields per ring). */
export interface RingShape {
  /** Capacity of the first allocation (a power of two). */
  readonly initial: number;
  /** Capacity kept when the ring empties (larger rings are dropped back to nothing). */
  readonly keep: number;
  /** Keep a write time per entry (backends: the request timeout; clients: when read, µs). */
  readonly withTimes: boolean;
  /** Keep a second number per entry (clients: the request's offset in their request log). */
  readonly withAux?: boolean;
  /** Keep a byte range per entry (clients: where a parked reply lies in its buffer). */
  readonly withSpans?: boolean;
}

export class ReplyRing<T> {
  /** Oldest unanswered sequence number. */
  head = 0;
  /** Next sequence number to hand out. */
  tail = 0;
  /** Capacity - 1 (-1 while nothing is allocated). */
  mask = -1;
  objs: (T | null)[] = NOTHING;
  ints: number[] = NOTHING_INT;
  /** Only for rings created with times (backends: when written; clients: when read, in µs). */
  times: number[] | null = null;
  /** A second number per entry, only for rings created with it (clients: the request's offset in their request log). */
  aux: number[] | null = null;
  /** Only for rings created with spans: [starts[i], ends[i]) of the entry's bytes in objs[i]. */
  starts: number[] | null = null;
  ends: number[] | null = null;

  constructor(private readonly shape: RingShape) {}

  get size(): number {
    return this.tail - this.head;
  }

  /** Append an entry; returns its sequence number. */
  push(obj: T | null, int: number): number {
    if (this.tail - this.head > this.mask) this.grow();
    const seq = this.tail++;
    const i = seq & this.mask;
    this.objs[i] = obj;
    this.ints[i] = int;
    return seq;
  }

  /** The ring is empty: drop arrays that a deep pipeline grew beyond `keep`. */
  shrinkIfIdle(): void {
    if (this.head === this.tail && this.mask >= this.shape.keep) {
      this.objs = NOTHING;
      this.ints = NOTHING_INT;
      this.times = null;
      this.aux = null;
      this.starts = null;
      this.ends = null;
      this.mask = -1;
    }
  }

  /** Forget every entry (connection closed). */
  clear(): void {
    this.head = this.tail;
    this.objs = NOTHING;
    this.ints = NOTHING_INT;
    this.times = null;
    this.aux = null;
    this.starts = null;
    this.ends = null;
    this.mask = -1;
  }

  private grow(): void {
    const cap = this.mask < 0 ? this.shape.initial : (this.mask + 1) * 2;
    const objs: (T | null)[] = new Array(cap).fill(null);
    const ints: number[] = new Array(cap).fill(0);
    const times: number[] | null = this.shape.withTimes ? new Array(cap).fill(0) : null;
    const aux: number[] | null = this.shape.withAux ? new Array(cap).fill(0) : null;
    const starts: number[] | null = this.shape.withSpans ? new Array(cap).fill(0) : null;
    const ends: number[] | null = this.shape.withSpans ? new Array(cap).fill(0) : null;
    const newMask = cap - 1;
    for (let s = this.head; s < this.tail; s++) {
      const from = s & this.mask;
      const to = s & newMask;
      objs[to] = this.objs[from];
      ints[to] = this.ints[from];
      if (times !== null) times[to] = this.times![from];
      if (aux !== null) aux[to] = this.aux![from];
      if (starts !== null) {
        starts[to] = this.starts![from];
        ends![to] = this.ends![from];
      }
    }
    this.objs = objs;
    this.ints = ints;
    this.times = times;
    this.aux = aux;
    this.starts = starts;
    this.ends = ends;
    this.mask = newMask;
  }
}

// Shared empty columns of an unallocated ring (never written: capacity 0 means grow first).
const NOTHING: never[] = [];
const NOTHING_INT: number[] = [];
