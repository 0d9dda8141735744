/**
 * One connection to one backend redis-server, shared by many clients (multiplexed).
 *
 * Requests are copied into the stream's output as they come, with a pending queue of (sink, tag)
 * pairs; everything queued in one event-loop turn goes out in one write (FlushScheduler).
 * Replies are framed by the hot path, once per read, and handed to the pending sinks in order as
 * views into the read buffer (copied first for sinks that keep them: see ReplySink).
 *
 * Failure policy: a refused, dropped, timed-out or AUTH-rejected connection fails exactly the
 * requests pending on it, with an -ERR naming the shard and address, then reconnects with
 * exponential backoff. While backing off, new requests fail at once instead of queueing.
 */
import { R_CONSUMED, R_ERROR, R_NEED, R_RESUME_AT, R_RESUME_OWED } from '../native/api';
import type { Logger } from '../log';
import { scheduleFlush, Flushable } from './FlushScheduler';
import { ReplyRing, RingShape } from './ReplyRing';
import type { HotPathBinding } from './HotPathBinding';
import type { ReplySink } from './ReplySink';
import { PartialInput } from '../resp/PartialInput';
import { errorReply, isErrorReply } from './Resp';
import { encodeCommand, splitAddress } from '../resp';
import type { Clock, TimerHandle } from './Clock';
import { DataPathIo, systemIo } from './DataPathIo';
import { ByteStream, isSharedReadBuffer, StreamHandler } from './io';
import { ConnectionActivity, SlowCandidate, slowCandidate } from './BackendActivity';

export interface BackendOptions {
  shard: string;
  address: string; // host:port
  username: string;
  password: string;
  connectMs: number;
  requestMs: number;
  /** Bytes queued (ours + the socket's) above which feeding clients are paused. */
  highWater: number;
  /** Use the addon's sockets (IP addresses only; host names use net.Socket). */
  nativeIo: boolean;
  /** 3: the connection opens with `HELLO 3` and carries RESP3 clients' commands. */
  proto: 2 | 3;
}

/** Something that can be paused while this backend is congested (a client). */
export interface CongestionWaiter {
  resumeAfterBackendDrain(): void;
}

type State = 'idle' | 'connecting' | 'ready' | 'backoff' | 'closed';

const MIN_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 2000;
const KEEPALIVE_MS = 30_000;
/** Pending requests: a backend is shared by many clients, so its ring is kept warm up to 64 Ki. */
const BACKEND_RING: RingShape = { initial: 64, keep: 1 << 16, withTimes: true };

export class BackendConnection implements Flushable, ReplySink {
  flushScheduled = false;
  private state: State = 'idle';
  private stream: ByteStream | null = null;
  /** Commands appended to the stream since the last flush. */
  private unflushed = 0;

  /** Pending requests: the sink and its tag, and when the request was written. */
  private readonly ring = new ReplyRing<ReplySink>(BACKEND_RING);
  /** Pending entries from here on have not been written yet (no timestamp). */
  private unstamped = 0;

  private readonly partial = new PartialInput();
  /** Where framing of the reply kept in `partial` resumes (offset in it, values owed; 0 = none). */
  private resumeAt = 0;
  private resumeOwed = 0;

  private backoffMs = MIN_BACKOFF_MS;
  private reconnectTimer: TimerHandle | null = null;
  private connectTimer: TimerHandle | null = null;
  private timeoutTimer: TimerHandle | null = null;
  private readonly clock: Clock;
  private unavailable: Buffer;
  private waiters = new Set<CongestionWaiter>();
  private readonly host: string;
  private readonly port: number;

  /** When a reply was last read (ms since the epoch; 0 = never): the health checks' proof of life. */
  lastReplyAt = 0;
  /**
   * A command that may run long was in flight when this connection failed (e.g. timed out): it
   * still runs on the server, which stays silent until it ends. Cleared by the next reply read.
   */
  private abandoned: SlowCandidate | null = null;

  errors = 0;
  lastError = '';
  /** Replies whose sink threw (a bug; logged): the connection went on with the next reply. */
  sinkErrors = 0;

  constructor(
    private options: BackendOptions,
    private readonly binding: HotPathBinding,
    private readonly log: Logger,
    private readonly io: DataPathIo = systemIo,
  ) {
    this.clock = io.clock;
    const { host, port } = splitAddress(options.address);
    this.host = host;
    this.port = port;
    this.unavailable = this.errorFor('is unavailable');
  }

  get address(): string {
    return this.options.address;
  }

  get shard(): string {
    return this.options.shard;
  }

  get connected(): boolean {
    return this.state === 'ready';
  }

  get pending(): number {
    return this.ring.size;
  }

  /** Queued bytes above the high-water mark: callers should stop feeding it. */
  get congested(): boolean {
    return this.stream !== null && this.stream.queued > this.options.highWater;
  }

  /** Live settings (timeouts, credentials apply from the next connection). */
  updateOptions(options: BackendOptions): void {
    this.options = options;
    if (this.timeoutTimer) {
      this.clock.clearTimer(this.timeoutTimer);
      this.timeoutTimer = null;
      this.armTimeoutCheck();
    }
  }

  /**
   * Queue one complete command; its reply goes to sink.onReply(tag, ...). Returns false when the
   * backend is congested (the caller should pause and register with `waitForDrain`).
   */
  send(command: Buffer, sink: ReplySink, tag: number, start = 0, end = command.length): boolean {
    const state = this.state;
    if (state === 'backoff' || state === 'closed') {
      sink.onReply(tag, this.unavailable);
      return true;
    }
    if (state === 'idle') this.connect();
    this.push(sink, tag);
    const stream = this.stream!;
    stream.append(command, start, end); // copied: `command` may be a client's read buffer
    this.unflushed++;
    if (this.state === 'ready') scheduleFlush(this);
    return stream.queued <= this.options.highWater;
  }

  waitForDrain(waiter: CongestionWaiter): void {
    this.waiters.add(waiter);
  }

  private push(sink: ReplySink, tag: number): void {
    this.ring.push(sink, tag);
  }

  flush(): void {
    const stream = this.stream;
    if (this.state !== 'ready' || stream === null || this.unflushed === 0) return;
    const now = this.clock.now();
    const ring = this.ring;
    const times = ring.times!;
    for (let s = Math.max(this.unstamped, ring.head); s < ring.tail; s++) times[s & ring.mask] = now;
    this.unstamped = ring.tail;
    this.unflushed = 0;
    stream.flush();
  }

  /* ---------- connection life ---------- */

  private connect(): void {
    this.state = 'connecting';
    const attempt: { stream: ByteStream | null } = { stream: null };
    const stream = this.io.connect(this.host, this.port, this.streamHandler(attempt), this.options.nativeIo, KEEPALIVE_MS);
    attempt.stream = stream; // before any event: streams report asynchronously
    this.stream = stream;
    const { username, password, proto } = this.options;
    // AUTH (or HELLO 3 with AUTH) is the first request on every connection; queued client
    // requests follow it, so they never run unauthenticated or in the wrong protocol.
    let handshake: string[] | null = null;
    if (proto === 3) handshake = password ? ['HELLO', '3', 'AUTH', username || 'default', password] : ['HELLO', '3'];
    else if (password) handshake = username ? ['AUTH', username, password] : ['AUTH', password];
    if (handshake) {
      this.push(this, -1);
      stream.append(encodeCommand(handshake));
      this.unflushed++;
    }
    this.connectTimer = this.clock.setTimeout(() => {
      if (this.stream === stream) this.fail(`connect timed out after ${this.options.connectMs} ms`);
    }, this.options.connectMs);
  }

  /** Events of one connection attempt; a dropped stream's late events are ignored. */
  private streamHandler(attempt: { stream: ByteStream | null }): StreamHandler {
    const mine = (): boolean => attempt.stream !== null && this.stream === attempt.stream;
    return {
      onStreamConnect: () => {
        if (!mine()) return;
        this.clearConnectTimer();
        this.state = 'ready';
        this.backoffMs = MIN_BACKOFF_MS;
        this.log.info({ shard: this.shard, address: this.address }, 'backend connected');
        this.armTimeoutCheck();
        if (this.unflushed > 0) this.flush();
      },
      onStreamData: (chunk, start, end) => {
        if (!mine()) return;
        try {
          this.onData(chunk, start, end);
        } catch (err) {
          // Framing failed (a bug): the stream is out of step, so reset this connection.
          this.log.error({ err, shard: this.shard }, 'reply dispatch failed');
          this.fail('reply dispatch failed (see the proxy log)');
        }
      },
      onStreamDrain: () => {
        if (mine()) this.releaseWaiters();
      },
      onStreamEnd: () => {
        if (mine()) this.fail('connection closed');
      },
      onStreamClose: (error) => {
        if (mine()) this.fail(error ? describeSocketError(error) : 'connection closed');
      },
      onStreamTimeout: () => undefined,
    };
  }

  private clearConnectTimer(): void {
    if (this.connectTimer) this.clock.clearTimer(this.connectTimer);
    this.connectTimer = null;
  }

  private armTimeoutCheck(): void {
    if (this.timeoutTimer) return;
    const period = Math.max(5, Math.min(250, Math.floor(this.options.requestMs / 5)));
    this.timeoutTimer = this.clock.setInterval(() => this.checkTimeout(), period);
  }

  private checkTimeout(): void {
    const ring = this.ring;
    if (ring.head >= this.unstamped) return; // nothing written and unanswered
    const age = this.clock.now() - ring.times![ring.head & ring.mask];
    if (age > this.options.requestMs) this.fail(`timed out after ${this.options.requestMs} ms`);
  }

  /**
   * On request (health checks, BackendActivity.ts): what is in flight on this connection. Walks
   * the written, unanswered requests; nothing of this runs per command.
   */
  activity(): ConnectionActivity {
    const ring = this.ring;
    const written = this.unstamped - ring.head;
    const slow = this.slowInFlight();
    if (this.abandoned !== null) slow.push(this.abandoned);
    return {
      address: this.options.address,
      inFlight: Math.max(0, written),
      oldestAt: written > 0 ? ring.times![ring.head & ring.mask] : -1,
      lastReplyAt: this.lastReplyAt,
      slow,
    };
  }

  /** Written, unanswered requests whose command may run long, oldest first. */
  private slowInFlight(): SlowCandidate[] {
    const ring = this.ring;
    const out: SlowCandidate[] = [];
    const end = Math.min(this.unstamped, ring.tail);
    for (let s = ring.head; s < end; s++) {
      const i = s & ring.mask;
      const c = slowCandidate(ring.objs[i], ring.ints[i], ring.times![i]);
      if (c !== null) out.push(c);
    }
    return out;
  }

  /** Fail everything pending, drop the socket, back off and reconnect later. */
  private fail(reason: string): void {
    if (this.state === 'closed') return;
    this.errors++;
    this.lastError = reason;
    this.log.warn({ shard: this.shard, address: this.address, reason, pending: this.pending }, 'backend failed');
    this.abandoned = this.slowInFlight()[0] ?? this.abandoned;
    this.dropSocket();
    // State first: sinks that react to the failure by sending again (SCAN, RANDOMKEY) fail fast.
    this.state = 'backoff';
    this.unavailable = this.errorFor(`is unavailable (${reason})`);
    this.failPending(this.errorFor(reason));
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
    this.reconnectTimer = this.clock.setTimeout(() => {
      this.reconnectTimer = null;
      if (this.state === 'backoff') this.connect();
    }, delay);
  }

  private dropSocket(): void {
    this.clearConnectTimer();
    if (this.timeoutTimer) this.clock.clearTimer(this.timeoutTimer);
    this.timeoutTimer = null;
    const stream = this.stream;
    this.stream = null;
    if (stream) stream.destroy();
    this.partial.clear();
    this.unflushed = 0;
  }

  private failPending(reply: Buffer): void {
    // Sinks may queue new requests on this backend while we fail these: take the range first.
    const ring = this.ring;
    const from = ring.head;
    const to = ring.tail;
    const sinks = ring.objs;
    const tags = ring.ints;
    const mask = ring.mask;
    ring.head = to;
    this.unstamped = to;
    for (let s = from; s < to; s++) {
      const i = s & mask;
      const sink = sinks[i]!;
      sinks[i] = null;
      sink.onReply(tags[i], reply);
    }
    this.releaseWaiters();
  }

  /**
   * The primary declared this backend down (failover health checks): fail what is pending now
   * instead of waiting for the request timeout, then reconnect with backoff as after any failure.
   */
  abort(reason: string): void {
    if (this.state === 'closed' || this.state === 'backoff') return;
    this.fail(reason);
  }

  /** Retire for good (shard removed or its master changed): fail pending with `reason`. */
  retire(reason: string): void {
    if (this.state === 'closed') return;
    this.dropSocket();
    if (this.reconnectTimer) this.clock.clearTimer(this.reconnectTimer);
    this.reconnectTimer = null;
    this.state = 'closed';
    this.unavailable = this.errorFor(reason);
    this.failPending(this.errorFor(reason));
  }

  /** Close once nothing is pending (or after `ms`), for shutdown. */
  async drainAndClose(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.pending > 0 && Date.now() < deadline && this.state !== 'closed') await new Promise((r) => setTimeout(r, 5));
    this.retire('is shutting down');
  }

  private errorFor(what: string): Buffer {
    return errorReply(`ERR Kvstore: shard '${this.options.shard}' (${this.options.address}) ${what}`);
  }

  /* ---------- replies ---------- */

  /** Replies in chunk[from, stop): each to the next pending sink. */
  private onData(chunk: Buffer, from: number, stop: number): void {
    const partial = this.partial;
    let resumeAt = 0;
    let resumeOwed = 0;
    if (partial.active) {
      partial.append(chunk.subarray(from, stop));
      if (!partial.ready) return;
      chunk = partial.take();
      from = 0;
      stop = chunk.length;
      resumeAt = this.resumeAt;
      resumeOwed = this.resumeOwed;
    }
    this.lastReplyAt = this.clock.now();
    this.abandoned = null;
    // Views into the native read arena die with this call: sinks that keep replies get copies.
    const transient = isSharedReadBuffer(chunk);
    const hot = this.binding.hot;
    const ends = this.binding.replyEnds;
    const status = this.binding.replyStatus;
    while (from < stop) {
      const n = hot.frameReplies(chunk, from, stop, resumeAt, resumeOwed);
      resumeOwed = 0; // applies to the first call only
      const consumed = status[R_CONSUMED];
      const need = status[R_NEED];
      const broken = status[R_ERROR] !== 0;
      let start = from;
      const ring = this.ring;
      for (let i = 0; i < n; i++) {
        const end = ends[i];
        const head = ring.head;
        if (head === ring.tail) {
          this.fail('sent a reply nobody asked for');
          return;
        }
        const idx = head & ring.mask;
        const sink = ring.objs[idx]!;
        const tag = ring.ints[idx];
        ring.objs[idx] = null;
        ring.head = head + 1;
        try {
          if (sink.takesViews === true) sink.onReplyRange!(tag, chunk, start, end);
          else sink.onReply(tag, transient ? Buffer.from(chunk.subarray(start, end)) : chunk.subarray(start, end));
        } catch (err) {
          // The stream is still in step (the reply was framed): only this sink's request is hurt.
          this.sinkErrors++;
          this.log.error({ err, shard: this.shard }, 'a reply sink failed');
        }
        if (this.stream === null) return; // a sink failed us (AUTH rejected)
        start = end;
      }
      if (broken) {
        this.fail('sent a reply that is not RESP');
        return;
      }
      from += consumed;
      if (n === 0) {
        partial.keep(chunk.subarray(from, stop), need);
        this.resumeOwed = status[R_RESUME_OWED];
        this.resumeAt = status[R_RESUME_AT] - from; // relative to the kept tail
        break;
      }
    }
    if (this.waiters.size > 0) this.releaseWaiters();
  }

  /** Our own AUTH or HELLO 3 reply (tag -1). */
  onReply(_tag: number, reply: Buffer): void {
    if (isErrorReply(reply)) {
      const text = reply.toString('utf8', 1, reply.length - 2);
      this.fail(`rejected ${this.options.proto === 3 ? 'HELLO 3' : 'AUTH'}: ${text}`);
    }
  }

  private releaseWaiters(): void {
    if (this.waiters.size === 0 || this.congested) return;
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const w of waiters) w.resumeAfterBackendDrain();
  }
}

function describeSocketError(code: string): string {
  if (code === 'ECONNREFUSED') return 'refused the connection';
  if (code === 'ECONNRESET') return 'reset the connection';
  return /^E[A-Z0-9_]+$/.test(code) ? `connection error ${code}` : code;
}
