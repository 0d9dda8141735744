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
 * Memory (issue 12: ≤ 1 KB per idle client): an idle client is this object (16 fields, every one
 * a reference or a small integer: no boxed number), its stream, and nothing else. The three
 * stages (reader — which also keeps the stamps of the read being dispatched and SLOWLOG's request
 * log —, replies with their reply ring, flow control) are made on the first read and dropped again
 * by the worker's idle sweep (ProxyServer, once a second) when the client has nothing in flight
 * and was not read since the previous pass; the next read makes them anew. State most clients
 * never set (name, HELLO 3, READONLY, CLIENT NO-EVICT/NO-TOUCH, rate-limit buckets, transaction/blocking session, pub/sub,
 * written shards ≥ 30) is one side object (clients/SessionExtras.ts) made on the first change;
 * its accessors here read the defaults without it. Times are whole seconds, as Redis keeps them.
 * So a busy client allocates nothing per command, and 100k idle ones hold no per-command state.
 */
import { FENCED_SHARD } from '../topology/slots';
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
import { SessionExtras, WROTE_BITS } from './clients/SessionExtras';
import { helloSwitchesTo, runHello } from './ProxyCommands';

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
  /** Whole seconds since the epoch of the last read (a small integer: no number box per client). */
  private activeSec: number;
  /** Whole seconds since the epoch at accept (CLIENT LIST age, as Redis: seconds). */
  private readonly createdSec: number;
  /** Set with `user` by ctx.security (attach, AUTH, RESET, reload). */
  authed = false;
  user!: AclUser;
  /** GUARD_* bits: which per-command checks apply (0 = none, the common case). */
  guard = 0;
  readonly stream: ByteStream;
  private state = OPEN;
  /**
   * Bit 0: read since the last idle sweep (see sweepIdle). Above it, when the sweep dropped the
   * replies stage, the id + 2 of the last command the client sent (0: none), for CLIENT LIST's
   * `cmd`: one small integer, so an idle client still has 16 fields.
   */
  private activity = 0;
  // The stages, while the client is in use (null: idle, see the header).
  private stageReader: RequestReader | null = null;
  private stageReplies: ClientReplies | null = null;
  private stageFlow: FlowControl | null = null;
  /** Shards 0..WROTE_BITS-1 written since the last WAIT, as bits (higher shards: extras.wroteHigh). */
  private wroteBits = 0;
  /** State most clients never set (name, HELLO 3, READONLY, buckets, session, pub/sub): null until one does. */
  private extras: SessionExtras | null = null;

  constructor(
    open: OpenStream,
    readonly ctx: ProxyContext,
  ) {
    const now = ctx.clock.now();
    this.createdSec = Math.floor(now / 1000);
    this.activeSec = this.createdSec;
    ctx.security.attach(this, now);
    this.stream = open(this);
    this.applyIdleTimeout(ctx.config.timeouts.clientIdleMs);
  }

  /* ---------- session state: defaults without the extras object ---------- */

  private more(): SessionExtras {
    return this.extras ?? (this.extras = new SessionExtras());
  }

  /** When the client connected / last sent something, in ms since the epoch (whole seconds, as Redis keeps them). */
  get createdAt(): number {
    return this.createdSec * 1000;
  }

  get lastActive(): number {
    return this.activeSec * 1000;
  }

  get name(): string {
    const x = this.extras;
    return x === null ? '' : x.name;
  }

  set name(name: string) {
    if (this.extras !== null || name !== '') this.more().name = name;
  }

  get proto(): 2 | 3 {
    const x = this.extras;
    return x === null ? 2 : x.proto;
  }

  set proto(proto: 2 | 3) {
    if (this.extras !== null || proto !== 2) this.more().proto = proto;
  }

  get readOnly(): boolean {
    const x = this.extras;
    return x !== null && x.readOnly;
  }

  set readOnly(on: boolean) {
    if (this.extras !== null || on) this.more().readOnly = on;
  }

  /** CLIENT NO-EVICT / NO-TOUCH (shown in CLIENT LIST flags). */
  get noEvict(): boolean {
    const x = this.extras;
    return x !== null && x.noEvict;
  }

  set noEvict(on: boolean) {
    if (this.extras !== null || on) this.more().noEvict = on;
  }

  get noTouch(): boolean {
    const x = this.extras;
    return x !== null && x.noTouch;
  }

  set noTouch(on: boolean) {
    if (this.extras !== null || on) this.more().noTouch = on;
  }

  get rewriting(): boolean {
    const x = this.extras;
    return x !== null && x.rewriting;
  }

  set rewriting(on: boolean) {
    if (this.extras !== null || on) this.more().rewriting = on;
  }

  get bucket(): TokenBucket | null {
    const x = this.extras;
    return x === null ? null : x.bucket;
  }

  set bucket(bucket: TokenBucket | null) {
    if (this.extras !== null || bucket !== null) this.more().bucket = bucket;
  }

  get userBucket(): TokenBucket | null {
    const x = this.extras;
    return x === null ? null : x.userBucket;
  }

  set userBucket(bucket: TokenBucket | null) {
    if (this.extras !== null || bucket !== null) this.more().userBucket = bucket;
  }

  /** Transaction / blocking / WAIT state (src/proxy/dedicated/, made by the dispatcher); null when none. */
  get session(): DedicatedSession | null {
    const x = this.extras;
    return x === null ? null : x.session;
  }

  set session(session: DedicatedSession | null) {
    if (this.extras !== null || session !== null) this.more().session = session;
  }

  /** Pub/sub subscriptions (src/proxy/pubsub/), made on the first SUBSCRIBE; null when none. */
  get pubsub(): ClientSubscriptions | null {
    const x = this.extras;
    return x === null ? null : x.pubsub;
  }

  set pubsub(subs: ClientSubscriptions | null) {
    if (this.extras !== null || subs !== null) this.more().pubsub = subs;
  }

  /* ---------- CLIENT LIST / INFO (src/proxy/clients/ClientQuery.ts) ---------- */

  /** Commands queued since MULTI; -1 outside a transaction. */
  get multiQueued(): number {
    const session = this.session;
    return session === null ? -1 : session.multiQueued;
  }

  /** Waiting for a blocking command's reply or WAIT's, or held by CLIENT PAUSE (Redis: postponed, flag `b`). */
  get blocked(): boolean {
    const session = this.session;
    if (session !== null && session.holding) return true;
    const flow = this.stageFlow;
    return flow !== null && flow.pausedCommand >= 0;
  }

  /** The last command's name as Redis shows it (`client|list`); `NULL` when none (or unknown), as Redis. */
  get lastCommand(): string {
    const flow = this.stageFlow;
    if (flow !== null && flow.pausedCommand >= 0) return this.ctx.routes[flow.pausedCommand].name; // read, not yet run
    const replies = this.stageReplies;
    let id = replies === null ? -2 : replies.lastCommandId;
    if (id === -2) id = (this.activity >> 1) - 2;
    // Subscribed: -1 is a message's slot (or an unknown command): the subscriptions keep the command.
    const subs = this.pubsub;
    if (id === -1 && subs !== null) id = subs.lastCommand;
    return id >= 0 ? (this.ctx.routes[id]?.name ?? 'NULL') : 'NULL';
  }

  /* ---------- the read being dispatched (kept by the reader stage) ---------- */

  /** When the current read batch began (µs, src/observability): the start of its commands' latency. */
  get readAt(): number {
    const r = this.stageReader;
    return r === null ? 0 : r.readAt;
  }

  /** The command being dispatched: its offset in the read. */
  get cmdStart(): number {
    const r = this.stageReader;
    return r === null ? 0 : r.cmdStart;
  }

  set cmdStart(offset: number) {
    this.reader.cmdStart = offset;
  }

  get cmdEnd(): number {
    const r = this.stageReader;
    return r === null ? 0 : r.cmdEnd;
  }

  set cmdEnd(offset: number) {
    this.reader.cmdEnd = offset;
  }

  /** Read offset → request log offset (NaN: no request log). */
  get logDelta(): number {
    const r = this.stageReader;
    return r === null ? Number.NaN : r.logDelta;
  }

  /** The bytes of requests in flight, while SLOWLOG is on (null otherwise). */
  get requestLog(): RequestLog | null {
    const r = this.stageReader;
    return r === null ? null : r.requestLog;
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
   * True when it dropped some (the worker counts them for its memory trim).
   */
  sweepIdle(): boolean {
    if ((this.activity & 1) !== 0) {
      this.activity &= ~1;
      return false;
    }
    if (this.state !== OPEN || this.flushScheduled || this.session !== null) return false;
    const reader = this.stageReader;
    if (reader !== null && reader.holding) return false;
    const replies = this.stageReplies;
    if (replies !== null && (replies.inFlight !== 0 || !replies.repliesOn)) return false; // (CLIENT REPLY OFF|SKIP is state)
    if (this.pubsub !== null) return false;
    const flow = this.stageFlow;
    if (flow !== null && flow.paused !== 0) return false;
    if (reader === null && replies === null && flow === null) return false;
    if (replies !== null && replies.lastCommandId >= -1) this.activity = (replies.lastCommandId + 2) * 2;
    this.stageReader = null; // with it SLOWLOG's request log, which keeps requests in flight only: none
    this.stageReplies = null;
    this.stageFlow = null;
    return true;
  }

  /* ---------- stream events ---------- */

  onStreamData(chunk: Buffer, start: number, end: number): void {
    this.activeSec = Math.floor(turnNow() / 1000);
    const fence = this.ctx.fence;
    if (fence.deadline !== 0) fence.check(); // a fleet proxy only: one clock read per read (LeaseFence)
    this.activity |= 1;
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
    const reader = this.reader;
    reader.readAt = turnMicros();
    if (this.ctx.observe.keepsRequests) {
      const replies = this.stageReplies;
      const idle = replies === null || replies.inFlight === 0;
      const log = (reader.requestLog ??= new RequestLog());
      reader.logDelta = log.reserve(from, stop, idle, idle ? Number.NaN : replies.oldestRef);
      // The read's parse call copies it into the room made (RequestReader.process).
      if (!Number.isNaN(reader.logDelta)) reader.keepReadIn(log.bytes!, log.reservedAt);
    } else if (reader.requestLog !== null) {
      reader.requestLog = null;
      reader.logDelta = Number.NaN;
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

  holdForPause(commandId: number): void {
    const flow = this.flow;
    flow.redo = true; // the command itself runs first when reading restarts
    flow.pausedCommand = commandId;
    flow.pause(PAUSE_CLIENTS);
    this.ctx.clientDirectory.hold(this);
  }

  holdForFence(): void {
    this.flow.redo = true;
    this.flow.pause(PAUSE_CLIENTS);
  }

  resumeAfterPause(): void {
    const flow = this.flow;
    flow.pausedCommand = -1;
    flow.resume(PAUSE_CLIENTS);
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
    if (shard < WROTE_BITS) {
      this.wroteBits |= 1 << shard;
      return;
    }
    if (shard >= FENCED_SHARD) return; // refused, not written (LeaseFence)
    const extras = this.more();
    let high = extras.wroteHigh;
    if (high === null || shard - WROTE_BITS >= high.length) {
      const grown = new Uint8Array(Math.max(64, shard - WROTE_BITS + 1));
      if (high !== null) grown.set(high);
      high = extras.wroteHigh = grown;
    }
    high[shard - WROTE_BITS] = 1;
  }

  takeWrittenShards(): number[] {
    const out: number[] = [];
    const bits = this.wroteBits;
    for (let i = 0; i < WROTE_BITS; i++) if ((bits & (1 << i)) !== 0) out.push(i);
    this.wroteBits = 0;
    const high = this.extras === null ? null : this.extras.wroteHigh;
    if (high !== null) {
      for (let i = 0; i < high.length; i++) if (high[i] !== 0) out.push(WROTE_BITS + i);
      high.fill(0);
    }
    return out;
  }

  /** HELLO queued in MULTI, run at EXEC (src/proxy/dedicated/helloInMulti.ts). */
  hello(args: Buffer[]): Buffer {
    return runHello(this, this.ctx, args);
  }

  helloSwitchesTo(args: Buffer[]): 0 | 2 | 3 {
    return helloSwitchesTo(this, this.ctx, args);
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
