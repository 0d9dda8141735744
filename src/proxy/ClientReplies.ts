/**
 * A client's replies, written strictly in request order whatever order the shards answer in.
 *
 * Every command takes the next sequence number (a slot in the ReplyRing). The reply to the oldest
 * outstanding request is copied straight into the stream's output, followed by later replies
 * already parked; a reply that arrives early (its shard answered before the shard of an earlier
 * request: most replies of a pipeline over several shards) is copied into the client's parking
 * buffer, one growing Buffer reused while replies are parked, its range kept in the ring, so
 * parking allocates nothing per reply. The output is written once per event-loop turn
 * (FlushScheduler → the connection's flush).
 *
 * Backends hand replies over as views into their read buffer (`onReplyRange`, valid during the
 * call only), so an in-order reply is copied once, from the backend's read into the client's
 * output, and nothing is allocated.
 */
import type { ByteStream } from './io';
import type { ProxyContext } from './ProxyContext';
import { ReplyRing, RingShape } from './ReplyRing';
import { requestRef, RequestLog } from '../observability/RequestLog';
import { turnMicros, turnNow } from './FlushScheduler';
import { keysWithAccess } from '../security/aclKeys';
import type { ReplySink } from './ReplySink';

/**
 * 8 entries on first use; a ring a deep pipeline grew above 16 is dropped once empty. Per entry
 * also when its read began (latency) and its request-log offset (SLOWLOG), src/observability.
 */
const CLIENT_RING: RingShape = { initial: 8, keep: 16, withTimes: true, withAux: true, withSpans: true };

/** The parking buffer's first size, and the largest kept once nothing is parked (bigger ones are dropped). */
const PARK_INITIAL = 4096;
const PARK_KEEP = 64 * 1024;

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
  readonly remote: string;
  readonly name: string;
  /** Start of the current read batch (µs), the command's place in the read, read → log offset. */
  readonly readAt: number;
  readonly cmdStart: number;
  readonly cmdEnd: number;
  readonly logDelta: number;
  readonly requestLog: RequestLog | null;
  /** Output was added: write it at the end of this turn. */
  outputAdded(): void;
  /** Every reply owed is out while dispatching is stopped (a dedicated-connection barrier). */
  repliesDrained(): void;
  readonly flow: { readonly paused: number };
}

export class ClientReplies implements ReplySink {
  /** In-order replies are copied into the output at once; early ones are copied into the ring. */
  readonly takesViews = true;
  /**
   * By sequence number: the buffer holding a parked early reply (null = not answered yet) and its
   * range (starts/ends), the command id, when its read began and its request-log reference.
   */
  private readonly ring = new ReplyRing<Buffer>(CLIENT_RING);
  /** Where early replies are copied, from `parkUsed` on (null: none yet); reset once none is parked. */
  private park: Buffer | null = null;
  private parkUsed = 0;
  private parkedCount = 0;
  /** Key rewrite: per-sequence reply mappers (null when none is pending: the common case). */
  private maps: Map<number, (reply: Buffer) => Buffer> | null = null;

  /** CLIENT REPLY: REPLY_ON, REPLY_OFF or REPLY_SKIP. */
  private mode = REPLY_ON;
  /**
   * After the client closed with requests in flight: their command ids, so that the health
   * checks still see a long command the client left running (`commandName`).
   */
  private orphans: { head: number; tail: number; mask: number; ints: number[] } | null = null;
  /** The last command id when a ring a deep pipeline grew was given back (-2: none); see lastCommandId. */
  private keptCommand = -2;

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

  /** CLIENT REPLY is ON (the default): nothing but the ring to keep. */
  get repliesOn(): boolean {
    return this.mode === REPLY_ON;
  }

  /** Requests whose replies are not written yet. */
  get inFlight(): number {
    return this.ring.size;
  }

  /** The request-log ref of the oldest request in flight (NaN: none); SLOWLOG's RequestLog drops what precedes it. */
  get oldestRef(): number {
    const ring = this.ring;
    return ring.head < ring.tail && ring.aux !== null ? ring.aux[ring.head & ring.mask] : Number.NaN;
  }

  /** The sequence number the next `reserve` returns. */
  get nextSeq(): number {
    return this.ring.tail;
  }

  /** Take the next sequence number for command `id` (-1: none of the table's). */
  reserve(id: number): number {
    const ring = this.ring;
    let seq: number;
    if (this.mode === REPLY_ON) seq = ring.push(null, id);
    else {
      // CLIENT REPLY OFF/SKIP: the reply is read from the shard but not written
      if (this.mode === REPLY_SKIP) this.mode = REPLY_ON;
      seq = ring.push(null, id + SILENT);
    }
    // For latency and SLOWLOG: when its read began, where its bytes are in the request log.
    const host = this.host;
    ring.times![seq & ring.mask] = host.readAt;
    ring.aux![seq & ring.mask] = requestRef(host.cmdStart + host.logDelta, host.cmdEnd - host.cmdStart);
    return seq;
  }

  /** The reply to `tag`; may be a view into a read buffer, valid during this call only. */
  onReply(tag: number, reply: Buffer): void {
    if (this.host.isClosed) return;
    if (this.maps !== null) reply = this.mapReply(tag, reply);
    const ring = this.ring;
    if (tag !== ring.head) return this.parkEarly(tag, reply, 0, reply.length);
    this.output(reply, 0, reply.length, tag & ring.mask);
    this.headAnswered(tag);
  }

  /** A backend reply as buf[start, end), valid during this call only (see ReplySink). */
  onReplyRange(tag: number, buf: Buffer, start: number, end: number): void {
    if (this.host.isClosed) return;
    const ring = this.ring;
    if (this.maps !== null) return this.onReply(tag, buf.subarray(start, end));
    if (tag !== ring.head) return this.parkEarly(tag, buf, start, end);
    this.output(buf, start, end, tag & ring.mask);
    this.headAnswered(tag);
  }

  /** An early reply: copy it into the parking buffer until the earlier ones are out (a tag already answered is a bug: dropped). */
  private parkEarly(tag: number, buf: Buffer, start: number, end: number): void {
    const ring = this.ring;
    if (tag <= ring.head || tag >= ring.tail) return;
    const n = end - start;
    let park = this.park;
    let at = this.parkUsed;
    if (park === null || park.length - at < n) {
      // A new buffer; replies parked in the old one keep it alive through their ring entries.
      park = this.park = Buffer.allocUnsafeSlow(Math.max(PARK_INITIAL, park === null ? 0 : park.length * 2, n));
      at = 0;
    }
    this.host.ctx.binding.hot.copyBytes(park, at, buf, start, end); // (Buffer#copy allocates a view per call)
    const i = tag & ring.mask;
    ring.objs[i] = park;
    ring.starts![i] = at;
    ring.ends![i] = at + n;
    this.parkUsed = at + n;
    this.parkedCount++;
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

  /** The command id of request `tag` (in flight, or left in flight by a closed client); the health checks' question. */
  commandName(tag: number): string | null {
    const r = tag >= this.ring.head && tag < this.ring.tail ? this.ring : this.orphans;
    if (r === null || tag < r.head || tag >= r.tail) return null;
    let id = r.ints[tag & r.mask];
    if (id < -1) id -= SILENT;
    return id >= 0 ? (this.host.ctx.routes[id]?.name ?? null) : null;
  }

  /**
   * The command id of the last request reserved (-1: none of the table's, an unknown command),
   * or -2 when none was. Read from the ring, which keeps each request's id anyway and does not
   * clear an entry once answered: CLIENT LIST's `cmd` costs nothing per command.
   */
  get lastCommandId(): number {
    const ring = this.ring;
    if (ring.mask < 0 || ring.tail === 0) return this.keptCommand;
    const id = ring.ints[(ring.tail - 1) & ring.mask];
    return id < -1 ? id - SILENT : id;
  }

  /** The connection closed: forget everything parked. */
  clear(): void {
    const ring = this.ring;
    if (ring.head < ring.tail) this.orphans = { head: ring.head, tail: ring.tail, mask: ring.mask, ints: ring.ints };
    ring.clear();
    this.maps = null;
    this.park = null;
    this.parkUsed = 0;
    this.parkedCount = 0;
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
      this.output(parked, ring.starts![i], ring.ends![i], i);
      if (--this.parkedCount === 0) {
        // Nothing parked is left: the buffer is reused from its start (or dropped when a burst grew it).
        this.parkUsed = 0;
        if (this.park !== null && this.park.length > PARK_KEEP) this.park = null;
      }
    }
    ring.head = h;
    const host = this.host;
    if (h === ring.tail) {
      if (ring.mask >= CLIENT_RING.keep) {
        // A ring a deep pipeline grew is given back: keep the last command id (CLIENT LIST cmd).
        this.keptCommand = this.lastCommandId;
        ring.shrinkIfIdle();
      }
      if (host.flow.paused !== 0) host.repliesDrained();
    }
    host.outputAdded();
  }

  /**
   * Copy one in-order reply (ring entry `i`), buf[start, end), into the stream's output; count
   * error replies; time it (src/observability: one histogram increment, slow and big compares).
   */
  private output(buf: Buffer, start: number, end: number, i: number): void {
    const host = this.host;
    const ring = this.ring;
    const id = ring.ints[i];
    if (id < -1) return; // CLIENT REPLY OFF/SKIP
    const ctx = host.ctx;
    if (buf[start] === 0x2d) {
      ctx.counters.totalErrors++;
      if (id >= 0) ctx.errors[id]++;
    }
    if (id >= 0) {
      const observe = ctx.observe;
      const us = turnMicros() - ring.times![i];
      if (observe.tracksLatency) observe.histograms.record(id, us);
      if (us >= observe.slowerThanUs && observe.slowerThanUs >= 0) this.slow(id, us, ring.aux![i]);
      if (end - start >= observe.bigBytes) this.bigReply(id, end - start, ring.aux![i]);
    }
    host.stream.append(buf, start, end);
  }

  private slow(id: number, us: number, ref: number): void {
    const host = this.host;
    host.ctx.observe.slow(us, host.ctx.routes[id].name, host.requestLog, ref, host.remote, host.name, turnNow());
  }

  /** A reply of at least bigKeys.bytes. */
  private bigReply(id: number, bytes: number, ref: number): void {
    const host = this.host;
    // While SLOWLOG keeps request bytes, the request names the key; otherwise the command does.
    const args = host.requestLog?.argsAt(ref) ?? null;
    const keys = args !== null ? keysWithAccess(id, args) : [];
    const key = keys.length > 0 ? args![keys[0][0]].toString('latin1') : null;
    host.ctx.observe.bigKeys.record('reply', key, -1, host.ctx.routes[id].name, bytes, host.remote);
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
