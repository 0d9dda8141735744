/**
 * What fan-out, split/merge, the proxy-answered commands and key rewrite's key-name commands may
 * do with the client they work for: fill its reply slot, and send commands to shards on its
 * pinned backend connections. They get this narrow view instead of the connection, so they do not
 * import it (no import cycle) and can be tested with a recording fake.
 */
import type { ReplySink } from './ReplySink';
import type { GuardedClient } from '../security/WorkerSecurity';

export interface ReplyTarget {
  /** The reply to request `seq` (a slot reserved by the dispatcher); the target copies what it keeps. */
  onReply(seq: number, reply: Buffer): void;
  /**
   * Send `command[start, end)` (one complete RESP command) to shard `shardIndex` on this client's
   * pinned connection; its reply goes to `sink.onReply(tag, ...)` (the target itself by default,
   * where `tag` is a sequence number).
   */
  forwardTo(shardIndex: number, command: Buffer, tag: number, sink?: ReplySink, start?: number, end?: number): void;
  /** The client went away: late replies are dropped. */
  readonly isClosed: boolean;
}

/** A ReplyTarget with the session state that proxy-answered commands read and change. */
export interface ClientSession extends ReplyTarget, GuardedClient {
  readonly id: number;
  /** "address:port" of the client. */
  readonly remote: string;
  readonly createdAt: number;
  name: string;
  authed: boolean;
  /** QUIT: close once every earlier reply is written. */
  endAfterReplies(): void;
}
