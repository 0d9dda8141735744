/**
 * One client connection's life: open → reading → closing (replies still owed) → closed. It owns
 * the session state (id, name, AUTH) and wires the stages together:
 *
 *   stream (src/proxy/io) → RequestReader (frame, partial tail, deferred commands)
 *     → Dispatcher (checks, then a handler per routing class) → backends / fan-out / split /
 *       proxy commands, each answering a sequence number
 *     → ClientReplies (request order, into the stream's output) → flush once per turn
 *   FlowControl decides when reading stops and restarts.
 *
 * The stream and the clock are injected (real: an accepted socket and the system clock; unit
 * tests: test/helpers/fakeIo.ts).
 *
 * Memory: an idle client is this object and its stream. The three stages (reader, replies with
 * their reply ring, flow control) and the SLOWLOG request log (4 KiB and more) are made on the
 * first read and dropped again by the worker's
 * idle sweep (ProxyServer, once a second) when the client has nothing in flight and was not read
 * since the previous pass; the next read makes them anew. So a busy client allocates nothing per
 * command, and 100k idle ones hold no per-command state (every field here is 8 bytes per client).
 */
import { ClientReplies } from './ClientReplies';
import { errorReply } from './ErrorReply';
import { FlowControl, PAUSE_BARRIER, PAUSE_CLIENTS, PAUSE_CLOSING, PAUSE_HELD, PAUSE_OUTPUT } from './FlowControl';
import { allocateClientId, localSequence } from './clients/ClientQuery';
import { scheduleFlush, Flushable, turnNow } from './FlushScheduler';
import { DispatchClient, forwardToShard } from './Forwarding';
import type { ByteStream, StreamHandler } from './io';
import type { ClientInfo, ProxyContext, ProxyLimits } from './ProxyContext';
import type { ReplySink } from './ReplySink';
import { ReaderHost, RequestReader } from './RequestReader';
import type { AclUser } from '../security/AclUser';
import type { TokenBucket } from '../observability/TokenBucket';
import { RequestLog } from '../observability/RequestLog';
import { turnMicros } from './FlushScheduler';
import type { DedicatedSession } from './dedicated/DedicatedSession';
import type { SessionClient } from './dedicated/types';
import type { ClientSubscriptions } from './pubsub/PubSubHub';

/** Opens the client's stream with the connection as its event handler. */
export type OpenStream = (handler: StreamHandler) => ByteStream;

const INTERNAL_ERROR = errorReply('ERR Kvstore internal error; closing the connection');
/** After FIN, how long the peer has to close before the stream is destroyed. */
const CLOSE_GRACE_MS = 1000;

const OPEN = 0;
/** No more reading; closes once every reply owed is written. */
const CLOSING = 1;
const CLOSED = 2;


export class ClientConnection implements DispatchClient, ReaderHost, ClientInfo, StreamHandler, Flushable, SessionClient {
  flushScheduled = false;
  readonly id = allocateClientId();
  /** When this client last sent something (CLIENT LIST idle; one clock read per read). */
  lastActive: number;
  readonly createdAt: number;
  name = '';
  proto: 2 | 3 = 2;
  /** Set with `user` by ctx.security (attach, AUTH, RESET, reload). */
  authed = false;
  user!: AclUser;
  /** GUARD_* bits: which per-command checks apply (0 = none, the common case). */
  guard = 0;
  bucket: TokenBucket | null = null;
  userBucket: TokenBucket | null = null;
  /** When the current read batch began (µs, src/observability): the start of its commands' latency. */
  readAt = 0;
  /** The command being dispatched: where it is in the read, and read offset → request log offset. */
  cmdStart = 0;
  cmdEnd = 0;
  logDelta = Number.NaN;
  /** The bytes of requests in flight, while SLOWLOG is on (null otherwise). */
  requestLog: RequestLog | null = null;
  readOnly = false;
  noEvict = false;
  noTouch = false;
  rewriting = false;
  readonly stream: ByteStream;
  private state = OPEN;
  /** Read since the last idle sweep (see sweepIdle). */
  private active = false;
  // The stages, while the client is in use (null: idle, see the header).
  private stageReader: RequestReader | null = null;
  private stageReplies: ClientReplies | null = null;
  private stageFlow: FlowControl | null = null;
  /** Transaction / blocking / WAIT state (src/proxy/dedicated/, made by the dispatcher); null when none. */
  session: DedicatedSession | null = null;
  /** Shards written to since the last WAIT (1 = written), allocated on the first write. */
  private wrote: Uint8Array | null = null;
  /** Pub/sub subscriptions (src/proxy/pubsub/), allocated on the first SUBSCRIBE; null when none. */
  pubsub: ClientSubscriptions | null = null;

  constructor(
    open: OpenStream,
    readonly ctx: ProxyContext,
  ) {
    this.createdAt = ctx.clock.now();
    this.lastActive = this.createdAt;
    ctx.security.attach(this, this.createdAt);
    this.stream = open(this);
    this.applyIdleTimeout(ctx.config.timeouts.clientIdleMs);
  }

  /* ---------- stages: made on use, dropped when idle ---------- */

  get reader(): RequestReader {
    return this.stageReader ?? (this.stageReader = new RequestReader(this));
  }

  get replies(): ClientReplies {
    return this.stageReplies ?? (this.stageReplies = new ClientReplies(this));
  }

  get flow(): FlowControl {
    return this.stageFlow ?? (this.stageFlow = new FlowControl(this));
  }

  /**
   * The worker's idle sweep: a client read since the last pass stays as it is; one that was not,
   * with nothing in flight, nothing kept by its reader and reading not stopped, drops its stages.
   */
  sweepIdle(): void {
    if (this.active) {
      this.active = false;
      return;
    }
    if (this.state !== OPEN || this.flushScheduled || this.session !== null) return;
    const reader = this.stageReader;
    if (reader !== null && reader.holding) return;
    const replies = this.stageReplies;
    if (replies !== null && (replies.inFlight !== 0 || !replies.repliesOn)) return; // (CLIENT REPLY OFF|SKIP is state)
    if (this.pubsub !== null) return;
    const flow = this.stageFlow;
    if (flow !== null && flow.paused !== 0) return;
    this.stageReader = null;
    this.stageReplies = null;
    this.stageFlow = null;
    this.requestLog = null; // (SLOWLOG) it keeps requests in flight only: none
  }

  /* ---------- stream events ---------- */

  onStreamData(chunk: Buffer, start: number, end: number): void {
    this.lastActive = turnNow();
    const fence = this.ctx.fence;
    if (fence.deadline !== 0) fence.check(); // a fleet proxy only: one clock read per read (LeaseFence)
    this.active = true;
    try {
      this.reader.onData(chunk, start, end);
    } catch (err) {
      this.internalError(err);
    }
  }

  onStreamDrain(): void {
    this.stageFlow?.resume(PAUSE_OUTPUT);
  }

  /**
   * The client half-closed (`printf ... | nc`): answer what it sent, then close. Blocked (BLPOP,
   * WAIT): gone for good, as Redis sees it (it frees a client at EOF), so the server unblocks.
   */
  onStreamEnd(): void {
    if (this.session !== null && this.session.holding) return this.destroy();
    if (this.state === OPEN) this.endAfterReplies();
  }

  onStreamConnect(): void {
    // accepted streams are connected from the start
  }

  onStreamClose(): void {
    if (this.state === CLOSED) return;
    this.state = CLOSED;
    this.endSession();
    this.dropStages();
    this.requestLog = null;
    this.ctx.clientClosed(this);
  }

  /** Idle for `timeouts.clientIdleMs`: close, unless replies are still owed or it is subscribed (as Redis: no timeout for pub/sub clients). */
  onStreamTimeout(): void {
    if (this.inFlight === 0 && this.pubsub === null) this.stream.destroy();
  }

  /** Close after `ms` without traffic (0 = never); live on config reload. */
  applyIdleTimeout(ms: number): void {
    this.stream.setIdleTimeout(ms);
  }

  /* ---------- state ---------- */

  /** "address:port" of the client, asked of the stream when needed (an idle client keeps no address string). */
  get remote(): string {
    return this.stream.remote;
  }

  /**
   * Which connection of each backend pool (and which replica) this client is pinned to: the
   * worker-local sequence number (the id's low bits name the worker, the same for all its clients).
   */
  get poolIndex(): number {
    return localSequence(this.id);
  }

  /** Served through the addon's sockets (not net.Socket). */
  get nativeIo(): boolean {
    return this.stream.kind === 'native';
  }

  get inFlight(): number {
    const replies = this.stageReplies;
    return replies === null ? 0 : replies.inFlight;
  }


  get isClosed(): boolean {
    return this.state === CLOSED;
  }

  get reading(): boolean {
    return this.state === OPEN;
  }

  get limits(): ProxyLimits {
    return this.ctx.config.limits;
  }

  /** For shutdown: nothing in flight. */
  get idle(): boolean {
    return this.inFlight === 0;
  }

  /** A read (or deferred commands) is about to be dispatched: one clock read per batch, the request log. */
  beforeRead(chunk: Buffer, from: number, stop: number): void {
    this.readAt = turnMicros();
    if (this.ctx.observe.keepsRequests) this.logDelta = (this.requestLog ??= new RequestLog()).add(chunk, from, stop, this.inFlight === 0);
    else if (this.requestLog !== null) {
      this.requestLog = null;
      this.logDelta = Number.NaN;
    }
  }

  /* ---------- ReplyTarget / DispatchClient ---------- */

  onReply(seq: number, reply: Buffer): void {
    this.stageReplies?.onReply(seq, reply); // (none: closed, nothing owed)
  }

  forwardTo(shardIndex: number, command: Buffer, tag: number, sink: ReplySink = this.replies, start = 0, end = command.length): void {
    forwardToShard(this, shardIndex, command, tag, sink, start, end);
  }

  reserve(id: number): number {
    return this.replies.reserve(id);
  }

  commandName(seq: number): string | null {
    return this.stageReplies?.commandName(seq) ?? null;
  }

  get reserveNext(): number {
    return this.replies.nextSeq;
  }

  replyNow(id: number, reply: Buffer): void {
    this.replies.onReply(this.replies.reserve(id), reply);
  }

  mapReplyOf(seq: number, map: (reply: Buffer) => Buffer): void {
    this.replies.mapReplyOf(seq, map);
  }

  readDeferred(): void {
    this.stageReader?.readDeferred();
  }

  /* ---------- writing ---------- */

  outputAdded(): void {
    scheduleFlush(this);
  }

  /** Once per turn with output: write it, then let flow control look at what is still queued. */
  flush(): void {
    if (this.state === CLOSED) return;
    const queued = this.stream.flush();
    if (this.pubsub !== null && this.ctx.pubsub.checkOutput(this, queued)) return; // cut off: over the pub/sub output limit
    if (this.state === CLOSING && this.inFlight === 0) return this.finishClose();
    this.flow.afterFlush(queued);
  }

  /* ---------- ending ---------- */

  /** Reply `reply` after every earlier reply, then close this client only (Redis's behaviour). */
  protocolError(reply: Buffer): void {
    this.ctx.counters.protocolErrors++;
    this.replyNow(-1, reply);
    this.endAfterReplies();
  }

  /** QUIT, protocol errors, FIN: stop reading, close once every reply has been written. */
  endAfterReplies(): void {
    if (this.state === CLOSED) return;
    this.state = CLOSING;
    this.stageReader?.clear();
    this.flow.pause(PAUSE_CLOSING);
    scheduleFlush(this);
  }

  /** Shutdown: no more commands from this client. */
  stopReading(): void {
    this.flow.pause(PAUSE_CLOSING);
  }

  /* ---------- CLIENT REPLY / PAUSE / KILL ---------- */

  setReplyMode(mode: number, seq: number): void {
    this.replies.setMode(mode, seq);
  }

  holdForPause(): void {
    this.flow.redo = true; // the command itself runs first when reading restarts
    this.flow.pause(PAUSE_CLIENTS);
    this.ctx.clientDirectory.hold(this);
  }

  resumeAfterPause(): void {
    this.flow.resume(PAUSE_CLIENTS);
  }

  /** Close now (shutdown after drain). */
  destroy(): void {
    this.stream.destroy();
  }

  /** CLIENT KILL from another client: closed outside the killer's read batch. */
  kill(): void {
    this.ctx.clock.setTimeout(() => this.destroy(), 0);
  }

  /* ---------- dedicated connection states (src/proxy/dedicated/) ---------- */

  /** Blocked, WAIT, EXEC pending: later commands wait (the socket is still read). */
  hold(): void {
    this.flow.pause(PAUSE_HELD);
  }

  unhold(): void {
    this.flow.resume(PAUSE_HELD);
  }

  /** Every reply owed is out: a command waiting at a barrier may run now. */
  repliesDrained(): void {
    this.stageFlow?.resume(PAUSE_BARRIER);
  }

  noteWrite(shard: number): void {
    let wrote = this.wrote;
    if (wrote === null || shard >= wrote.length) {
      const grown = new Uint8Array(Math.max(64, shard + 1));
      if (wrote !== null) grown.set(wrote);
      wrote = this.wrote = grown;
    }
    wrote[shard] = 1;
  }

  takeWrittenShards(): number[] {
    const wrote = this.wrote;
    if (wrote === null) return [];
    const out: number[] = [];
    for (let i = 0; i < wrote.length; i++) if (wrote[i] !== 0) out.push(i);
    wrote.fill(0);
    return out;
  }

  /** The client is gone: blocked → its dedicated connection closes; a transaction is cleaned up. */
  private endSession(): void {
    if (this.pubsub !== null) this.ctx.pubsub.dropClient(this);
    const session = this.session;
    if (session === null) return;
    this.session = null;
    this.ctx.dedicated.unregister(this.id);
    session.clientClosed();
  }

  /**
   * A bug reached this client's read path: it costs this client its connection, not the worker
   * all of its clients. The error is the last reply (after those owed); the stream is destroyed
   * after a grace period whatever happens.
   */
  private internalError(err: unknown): void {
    this.ctx.log.error({ err, client: this.id }, 'client dispatch failed');
    if (this.state === CLOSED) return;
    const stream = this.stream;
    try {
      if (this.state === OPEN) this.replyNow(-1, INTERNAL_ERROR);
      this.endAfterReplies();
    } catch {
      stream.append(INTERNAL_ERROR);
      stream.end();
    }
    this.ctx.clock.setTimeout(() => stream.destroy(), CLOSE_GRACE_MS);
  }

  private finishClose(): void {
    const stream = this.stream;
    this.state = CLOSED;
    this.endSession();
    stream.end();
    this.ctx.clock.setTimeout(() => stream.destroy(), CLOSE_GRACE_MS);
    this.dropStages();
    this.requestLog = null;
    this.ctx.clientClosed(this);
  }

  /** Closed: forget whatever the stages kept. */
  private dropStages(): void {
    this.stageReader?.clear();
    this.stageReplies?.clear();
    this.stageReader = null;
    this.stageReplies = null;
  }
}
