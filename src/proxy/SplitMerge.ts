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

class Fragment implements ReplySink {
  private readonly replies: Buffer[];
  private remaining: number;

  constructor(
    private readonly client: ReplyTarget,
    private readonly ctx: ProxyContext,
    private readonly seq: number,
    private readonly plan: Int32Array,
    count: number,
  ) {
    this.replies = new Array(count);
    this.remaining = count;
  }

  onReply(tag: number, reply: Buffer): void {
    this.replies[tag] = reply;
    if (--this.remaining > 0) return;
    if (this.client.isClosed) return;
    // A failed child (shard down, timeout, error) fails the whole command with its error.
    for (const r of this.replies) {
      if (r[0] === 0x2d) {
        this.client.onReply(this.seq, r);
        return;
      }
    }
    let merged: Buffer;
    try {
      merged = this.ctx.binding.hot.merge(this.plan, this.replies);
    } catch (err) {
      // A sub-reply the merge cannot take (a bug or an odd shard): answer this command with an
      // error rather than never (the backend would carry on and the client would wait forever).
      this.ctx.log.error({ err }, 'split merge failed');
      merged = errorReply('ERR Kvstore: could not merge shard replies: ', messageOf(err));
    }
    this.client.onReply(this.seq, merged);
  }
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
  // The bound plan array is reused by the next split: keep a copy for the merge.
  const fragment = new Fragment(client, ctx, seq, keepPlan(plan, length), n);
  for (let j = 0; j < n; j++) {
    const o = PLAN_HEADER + j * PLAN_SUB_STRIDE;
    if (reader !== null) forwardRead(reader, plan[o], parts, j, fragment, plan[o + 1], plan[o + 2]);
    else client.forwardTo(plan[o], parts, j, fragment, plan[o + 1], plan[o + 2]);
  }
}

// Plans are kept until the merge as views into shared slabs: a plan above 16 entries would be an
// off-heap typed array (a malloc) of its own. A slab is dropped by the GC when its last plan is.
const SLAB_ENTRIES = 64 * 1024;
let slab = new Int32Array(SLAB_ENTRIES);
let slabUsed = 0;

function keepPlan(plan: Int32Array, length: number): Int32Array {
  if (length > SLAB_ENTRIES) return plan.slice(0, length);
  if (slabUsed + length > SLAB_ENTRIES) {
    slab = new Int32Array(SLAB_ENTRIES);
    slabUsed = 0;
  }
  const kept = slab.subarray(slabUsed, slabUsed + length);
  kept.set(plan.subarray(0, length));
  slabUsed += length;
  return kept;
}
