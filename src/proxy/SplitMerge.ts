/**
 * MGET, MSET, DEL, EXISTS, UNLINK, TOUCH across shards: the hot path splits the command into one
 * sub-command per shard (keys grouped by the slot table) and merges the sub-replies back into
 * exactly the reply one Redis would give (MGET in the client's key order, counts summed, MSET OK).
 * A Fragment counts its pending children; the client's reply slot is filled when the last answers.
 */
import { PLAN_HEADER, PLAN_KEY_STRIDE, PLAN_SUB_STRIDE } from '../native/api';
import type { ProxyContext } from './ProxyContext';
import type { ReplySink } from './ReplySink';
import type { ReplyTarget } from './ReplyTarget';
import { errorReply, messageOf } from './ErrorReply';
import { DispatchClient, forwardRead } from './Forwarding';

/**
 * One split command in flight. Fragments are pooled: a fragment, its plan copy, its reply store
 * and its spans are reused by later split commands, so a pipelined MGET allocates nothing that
 * outlives its read (such objects would be promoted to the old heap while the shards answer).
 * Sub-replies arrive as views of the backend's read (`takesViews`) and are copied into the
 * store; the merge reads them from there (`mergeStore`: no Buffer per sub-reply).
 */
class Fragment implements ReplySink {
  readonly takesViews = true;
  private client: ReplyTarget | null = null;
  private ctx: ProxyContext | null = null;
  private seq = 0;
  private remaining = 0;
  private count = 0;
  /** The plan of this command (a copy: the bound plan array is reused by the next split). */
  private plan = new Int32Array(PLAN_MIN);
  /** Sub-replies: bytes in `store`, [start, end) of sub-reply s at spans[2s], spans[2s + 1]. */
  private store: Buffer = EMPTY;
  private storeUsed = 0;
  private spans = new Int32Array(SPANS_MIN);

  /** Take over `plan[0, length)` for a command with `count` sub-commands answering `seq` of `client`. */
  start(client: ReplyTarget, ctx: ProxyContext, seq: number, plan: Int32Array, length: number, count: number): void {
    this.client = client;
    this.ctx = ctx;
    this.seq = seq;
    this.remaining = count;
    this.count = count;
    if (this.plan.length < length) this.plan = new Int32Array(Math.max(length, this.plan.length * 2));
    const kept = this.plan;
    for (let i = 0; i < length; i++) kept[i] = plan[i];
    if (this.spans.length < count * 2) this.spans = new Int32Array(count * 2);
    this.storeUsed = 0;
  }

  onReply(tag: number, reply: Buffer): void {
    this.onReplyRange(tag, reply, 0, reply.length);
  }

  onReplyRange(tag: number, buf: Buffer, start: number, end: number): void {
    this.keep(tag, buf, start, end);
    if (--this.remaining > 0) return;
    // The last sub-reply: everything is here. Merge, answer, and go back to the pool.
    try {
      this.finish();
    } finally {
      this.release();
    }
  }

  private keep(tag: number, buf: Buffer, start: number, end: number): void {
    const n = end - start;
    const used = this.storeUsed;
    if (used + n > this.store.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(STORE_MIN, used + n, this.store.length * 2));
      if (used > 0) grown.set(this.store.subarray(0, used));
      this.store = grown;
    }
    const store = this.store;
    // Small replies (MSET's +OK, counts) by a loop; larger ones by the addon (Buffer#copy and
    // set() cost a view each: garbage per sub-reply).
    if (n <= SMALL_COPY) for (let i = 0; i < n; i++) store[used + i] = buf[start + i];
    else this.ctx!.binding.hot.copyBytes(store, used, buf, start, end);
    this.spans[tag * 2] = used;
    this.spans[tag * 2 + 1] = used + n;
    this.storeUsed = used + n;
  }

  private finish(): void {
    const client = this.client!;
    if (client.isClosed) return;
    const spans = this.spans;
    const store = this.store;
    // A failed child (shard down, timeout, error) fails the whole command with its error.
    for (let t = 0; t < this.count; t++) {
      if (store[spans[t * 2]] === 0x2d) {
        client.onReply(this.seq, store.subarray(spans[t * 2], spans[t * 2 + 1]));
        return;
      }
    }
    let merged: Buffer;
    try {
      merged = this.ctx!.binding.hot.mergeStore(this.plan, store, spans);
    } catch (err) {
      // A sub-reply the merge cannot take (a bug or an odd shard): answer this command with an
      // error rather than never (the backend would carry on and the client would wait forever).
      this.ctx!.log.error({ err }, 'split merge failed');
      merged = errorReply('ERR Kvstore: could not merge shard replies: ', messageOf(err));
    }
    client.onReply(this.seq, merged);
  }

  private release(): void {
    this.client = null;
    this.ctx = null;
    // A store a big reply grew is not kept for the next command.
    if (this.store.length > STORE_KEEP) this.store = EMPTY;
    if (pool.length < POOL_MAX) pool.push(this);
  }
}

/** Plan entries a fragment starts with; the store's first size and the most a pooled one keeps. */
const PLAN_MIN = 64;
const SPANS_MIN = 16;
const STORE_MIN = 1024;
const STORE_KEEP = 64 * 1024;
const SMALL_COPY = 64;
/** Fragments kept for reuse (a worker's in-flight split commands rarely exceed this). */
const POOL_MAX = 4096;
const EMPTY = Buffer.alloc(0);
const pool: Fragment[] = [];

function takeFragment(): Fragment {
  return pool.length > 0 ? pool.pop()! : new Fragment();
}

/**
 * Split command `cmdIndex` of the current batch and send its parts; the merged reply fills `seq`.
 * `reader`: a READONLY client's read (readFrom): the parts go to the shards' readable replicas.
 */
export function splitAcrossShards(client: ReplyTarget, ctx: ProxyContext, chunk: Buffer, cmdIndex: number, seq: number, reader: DispatchClient | null = null): void {
  const binding = ctx.binding;
  binding.useSlotTable(ctx.router.slotTable);
  let parts: Buffer;
  try {
    parts = binding.hot.split(chunk, cmdIndex);
  } catch (err) {
    // The dispatcher checks arity first, so this is a bug; fail the command, not the worker.
    ctx.log.error({ err }, 'split failed');
    client.onReply(seq, errorReply('ERR Kvstore: ', messageOf(err)));
    return;
  }
  const plan = binding.plan;
  const n = plan[0];
  const length = PLAN_HEADER + n * PLAN_SUB_STRIDE + plan[2] * PLAN_KEY_STRIDE;
  const fragment = takeFragment();
  fragment.start(client, ctx, seq, plan, length, n);
  for (let j = 0; j < n; j++) {
    const o = PLAN_HEADER + j * PLAN_SUB_STRIDE;
    if (reader !== null) forwardRead(reader, plan[o], parts, j, fragment, plan[o + 1], plan[o + 2]);
    else client.forwardTo(plan[o], parts, j, fragment, plan[o + 1], plan[o + 2]);
  }
}
