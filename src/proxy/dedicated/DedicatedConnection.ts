/**
 * One backend connection that serves one client at a time: a transaction (WATCH/MULTI/EXEC), a
 * blocking command (BLPOP, XREAD BLOCK, ...) or the proxy's WAIT. Why not a BackendConnection:
 * that one is shared by many clients, times requests out after `timeouts.requestMs` and
 * reconnects by itself, and a command that blocks or leaves state behind must never reach it.
 * Here a failure simply ends the connection: its pending requests get an -ERR naming the shard,
 * and the owner (the DedicatedPool) drops it.
 *
 * On connect it sends AUTH (when configured; `HELLO 3 [AUTH ...]` for a RESP3 connection) and
 * `CLIENT ID`, so that CLIENT UNBLOCK from the proxy's clients can name this connection on the
 * redis-server. Replies are framed with the RESP codec (not the hot path: these connections carry
 * few commands) and passed to the sinks byte for byte, so a RESP3 client's replies must come from
 * a connection that speaks RESP3: `proto` says which one it speaks now, `speak` switches it
 * (between commands, never inside MULTI), and the pool files it under that protocol when it
 * comes back.
 */
import type { Logger } from '../../log';
import type { TimerHandle } from '../Clock';
import { DataPathIo, systemIo } from '../DataPathIo';
import { encodeCommand, splitAddress } from '../../resp';
import { ReplyFramer } from '../../resp/ReplyFramer';
import { scheduleFlush, Flushable } from '../FlushScheduler';
import type { ReplySink } from '../ReplySink';
import { errorReply, isErrorReply } from '../Resp';
import type { ByteStream, StreamHandler } from '../io';
import { ConnectionActivity, SlowCandidate, slowCandidate } from '../BackendActivity';

export interface DedicatedOptions {
  shard: string;
  address: string;
  username: string;
  password: string;
  connectMs: number;
  nativeIo: boolean;
  /** The protocol it opens in (2: AUTH only; 3: HELLO 3, with AUTH inside it when configured). */
  proto: 2 | 3;
}

type State = 'connecting' | 'ready' | 'closed';

const KEEPALIVE_MS = 30_000;
const CLIENT_ID = encodeCommand(['CLIENT', 'ID']);
const HELLO = { 2: encodeCommand(['HELLO', '2']), 3: encodeCommand(['HELLO', '3']) } as const;

/** A sink that ignores what it gets (replies to the proxy's own bookkeeping commands). */
const IGNORE: ReplySink = { onReply: () => undefined };

export class DedicatedConnection implements StreamHandler, Flushable {
  flushScheduled = false;
  private state: State = 'connecting';
  private readonly stream: ByteStream;
  private readonly sinks: ReplySink[] = [];
  private readonly tags: number[] = [];
  /** When each pending request was queued (ms since the epoch), for the health checks. */
  private readonly times: number[] = [];
  /** When a reply was last read (ms since the epoch; 0 = never). */
  private lastReplyAt = 0;
  /** Whole replies out of the reads (a reply cut by a read's end kept in a growing buffer). */
  private readonly framer = new ReplyFramer();
  private connectTimer: TimerHandle | null;
  /** This connection's id on the redis-server (CLIENT ID), -1 until known. */
  backendId = -1;
  /** The protocol its replies are in (set at connect, changed by `speak`). */
  proto: 2 | 3;
  /** Why it closed ('' while open). */
  closeReason = '';
  /** Called once when the connection ends (for whatever reason). */
  onClosed: ((conn: DedicatedConnection) => void) | null = null;

  constructor(
    readonly options: DedicatedOptions,
    private readonly log: Logger,
    private readonly io: DataPathIo = systemIo,
  ) {
    const { host, port } = splitAddress(options.address);
    this.proto = options.proto;
    this.stream = io.connect(host, port, this, options.nativeIo, KEEPALIVE_MS);
    let handshake: string[] | null = null;
    if (options.proto === 3) handshake = options.password ? ['HELLO', '3', 'AUTH', options.username || 'default', options.password] : ['HELLO', '3'];
    else if (options.password) handshake = options.username ? ['AUTH', options.username, options.password] : ['AUTH', options.password];
    if (handshake !== null) {
      const what = handshake[0] === 'HELLO' ? 'HELLO 3' : 'AUTH';
      this.push({ onReply: (_t, reply) => isErrorReply(reply) && this.fail(`rejected ${what}: ${reply.toString('utf8', 1, reply.length - 2)}`) }, 0);
      this.stream.append(encodeCommand(handshake));
    }
    this.push({ onReply: (_t, reply) => (this.backendId = reply[0] === 0x3a ? Number(reply.toString('latin1', 1, reply.length - 2)) : -1) }, 0);
    this.stream.append(CLIENT_ID);
    this.connectTimer = io.clock.setTimeout(() => this.fail(`connect timed out after ${options.connectMs} ms`), options.connectMs);
  }

  get shard(): string {
    return this.options.shard;
  }

  get address(): string {
    return this.options.address;
  }

  get open(): boolean {
    return this.state !== 'closed';
  }

  get ready(): boolean {
    return this.state === 'ready';
  }

  /** Replies still owed (including the proxy's own AUTH / CLIENT ID). */
  get pending(): number {
    return this.sinks.length;
  }

  /**
   * Queue command[start, end) (copied); its reply goes to sink.onReply(tag, reply). On a closed
   * connection the sink is answered at once with the reason.
   */
  send(command: Buffer, sink: ReplySink, tag: number, start = 0, end = command.length): void {
    if (this.state === 'closed') {
      sink.onReply(tag, this.errorFor(this.closeReason));
      return;
    }
    this.push(sink, tag);
    this.stream.append(command, start, end);
    if (this.state === 'ready') scheduleFlush(this);
  }

  /**
   * Speak `proto` from the next command on (the client switched with HELLO while holding this
   * connection): `HELLO <proto>` is queued ahead of it. The connection is already authenticated,
   * so only a broken server refuses; that ends the connection rather than leave its protocol in
   * doubt. Never inside MULTI (HELLO would be queued): the proxy refuses HELLO there.
   */
  speak(proto: 2 | 3): void {
    if (proto === this.proto || this.state === 'closed') return;
    this.proto = proto;
    this.send(HELLO[proto], { onReply: (_t, reply) => isErrorReply(reply) && this.fail(`rejected HELLO ${proto}: ${reply.toString('utf8', 1, reply.length - 2)}`) }, 0);
  }

  /** Send a command whose reply nobody needs (DISCARD, UNWATCH before a return to the pool). */
  sendQuiet(command: Buffer): void {
    this.send(command, IGNORE, 0);
  }

  flush(): void {
    if (this.state === 'ready') this.stream.flush();
  }

  private push(sink: ReplySink, tag: number): void {
    this.sinks.push(sink);
    this.tags.push(tag);
    this.times.push(this.io.clock.now());
  }

  /** On request (health checks, src/proxy/BackendActivity.ts): what is in flight here. */
  activity(): ConnectionActivity {
    const slow: SlowCandidate[] = [];
    for (let i = 0; i < this.sinks.length; i++) {
      const c = slowCandidate(this.sinks[i], this.tags[i], this.times[i]);
      if (c !== null) slow.push(c);
    }
    return { address: this.options.address, inFlight: this.sinks.length, oldestAt: this.times[0] ?? -1, lastReplyAt: this.lastReplyAt, slow };
  }

  /** Close now; pending replies get `-ERR Kvstore: shard '<name>' (<addr>) <reason>`. */
  fail(reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closeReason = reason;
    if (this.connectTimer) this.io.clock.clearTimer(this.connectTimer);
    this.connectTimer = null;
    this.stream.destroy();
    const sinks = this.sinks.splice(0);
    const tags = this.tags.splice(0);
    this.times.length = 0;
    const reply = this.errorFor(reason);
    for (let i = 0; i < sinks.length; i++) sinks[i].onReply(tags[i], reply);
    const closed = this.onClosed;
    this.onClosed = null;
    if (closed) closed(this);
  }

  /** Close without blame (client gone while blocked, pool shrinking, shutdown). */
  close(reason = 'closed by the proxy'): void {
    this.fail(reason);
  }

  errorFor(reason: string): Buffer {
    return errorReply(`ERR Kvstore: shard '${this.options.shard}' (${this.options.address}) ${reason}`);
  }

  /* ---------- stream events ---------- */

  onStreamConnect(): void {
    if (this.state !== 'connecting') return;
    if (this.connectTimer) this.io.clock.clearTimer(this.connectTimer);
    this.connectTimer = null;
    this.state = 'ready';
    this.stream.flush();
  }

  onStreamData(data: Buffer, start: number, end: number): void {
    if (!this.framer.feed(data, start, end, this.onReply)) this.fail('sent a reply that is not RESP');
  }

  /** One whole reply buf[start, end), to the sink that asked for it. */
  private readonly onReply = (buf: Buffer, start: number, end: number): boolean => {
    const sink = this.sinks.shift();
    const tag = this.tags.shift()!;
    this.times.shift();
    this.lastReplyAt = this.io.clock.now();
    if (sink === undefined) {
      this.fail('sent a reply nobody asked for');
      return false;
    }
    // Copied: the read buffer is reused and a sink may keep the reply (replies here are few).
    sink.onReply(tag, Buffer.from(buf.subarray(start, end)));
    return this.state !== 'closed';
  };

  onStreamDrain(): void {
    // nothing waits on a dedicated connection's output
  }

  onStreamEnd(): void {
    this.fail('connection closed');
  }

  onStreamClose(error: string | null): void {
    if (this.state !== 'closed') this.log.debug({ shard: this.shard, error }, 'dedicated connection closed');
    this.fail(error ? `connection error ${error}` : 'connection closed');
  }

  onStreamTimeout(): void {
    // no idle timeout on dedicated connections: a blocked command may wait forever
  }
}
