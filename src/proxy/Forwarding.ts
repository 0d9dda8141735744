/**
 * Sending a client's command to a shard, and the views of the parse batch that routing needs.
 * Shared by the dispatcher (fast path) and SlowPath.ts (seams, re-encoded commands).
 */
import type { ClientSubscriptions } from './pubsub/PubSubHub';
import { ARG_STRIDE, C_ARG0, C_ARGC, C_KEY0, C_NKEYS, KEY_STRIDE } from '../native/api';
import { FENCED_SHARD, NO_SHARD } from '../topology/slots';
import { FlowControl, PAUSE_BACKEND } from './FlowControl';
import type { ProxyContext } from './ProxyContext';
import type { ReplySink } from './ReplySink';
import type { ClientSession } from './ReplyTarget';
import { ERRORS } from './ReplyTexts';
import type { DedicatedSession } from './dedicated/DedicatedSession';
import type { SessionClient } from './dedicated/types';

/** What dispatching needs from the client connection. */
export interface DispatchClient extends ClientSession, SessionClient {
  readonly ctx: ProxyContext;
  /** Which connection of each backend pool this client is pinned to. */
  readonly poolIndex: number;
  readonly flow: FlowControl;
  /** Where backend replies for this client's own requests go (in request order). */
  readonly replies: ReplySink;
  /** Set while a rewritten command is dispatched (it is not offered to the seam again). */
  rewriting: boolean;
  /** The sequence number the next `reserve` returns. */
  readonly reserveNext: number;
  /** Take the next reply slot for command `id` (-1: not a table command). */
  reserve(id: number): number;
  /** Reserve and answer at once. */
  replyNow(id: number, reply: Buffer): void;
  /** Key rewrite: map the reply of `seq` back to the client's key names. */
  mapReplyOf(seq: number, map: (reply: Buffer) => Buffer): void;
  protocolError(reply: Buffer): void;
  /** CLIENT PAUSE covers the command just read (`commandId`): stop reading at it until the pause ends. */
  holdForPause(commandId: number): void;
  /** A fleet proxy past its lease deadline waits for its primary (LeaseFence): stop reading at the command. */
  holdForFence(): void;
  /** Reading restarts at the held command. */
  resumeAfterPause(): void;
  /** The command being dispatched: where it is in the read (SLOWLOG's request log). */
  cmdStart: number;
  cmdEnd: number;
  /** Requests whose replies are not written yet. */
  readonly inFlight: number;
  /** Transaction / blocking / WAIT state (src/proxy/dedicated/); null when there is none. */
  session: DedicatedSession | null;
  /** A write went to shard `shard` (WAIT waits for the shards written to). */
  noteWrite(shard: number): void;
  /** Pub/sub subscriptions (src/proxy/pubsub/); null when it has none. */
  pubsub: ClientSubscriptions | null;
  /** Its output (pub/sub output limits read `queued`). */
  readonly stream: { readonly queued: number };
  /** Close now. */
  destroy(): void;
}

/** Dispatch command `i` of the current batch (Dispatcher.dispatchCommand, passed to the slow path). */
export type DispatchFn = (client: DispatchClient, chunk: Buffer, i: number) => boolean;

/**
 * Send command[start, end) to shard `shardIndex` on the client's pinned backend connection; the
 * reply goes to `sink` with `tag`. A congested backend stops the client's reading until it drains.
 */
export function forwardToShard(client: DispatchClient, shardIndex: number, command: Buffer, tag: number, sink: ReplySink, start: number, end: number): void {
  const shards = client.ctx.router.shards;
  if (shardIndex === NO_SHARD || shardIndex >= shards.length) {
    // (FENCED_SHARD: a slot a fleet proxy cut off from etcd refuses, see LeaseFence)
    sink.onReply(tag, shardIndex === FENCED_SHARD ? client.ctx.router.fencedSlotReply : shards.length === 0 ? ERRORS.noShards : ERRORS.slotNotServed);
    return;
  }
  const shard = shards[shardIndex];
  if (shard.downReply !== null) {
    sink.onReply(tag, shard.downReply);
    return;
  }
  const backend = client.proto === 2 ? shard.backend(client.poolIndex) : shard.backend3(client.poolIndex);
  if (!backend.send(command, sink, tag, start, end)) {
    client.flow.pause(PAUSE_BACKEND);
    backend.waitForDrain(client.flow);
  }
}

/**
 * A READONLY client's read-only command (readFrom replica | replica-preferred): to a readable
 * replica of the shard; with none, to the master (replica-preferred) or the shard's
 * no-replica error (replica). The reply ring keeps the client's order whichever server answers.
 */
export function forwardRead(client: DispatchClient, shardIndex: number, command: Buffer, tag: number, sink: ReplySink, start: number, end: number): void {
  const shards = client.ctx.router.shards;
  const shard = shardIndex === NO_SHARD || shardIndex >= shards.length ? null : shards[shardIndex];
  // No such shard, or one that answers an error (down, a fenced fleet proxy): as for writes.
  // RESP3 clients read from the master: the replica connections speak RESP2.
  if (shard === null || shard.downReply !== null || client.proto === 3) return forwardToShard(client, shardIndex, command, tag, sink, start, end);
  const backend = shard.readBackend(client.poolIndex);
  if (backend === null) {
    if (shard.noReplicaReply !== null) sink.onReply(tag, shard.noReplicaReply);
    else forwardToShard(client, shardIndex, command, tag, sink, start, end);
    return;
  }
  if (!backend.send(command, sink, tag, start, end)) {
    client.flow.pause(PAUSE_BACKEND);
    backend.waitForDrain(client.flow);
  }
}

/** The shard all keys of command `base` live on, or -1 if they span shards. */
export function allKeysOnOneShard(ctx: ProxyContext, base: number): number {
  const batch = ctx.binding.batch;
  const cmds = batch.cmds;
  const keys = batch.keys;
  const table = ctx.router.slotTable;
  const k0 = cmds[base + C_KEY0];
  const nk = cmds[base + C_NKEYS];
  let shard = -1;
  for (let k = 0; k < nk; k++) {
    const s = table[keys[(k0 + k) * KEY_STRIDE + 1]];
    if (shard === -1) shard = s;
    else if (s !== shard) return -1;
  }
  return shard === NO_SHARD ? -1 : shard;
}

/** Arguments of command `base`, copied (slow paths only: they may outlive the read). */
export function argsOf(ctx: ProxyContext, chunk: Buffer, base: number): Buffer[] {
  const batch = ctx.binding.batch;
  const cmds = batch.cmds;
  const a0 = cmds[base + C_ARG0];
  const argc = cmds[base + C_ARGC];
  const out: Buffer[] = new Array(argc);
  for (let a = 0; a < argc; a++) {
    const off = batch.args[(a0 + a) * ARG_STRIDE];
    out[a] = Buffer.from(chunk.subarray(off, off + batch.args[(a0 + a) * ARG_STRIDE + 1]));
  }
  return out;
}
