/**
 * A client's replies, written strictly in request order whatever order the shards answer in.
 *
 * Every command takes the next sequence number (a slot in the ReplyRing). The reply to the oldest
 * outstanding request is copied straight into the stream's output, followed by later replies
 * already parked in the ring; a reply that arrives early is copied into its slot. The output is
 * written once per event-loop turn (FlushScheduler → the connection's flush).
 *
 * Backends hand replies over as views into their read buffer (`onReplyRange`, valid during the
 * call only), so an in-order reply is copied once, from the backend's read into the client's
 * output, and nothing is allocated.
 */
import type { ByteStream } from './io';
import type { ProxyContext } from './ProxyContext';
import { ReplyRing, RingShape } from './ReplyRing';
import type { ReplySink } from './ReplySink';

/** 8 entries on first use; a ring a deep pipeline grew above 16 is dropped once empty. */
const CLIENT_RING: RingShape = { initial: 8, keep: 16, withTimes: false };

/** Added to a sequence number's command id (ids are >= -1): its reply is dropped (CLIENT REPLY OFF / SKIP). */
const SILENT = -0x40000000;
export const REPLY_ON = 0;
export const REPLY_OFF = 1;
/** The next command's reply only. */
export const REPLY_SKIP = 2;

/** What the replies are written to. */
export interface RepliesHost {
  readonly stream: ByteStream;
  readonly ctx: ProxyContext;
  readonly isClosed: boolean;
  /** Output was added: write it at the end of this turn. */
  outputAdded(): void;
  /** Every reply owed is out while dispatching is stopped (a dedicated-connection barrier). */
  repliesDrained(): void;
  readonly flow: { readonly paused: number };
}

export class ClientReplies implements ReplySink {
  /** In-order replies are copied into the output at once; early ones are copied into the ring. */
  readonly takesViews = true;
  /** Parked early replies (null = not answered yet) and command ids, by sequence number. */
  private readonly ring = new ReplyRing<Buffer>(CLIENT_RING);
  /** Key rewrite: per-sequence reply mappers (null when none is pending: the common case). */
  private maps: Map<number, (reply: Buffer) => Buffer> | null = null;

  /** CLIENT REPLY: REPLY_ON, REPLY_OFF or REPLY_SKIP. */
  private mode = REPLY_ON;

  constructor(private readonly host: RepliesHost) {}

  /**
   * CLIENT REPLY ON|OFF|SKIP, sent as command `seq` (already reserved). Redis answers only ON
   * (+OK, also when replies were off); OFF and SKIP themselves get no reply.
   */
  setMode(mode: number, seq: number): void {
    const ring = this.ring;
    const i = seq & ring.mask;
    const silent = ring.ints[i] < -1;
    if (mode === REPLY_ON && silent) ring.ints[i] -= SILENT;
    else if (mode !== REPLY_ON && !silent) ring.ints[i] += SILENT;
    if (mode !== REPLY_SKIP || this.mode !== REPLY_OFF) this.mode = mode;
  }

  /** Requests whose replies are not written yet. */
  get inFlight(): number {
    return this.ring.size;
  }

  /** The sequence number the next `reserve` returns. */
  get nextSeq(): number {
    return this.ring.tail;
  }

  /** Take the next sequence number for command `id` (-1: none of the table's). */
  reserve(id: number): number {
    if (this.mode === REPLY_ON) return this.ring.push(null, id);
    if (this.mode === REPLY_SKIP) this.mode = REPLY_ON;
    return this.ring.push(null, id + SILENT);
  }

  /** The reply to `tag`; may be a view into a read buffer, valid during this call only. */
  onReply(tag: number, reply: Buffer): void {
    if (this.host.isClosed) return;
    if (this.maps !== null) reply = this.mapReply(tag, reply);
    const ring = this.ring;
    if (tag !== ring.head) {
      // Early: park a copy until the earlier ones are out (a tag already answered is a bug: dropped).
      if (tag > ring.head && tag < ring.tail) ring.objs[tag & ring.mask] = Buffer.from(reply);
      return;
    }
    this.output(reply, 0, reply.length, ring.ints[tag & ring.mask]);
    this.headAnswered(tag);
  }

  /** A backend reply as buf[start, end), valid during this call only (see ReplySink). */
  onReplyRange(tag: number, buf: Buffer, start: number, end: number): void {
    if (this.host.isClosed) return;
    const ring = this.ring;
    if (tag !== ring.head || this.maps !== null) return this.onReply(tag, buf.subarray(start, end));
    this.output(buf, start, end, ring.ints[tag & ring.mask]);
    this.headAnswered(tag);
  }

  /**
   * Key rewrite: the reply to `seq` (just reserved, not answered yet) carries key names that must
   * be mapped back to the client's names.
   */
  mapReplyOf(seq: number, map: (reply: Buffer) => Buffer): void {
    const ring = this.ring;
    if (ring.tail !== seq + 1 || seq < ring.head || ring.objs[seq & ring.mask] !== null) return;
    (this.maps ??= new Map()).set(seq, map);
  }

  /** The connection closed: forget everything parked. */
  clear(): void {
    this.ring.clear();
    this.maps = null;
  }

  /** The head `tag` is out: follow with the replies parked behind it. */
  private headAnswered(tag: number): void {
    const ring = this.ring;
    const parkedReplies = ring.objs;
    const mask = ring.mask;
    let h = tag + 1;
    for (; h < ring.tail; h++) {
      const i = h & mask;
      const parked = parkedReplies[i];
      if (parked === null) break;
      parkedReplies[i] = null;
      this.output(parked, 0, parked.length, ring.ints[i]);
    }
    ring.head = h;
    const host = this.host;
    if (h === ring.tail) {
      ring.shrinkIfIdle();
      if (host.flow.paused !== 0) host.repliesDrained();
    }
    host.outputAdded();
  }

  /** Copy one in-order reply, buf[start, end), into the stream's output; count error replies. */
  private output(buf: Buffer, start: number, end: number, id: number): void {
    const host = this.host;
    if (id < -1) return;
    if (buf[start] === 0x2d) {
      const ctx = host.ctx;
      ctx.counters.totalErrors++;
      if (id >= 0) ctx.errors[id]++;
    }
    host.stream.append(buf, start, end);
  }

  private mapReply(tag: number, reply: Buffer): Buffer {
    const maps = this.maps!;
    const map = maps.get(tag);
    if (!map) return reply;
    maps.delete(tag);
    if (maps.size === 0) this.maps = null;
    try {
      return map(reply);
    } catch (err) {
      this.host.ctx.log.warn({ err }, 'could not map key names in a reply');
      return reply;
    }
  }
}
