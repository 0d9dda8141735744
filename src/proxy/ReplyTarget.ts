/**
 * What fan-out, split/merge, the proxy-answered commands and key rewrite's key-name commands may
 * do with the client they work for: fill its reply slot, and send commands to shards on its
 * pinned backend connections. They get this narrow view instead of the connection, so they do not
 * import it (no import cycle) and can be tested with a recording fake.
 */
import type { QueryableClient } from './clients/ClientQuery';
import { errorReply } from './ErrorReply';
import type { Logger } from '../log';
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
  /** The command of request `seq` (lowercase Redis name), for the health checks (src/proxy/BackendActivity.ts). */
  commandName?(seq: number): string | null;
}

/** A ReplyTarget with the session state that proxy-answered commands read and change. */
export interface ClientSession extends ReplyTarget, GuardedClient, Pick<QueryableClient, 'pubsub' | 'multiQueued' | 'blocked' | 'lastCommand'> {
  readonly id: number;
  /** "address:port" of the client. */
  readonly remote: string;
  readonly createdAt: number;
  /** When it last sent something (CLIENT LIST idle). */
  readonly lastActive: number;
  name: string;
  authed: boolean;
  /** The protocol chosen with HELLO: 3 routes to the shards' RESP3 connections, and proxy-built replies use RESP3 types. */
  proto: 2 | 3;
  /** READONLY was sent (READWRITE, RESET clear it): read-only commands may go to replicas (readFrom). */
  readOnly: boolean;
  /** CLIENT NO-EVICT / NO-TOUCH ON (RESET clears them): remembered and listed, see ClientQuery.clientFlags. */
  noEvict: boolean;
  noTouch: boolean;
  /** CLIENT REPLY ON|OFF|SKIP (ClientReplies' REPLY_*), sent as command `seq`. */
  setReplyMode(mode: number, seq: number): void;
  /** QUIT: close once every earlier reply is written. */
  endAfterReplies(): void;
}

const UNREADABLE_REPLY = errorReply("ERR Kvstore: could not read a shard's reply (see the proxy log)");

/**
 * A sink for a shard reply that request `seq` of `target` depends on (SCAN, KEYS, RANDOMKEY: code
 * that reads the reply): if that code throws (a reply of a shape it did not expect), the request
 * is answered with an error instead of never, and the backend connection is not disturbed.
 */
export function stepSink(target: ReplyTarget, seq: number, log: Logger, step: (reply: Buffer) => void): ReplySink {
  // Read now (a slow-path request, not per command): the client may be gone while it runs.
  const command = target.commandName?.(seq) ?? null;
  return {
    commandName: () => command,
    onReply: (_tag, reply) => {
      try {
        step(reply);
      } catch (err) {
        log.error({ err }, 'could not read a shard reply');
        target.onReply(seq, UNREADABLE_REPLY);
      }
    },
  };
}
