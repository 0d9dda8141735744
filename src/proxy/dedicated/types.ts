/**
 * The narrow interfaces between a client connection and its dedicated-connection session
 * (DedicatedSession.ts), kept in their own file so neither imports the other.
 */
import type { CommandRoute } from '../CommandRoutes';
import type { ReplySink } from '../ReplySink';

/** What the session needs from its client connection (the narrow "reply target"). */
export interface SessionClient {
  readonly id: number;
  /** The protocol it speaks (HELLO): its dedicated connections must speak it too. */
  proto: 2 | 3;
  /** Take the next reply slot for command `id`. */
  reserve(id: number): number;
  /** The reply for slot `seq` (kept in order with every other reply). */
  onReply(seq: number, reply: Buffer): void;
  /** Dispatch none of this client's commands until `unhold` (blocked, WAIT). */
  hold(): void;
  unhold(): void;
  /** Send command[start, end) on this client's shared connection to shard `i` (keeps its order there). */
  forwardTo(shardIndex: number, command: Buffer, tag: number, sink?: ReplySink, start?: number, end?: number): void;
  /** The shards this client sent writes to since the last call (WAIT). */
  takeWrittenShards(): number[];
  /** Close once every reply is out (CLIENT KILL of itself). */
  endAfterReplies(): void;
  /** Run HELLO `args` as the proxy answers it, applying it; its reply (a HELLO queued in MULTI, at EXEC). */
  hello(args: Buffer[]): Buffer;
  /** The protocol HELLO `args` would switch to, with nothing changed (0: none, or it would fail). */
  helloSwitchesTo(args: Buffer[]): 0 | 2 | 3;
}

/**
 * An error Redis Cluster gives when it runs a command, not when it queues it (SORT's refused
 * options, src/proxy/SortCommand.ts): `reply` outside a transaction; inside one, `queued` is
 * sent to the shard instead, so that EXEC's reply carries `reply` in its place.
 */
export interface QueuedRefusal {
  readonly reply: Buffer;
  readonly queued: Buffer;
}

/** One command as the dispatcher framed it; `chunk[start, end)` is valid during the call only. */
export interface SessionCommand {
  route: CommandRoute;
  chunk: Buffer;
  start: number;
  end: number;
  /** Common slot of the keys, SLOT_NONE (none) or SLOT_CROSS (several). */
  slot: number;
  /** With SLOT_CROSS: the shard holding every key, or -1. */
  keysShard: number;
  /** A key is in a slot being migrated. */
  migrating: boolean;
  /** Key rewrite applies to a key (the dispatcher rewrites and offers the result again). */
  needsRewrite: boolean;
  /** SORT with an option Redis Cluster refuses (BY pattern, GET); null for every other command. */
  sortRefusal: QueuedRefusal | null;
  /** The arguments, copied. */
  args(): Buffer[];
}

export const enum Outcome {
  /** Answered or sent by the session. */
  Handled = 0,
  /** Not a session matter: route it as usual. */
  Normal = 1,
  /** Rewrite its keys first, then offer the rewritten command again. */
  Rewrite = 2,
}

/** A session that can be unblocked on its server (CLIENT UNBLOCK from another client). */
export interface UnblockTarget {
  /** Send CLIENT UNBLOCK for its blocked command; the reply goes to `caller`'s slot `seq`. False when it is not blocked. */
  unblockOnServer(caller: SessionClient, mode: string, seq: number): boolean;
  /** The same for CLIENT UNBLOCK from another worker: resolves true when the shard unblocked it. */
  unblockFromElsewhere(mode: string): Promise<boolean>;
}
