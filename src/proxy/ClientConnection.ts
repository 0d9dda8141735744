/**
 * One client socket: read → frame (hot path, once per read) → dispatch each command → collect
 * replies in request order → write.
 *
 * Order: every command takes the next sequence number and a slot in a reply ring. The reply for
 * the oldest outstanding request is copied straight into the stream's output, followed by any
 * later replies already parked in the ring; a reply that arrives early is copied into its slot.
 * `flush` (once per event-loop turn) writes the output. So the client sees replies in request
 * order whatever order the shards answer in.
 *
 * The per-command path allocates nothing: the parse results live in shared typed arrays,
 * commands and in-order replies are copied as byte ranges into the streams' output buffers, and
 * backends keep (sink, tag) pairs. Bytes read are only valid during onStreamData
 * (src/proxy/io): whatever outlives it is copied.
 */
import net from 'node:net';
import {
  ARG_STRIDE, C_ARG0, C_ARGC, C_CMD, C_END, C_FLAGS, C_KEY0, C_NKEYS, C_SLOT, C_START, CMD_STRIDE, CMD_UNKNOWN,
  F_BAD_KEYS, F_NEEDS_DECODE, KEY_STRIDE, protocolErrorText, ProtocolErrorCode, S_CONSUMED, S_ERROR, S_FULL,
  S_GROW_ARGS, S_NCMDS, S_NEED, SLOT_CROSS, SLOT_NONE,
} from '../native/api';
import { S_ERROR_BYTE } from '../native/api';
import { NO_SHARD } from '../topology/slots';
import { PartialInput } from './PartialInput';
import type { BackendConnection, CongestionWaiter } from './BackendConnection';
import { CommandRoute, Route } from './CommandRoutes';
import { fanOut } from './FanOut';
import { scheduleFlush, Flushable } from './FlushScheduler';
import type { ShardAccess, SlowCommand } from './Hooks';
import { runProxyCommand } from './ProxyCommands';
import type { ClientInfo, ProxyContext } from './ProxyContext';
import type { ReplySink } from './ReplySink';
import { errorReply } from './Resp';
import { encodeCommand } from '../resp';
import { ERRORS, unknownCommandError, unknownSubcommandError } from './ReplyTexts';
import { splitAcrossShards } from './SplitMerge';
import { acceptedStream, ByteStream, StreamHandler } from './io';
import { ClientSession, Outcome, SessionClient, SessionCommand } from './dedicated/ClientSession';
import { WRITES } from './dedicated/commandKinds';

const PAUSE_PIPELINE = 1;
const PAUSE_OUTPUT = 2;
const PAUSE_BACKEND = 4;
const PAUSE_CLOSING = 8;
/**
 * Blocked in a blocking command or WAIT: later commands wait, as on Redis. The socket is still
 * read (into `deferred`), so a client that disconnects while blocked is seen at once.
 */
const PAUSE_HELD = 16;
/**
 * A command for a dedicated connection waits until this client's earlier commands (on shared
 * connections) are answered: one Redis connection runs a client's commands in order, and a
 * transaction or blocking command must not overtake them. The socket is still read.
 */
const PAUSE_BARRIER = 32;
/** Reasons that stop reading the socket. */
const STREAM_PAUSES = ~(PAUSE_HELD | PAUSE_BARRIER);
/** Input kept while held beyond which the socket is no longer read. */
const HELD_INPUT_MAX = 1 << 20;

let nextClientId = 1;

export class ClientConnection implements ReplySink, Flushable, CongestionWaiter, ClientInfo, StreamHandler, SessionClient {
  flushScheduled = false;
  /** In-order replies are copied into the output at once; early ones are copied into the ring. */
  readonly takesViews = true;
  readonly id = nextClientId++;
  readonly createdAt = Date.now();
  readonly remote: string;
  name = '';
  authed: boolean;
  /** Which connection of each backend pool this client is pinned to. */
  readonly poolIndex: number;

  // Reply ring: replies (null = not yet answered) and command ids, by sequence number & mask.
  private ring: (Buffer | null)[];
  private ringIds: Int32Array;
  private mask: number;
  private head = 0;
  private tail = 0;

  private readonly partial = new PartialInput();

  private paused = 0;
  /** Commands read but not dispatched yet (paused mid-chunk). */
  private deferred: Buffer | null = null;
  private processingDeferred = false;
  private closed = false;
  private closeAfterFlush = false;

  private readonly stream: ByteStream;
  /** Transaction / blocking / WAIT state (src/proxy/dedicated/); null when there is none. */
  private session: ClientSession | null = null;
  /** The command being dispatched waits at a barrier and is dispatched again on resume. */
  private redo = false;
  /** Shards written to since the last WAIT (1 = written), allocated on the first write. */
  private wrote: Uint8Array | null = null;

  constructor(
    socket: net.Socket,
    private readonly ctx: ProxyContext,
  ) {
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.authed = ctx.config.password === '';
    this.poolIndex = this.id;
    const cap = 64;
    this.ring = new Array(cap).fill(null);
    this.ringIds = new Int32Array(cap);
    this.mask = cap - 1;
    this.stream = acceptedStream(socket, this, ctx.nativeIo);
    this.applyIdleTimeout(ctx.config.timeouts.clientIdleMs);
  }

  /* ---------- stream events ---------- */

  onStreamData(chunk: Buffer, start: number, end: number): void {
    try {
      this.onData(chunk, start, end);
    } catch (err) {
      // A bug must cost this client its connection, not the worker all of its clients.
      this.ctx.log.error({ err, client: this.id }, 'client dispatch failed');
      this.closeAfterFlush = true;
      this.stream.append(errorReply('ERR Kvstore internal error; closing the connection'));
      this.stream.end();
      const stream = this.stream;
      setTimeout(() => stream.destroy(), 1000).unref();
    }
  }

  onStreamDrain(): void {
    this.resume(PAUSE_OUTPUT);
  }

  /** The client half-closed (`printf ... | nc`): answer what it sent, then close. */
  onStreamEnd(): void {
    // Blocked: gone for good, as Redis sees it (it frees a client at EOF); the server unblocks.
    if (this.session !== null && this.session.holding) return this.destroy();
    if (!this.closed && !this.closeAfterFlush) this.endAfterReplies();
  }

  onStreamConnect(): void {
    // accepted streams are connected from the start
  }

  onStreamClose(): void {
    this.onClose();
  }

  onStreamTimeout(): void {
    if (this.head === this.tail) this.stream.destroy();
  }

  /** Close after `ms` without traffic (0 = never); live on config reload. */
  applyIdleTimeout(ms: number): void {
    this.stream.setIdleTimeout(ms);
  }

  /** Served through the addon's sockets (not net.Socket). */
  get nativeIo(): boolean {
    return this.stream.kind === 'native';
  }

  get inFlight(): number {
    return this.tail - this.head;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /* ---------- reading ---------- */

  private onData(chunk: Buffer, start: number, end: number): void {
    if (this.closed || this.closeAfterFlush) return;
    if (this.deferred !== null) {
      // Paused mid-chunk and more arrived anyway: keep it (copied) behind the deferred commands.
      this.deferred = Buffer.concat([this.deferred, chunk.subarray(start, end)]);
      if (this.deferred.length > HELD_INPUT_MAX) this.stream.pause();
      return;
    }
    const partial = this.partial;
    if (partial.active) {
      partial.append(chunk.subarray(start, end));
      if (!partial.ready) return;
      chunk = partial.take();
      start = 0;
      end = chunk.length;
    } else if (this.paused !== 0) {
      // Read in the same turn as the pause (reads are delivered in batches): keep it for resume.
      this.deferred = Buffer.from(chunk.subarray(start, end));
      return;
    }
    this.process(chunk, start, end);
  }

  /**
   * Frame and dispatch the commands in chunk[from, stop). Stops early, keeping the rest in
   * `deferred`, when the client has maxPipeline commands in flight, its unsent output is above
   * the high-water mark, or a backend it feeds is congested: backpressure per command, not per
   * read.
   */
  private process(chunk: Buffer, from: number, stop: number): void {
    const limits = this.ctx.config.limits;
    const binding = this.ctx.binding;
    binding.useEngineOptions(this.ctx.engine);
    const hot = binding.hot;
    for (;;) {
      hot.parseRequests(chunk, from, stop);
      const status = binding.batch.status;
      const n = status[S_NCMDS];
      let next = from + status[S_CONSUMED];
      let reparsed = false;
      const cmds = binding.batch.cmds;
      for (let i = 0; i < n; i++) {
        const end = cmds[i * CMD_STRIDE + C_END];
        if (this.dispatch(chunk, i)) {
          // A re-encoded command was parsed into the shared batch: parse again after this one.
          next = end;
          reparsed = true;
        }
        if (this.closed || this.closeAfterFlush) return;
        if (this.paused !== 0 || this.tail - this.head >= limits.maxPipeline) {
          // At a barrier the command itself waits (it was not dispatched).
          const rest = this.redo ? cmds[i * CMD_STRIDE + C_START] : end;
          this.redo = false;
          if (rest < stop) this.deferred = Buffer.from(chunk.subarray(rest, stop)); // outlives the read
          if (this.tail - this.head >= limits.maxPipeline) this.pause(PAUSE_PIPELINE);
          else if ((this.paused & STREAM_PAUSES) !== 0) this.stream.pause(); // already paused for output or a backend: keep it so
          return;
        }
        if (reparsed) break;
      }
      if (reparsed) {
        from = next;
        if (from >= stop) break;
        continue;
      }
      from = next;
      const error = status[S_ERROR];
      if (error !== ProtocolErrorCode.None) {
        return this.protocolError(protocolErrorText(error, error === ProtocolErrorCode.ExpectedDollar ? byteInsteadOfDollar(chunk.subarray(0, stop), from) : 0));
      }
      const grow = status[S_GROW_ARGS];
      if (grow > 0) {
        binding.growArgs(grow);
        continue;
      }
      if (status[S_FULL] !== 0 && from < stop) continue;
      if (from < stop) {
        const need = status[S_NEED];
        if (need > limits.maxRequestBytes || stop - from > limits.maxRequestBytes) return this.requestTooLarge();
        this.partial.keep(chunk.subarray(from, stop), need);
      }
      break;
    }
  }

  /**
   * Route command `i` of the current batch. Returns true when it had to re-encode the command
   * and parse it again (inline with quotes, key rewrite), which overwrote the batch arrays.
   */
  private dispatch(chunk: Buffer, i: number): boolean {
    const ctx = this.ctx;
    const batch = ctx.binding.batch;
    const cmds = batch.cmds;
    const base = i * CMD_STRIDE;
    const id = cmds[base + C_CMD];
    const flags = cmds[base + C_FLAGS];
    if ((flags & F_NEEDS_DECODE) !== 0) return this.reparseInline(chunk, base);
    ctx.counters.totalCommands++;
    if (id === CMD_UNKNOWN) {
      this.session?.queueError();
      this.replyNow(-1, unknownCommandError(this.argsOf(chunk, base)));
      return false;
    }
    const route = ctx.routes[id];
    const argc = cmds[base + C_ARGC];
    if (route.isContainer && argc >= 2) {
      // The parser found no such subcommand: Redis's own reply.
      this.session?.queueError();
      this.replyNow(id, unknownSubcommandError(route.name, this.argsOf(chunk, base)[1]));
      return false;
    }
    if (!route.arityOk(argc)) {
      this.session?.queueError();
      this.replyNow(id, route.arityError);
      return false;
    }
    if (!this.authed && !route.noAuth) {
      this.replyNow(id, ERRORS.noAuth);
      return false;
    }
    ctx.calls[id]++;
    if (this.session !== null || route.route === Route.Dedicated) {
      if (this.head !== this.tail && (this.session === null || this.session.needsBarrier(route))) {
        ctx.counters.totalCommands--;
        ctx.calls[id]--;
        this.redo = true;
        this.pause(PAUSE_BARRIER);
        return false;
      }
      const outcome = this.toSession(chunk, base, route);
      if (outcome === Outcome.Handled) return false;
      if (outcome === Outcome.Rewrite) return this.slowPath(chunk, base, route);
    }
    switch (route.route) {
      case Route.Single:
      case Route.SameSlot:
      case Route.Dedicated: // XREAD / XREADGROUP without BLOCK
        return this.forwardKeyed(chunk, base, route, flags);
      case Route.Split: {
        if (this.needsSlowPath(chunk, base)) return this.slowPath(chunk, base, route);
        const slot = cmds[base + C_SLOT];
        if (slot >= 0 || cmds[base + C_NKEYS] <= 1) return this.forwardKeyed(chunk, base, route, flags);
        if (this.allKeysOnOneShard(base) >= 0) return this.forwardKeyed(chunk, base, route, flags, true);
        if (WRITES[id] !== 0) this.noteWrites(base);
        splitAcrossShards(this, ctx, chunk, i, this.reserve(id));
        return false;
      }
      case Route.NoKey:
        this.forwardTo(ctx.router.keylessShard, chunk.subarray(cmds[base + C_START], cmds[base + C_END]), this.reserve(id));
        return false;
      case Route.Proxy:
        runProxyCommand(this, ctx, route, this.argsOf(chunk, base), this.reserve(id));
        return false;
      case Route.AllShards:
        fanOut(this, ctx, route, this.argsOf(chunk, base), Buffer.from(chunk.subarray(cmds[base + C_START], cmds[base + C_END])), this.reserve(id));
        return false;
      default:
        this.replyNow(id, route.refusal!);
        return false;
    }
  }

  /** Single-key and same-slot commands: one shard, bytes forwarded untouched. */
  private forwardKeyed(chunk: Buffer, base: number, route: CommandRoute, flags: number, shardChecked = false): boolean {
    const ctx = this.ctx;
    const cmds = ctx.binding.batch.cmds;
    const slot = cmds[base + C_SLOT];
    let shard: number;
    if (slot >= 0) shard = ctx.router.slotTable[slot];
    else if (slot === SLOT_NONE || (flags & F_BAD_KEYS) !== 0) shard = ctx.router.keylessShard;
    else {
      // SLOT_CROSS: Redis Cluster's rule, or the relaxed same-shard rule when configured.
      shard = shardChecked || ctx.config.crossSlot === 'shard' ? this.allKeysOnOneShard(base) : -1;
      if (shard < 0) {
        this.replyNow(route.id, ERRORS.crossSlot);
        return false;
      }
    }
    if (this.needsSlowPath(chunk, base)) return this.slowPath(chunk, base, route);
    if (WRITES[route.id] !== 0) this.noteWrite(shard);
    this.forwardTo(shard, chunk, this.reserve(route.id), this, cmds[base + C_START], cmds[base + C_END]);
    return false;
  }

  /* ---------- dedicated connection states (src/proxy/dedicated/) ---------- */

  /** Offer command `base` to the session (created on first need, dropped when idle). */
  private toSession(chunk: Buffer, base: number, route: CommandRoute): Outcome {
    const ctx = this.ctx;
    let session = this.session;
    if (session === null) {
      session = this.session = new ClientSession(this, ctx, ctx.dedicated);
      ctx.dedicated.register(this.id, session);
    }
    const cmds = ctx.binding.batch.cmds;
    const slot = cmds[base + C_SLOT];
    const command: SessionCommand = {
      route,
      chunk,
      start: cmds[base + C_START],
      end: cmds[base + C_END],
      slot,
      keysShard: slot === SLOT_CROSS ? this.allKeysOnOneShard(base) : -1,
      migrating: this.keysMigrating(base),
      needsRewrite: this.keysNeedRewrite(chunk, base),
      args: () => this.argsOf(chunk, base),
    };
    const outcome = session.dispatch(command);
    if (session.idle && this.session === session) {
      this.session = null;
      ctx.dedicated.unregister(this.id);
    }
    return outcome;
  }

  hold(): void {
    this.pause(PAUSE_HELD);
  }

  unhold(): void {
    this.resume(PAUSE_HELD);
  }

  private noteWrite(shard: number): void {
    const wrote = (this.wrote ??= new Uint8Array(Math.max(64, this.ctx.router.shards.length)));
    if (shard < wrote.length) wrote[shard] = 1;
    else {
      this.wrote = new Uint8Array(shard + 1);
      this.wrote.set(wrote);
      this.wrote[shard] = 1;
    }
  }

  /** A split write (MSET, DEL, ...): every shard its keys are on. */
  private noteWrites(base: number): void {
    const ctx = this.ctx;
    const cmds = ctx.binding.batch.cmds;
    const keys = ctx.binding.batch.keys;
    const k0 = cmds[base + C_KEY0];
    for (let k = 0; k < cmds[base + C_NKEYS]; k++) {
      const shard = ctx.router.slotTable[keys[(k0 + k) * KEY_STRIDE + 1]];
      if (shard !== NO_SHARD) this.noteWrite(shard);
    }
  }

  takeWrittenShards(): number[] {
    const wrote = this.wrote;
    if (wrote === null) return [];
    const out: number[] = [];
    for (let i = 0; i < wrote.length; i++) if (wrote[i] !== 0) out.push(i);
    wrote.fill(0);
    return out;
  }

  private endSession(): void {
    const session = this.session;
    if (session === null) return;
    this.session = null;
    this.ctx.dedicated.unregister(this.id);
    session.clientClosed();
  }

  /** Send command[start, end) to shard `shardIndex`; its reply completes sequence `seq`. */
  forwardTo(shardIndex: number, command: Buffer, seq: number, sink: ReplySink = this, start = 0, end = command.length): void {
    const shards = this.ctx.router.shards;
    if (shardIndex === NO_SHARD || shardIndex >= shards.length) {
      sink.onReply(seq, shards.length === 0 ? ERRORS.noShards : ERRORS.slotNotServed);
      return;
    }
    const shard = shards[shardIndex];
    if (shard.downReply !== null) {
      sink.onReply(seq, shard.downReply);
      return;
    }
    const backend = shard.backend(this.poolIndex);
    if (!backend.send(command, sink, seq, start, end)) this.pauseForBackend(backend);
  }

  /** The shard all keys of command `base` live on, or -1 if they span shards. */
  private allKeysOnOneShard(base: number): number {
    const ctx = this.ctx;
    const cmds = ctx.binding.batch.cmds;
    const keys = ctx.binding.batch.keys;
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

  /* ---------- slow paths: seams, inline with quotes ---------- */

  /** A key of command `base` is in a migrating slot (slow paths only). */
  private keysMigrating(base: number): boolean {
    const ctx = this.ctx;
    if (!ctx.router.migrationsActive) return false;
    const cmds = ctx.binding.batch.cmds;
    const keys = ctx.binding.batch.keys;
    const k0 = cmds[base + C_KEY0];
    for (let k = 0; k < cmds[base + C_NKEYS]; k++) if (ctx.router.migrating[keys[(k0 + k) * KEY_STRIDE + 1]] !== 0) return true;
    return false;
  }

  /** Key rewrite rules match a key of command `base` (and it was not rewritten already). */
  private keysNeedRewrite(chunk: Buffer, base: number): boolean {
    const ctx = this.ctx;
    const rewrite = ctx.hooks.keyRewrite;
    if (rewrite === null || this.rewriting) return false;
    const cmds = ctx.binding.batch.cmds;
    const keys = ctx.binding.batch.keys;
    const args = ctx.binding.batch.args;
    const k0 = cmds[base + C_KEY0];
    for (let k = 0; k < cmds[base + C_NKEYS]; k++) {
      const a = keys[(k0 + k) * KEY_STRIDE] * ARG_STRIDE;
      const off = args[a];
      if (rewrite.needsRewrite(chunk, off, off + args[a + 1])) return true;
    }
    return false;
  }

  private needsSlowPath(chunk: Buffer, base: number): boolean {
    const ctx = this.ctx;
    const hooks = ctx.hooks;
    if (hooks.keyRewrite === null && (hooks.migration === null || !ctx.router.migrationsActive)) return false;
    const cmds = ctx.binding.batch.cmds;
    const nk = cmds[base + C_NKEYS];
    if (nk === 0) return false;
    const keys = ctx.binding.batch.keys;
    const k0 = cmds[base + C_KEY0];
    if (hooks.keyRewrite !== null && !this.rewriting) {
      // Only commands with a key the rules match take the slow path.
      const args = ctx.binding.batch.args;
      for (let k = 0; k < nk; k++) {
        const a = keys[(k0 + k) * KEY_STRIDE] * ARG_STRIDE;
        const off = args[a];
        if (hooks.keyRewrite.needsRewrite(chunk, off, off + args[a + 1])) return true;
      }
    }
    if (hooks.migration === null || !ctx.router.migrationsActive) return false;
    for (let k = 0; k < nk; k++) if (ctx.router.migrating[keys[(k0 + k) * KEY_STRIDE + 1]] !== 0) return true;
    return false;
  }

  private rewriting = false;

  private slowPath(chunk: Buffer, base: number, route: CommandRoute): boolean {
    const ctx = this.ctx;
    const command = this.slowCommand(chunk, base, route.name);
    if (ctx.hooks.keyRewrite !== null && !this.rewriting) {
      const rewritten = ctx.hooks.keyRewrite.rewrite(command);
      if (Buffer.isBuffer(rewritten)) {
        this.replyNow(route.id, rewritten); // refused (reserved key name)
        return false;
      }
      // Route the command (rewritten: as if the client had sent the new one) without asking again.
      ctx.counters.totalCommands--;
      ctx.calls[route.id]--;
      this.rewriting = true;
      const seq = this.tail;
      try {
        if (rewritten === null) return this.dispatch(chunk, base / CMD_STRIDE); // batch untouched
        this.dispatchEncoded(encodeCommand(rewritten.args));
      } finally {
        this.rewriting = false;
      }
      // Replies carrying key names (LMPOP, XREAD...) get the client's names back.
      if (rewritten?.mapReply && this.tail === seq + 1 && this.ring[seq & this.mask] === null) (this.replyMaps ??= new Map()).set(seq, rewritten.mapReply);
      return true;
    }
    const seq = this.reserve(route.id);
    const pending = ctx.hooks.migration!(command, this.shardAccess());
    if (pending === null) {
      this.forwardPlain(chunk, base, route, seq);
      return false;
    }
    pending.then(
      (reply) => this.onReply(seq, reply),
      (err: Error) => this.onReply(seq, errorReply(`ERR Kvstore: ${err.message}`)),
    );
    return false;
  }

  /** Forward after the migration hook declined: the same routing as the fast path. */
  private forwardPlain(chunk: Buffer, base: number, route: CommandRoute, seq: number): void {
    const ctx = this.ctx;
    const cmds = ctx.binding.batch.cmds;
    const raw = chunk.subarray(cmds[base + C_START], cmds[base + C_END]);
    const slot = cmds[base + C_SLOT];
    if (slot >= 0) return this.forwardTo(ctx.router.slotTable[slot], raw, seq);
    const shard = this.allKeysOnOneShard(base);
    if (shard >= 0 && (route.route === Route.Split || ctx.config.crossSlot === 'shard')) return this.forwardTo(shard, raw, seq);
    if (route.route === Route.Split) return splitAcrossShards(this, ctx, chunk, base / CMD_STRIDE, seq);
    this.onReply(seq, ERRORS.crossSlot);
  }

  private reparseInline(chunk: Buffer, base: number): boolean {
    const cmds = this.ctx.binding.batch.cmds;
    let lineEnd = cmds[base + C_END];
    while (lineEnd > cmds[base + C_START] && (chunk[lineEnd - 1] === 0x0a || chunk[lineEnd - 1] === 0x0d)) lineEnd--;
    const args = this.ctx.binding.hot.decodeInline(chunk.subarray(cmds[base + C_START], lineEnd));
    if (args === null) {
      this.protocolError(ERRORS.unbalancedQuotes);
      return true;
    }
    if (args.length === 0) return true; // an empty line: Redis ignores it
    this.dispatchEncoded(encodeCommand(args));
    return true;
  }

  /** Parse and dispatch one command we encoded ourselves (clobbers the batch arrays). */
  private dispatchEncoded(encoded: Buffer): void {
    const binding = this.ctx.binding;
    const n = binding.hot.parseRequests(encoded, 0);
    if (n !== 1) {
      if (binding.batch.status[S_GROW_ARGS] > 0) {
        binding.growArgs(binding.batch.status[S_GROW_ARGS]);
        return this.dispatchEncoded(encoded);
      }
      this.replyNow(-1, errorReply('ERR Kvstore: could not re-encode the command'));
      return;
    }
    this.dispatch(encoded, 0);
  }

  private slowCommand(chunk: Buffer, base: number, name: string): SlowCommand {
    const batch = this.ctx.binding.batch;
    const cmds = batch.cmds;
    const args = this.argsOf(chunk, base).map((a) => Buffer.from(a));
    const k0 = cmds[base + C_KEY0];
    const nk = cmds[base + C_NKEYS];
    const a0 = cmds[base + C_ARG0];
    const keyIndexes: number[] = [];
    const keySlots: number[] = [];
    for (let k = 0; k < nk; k++) {
      keyIndexes.push(batch.keys[(k0 + k) * KEY_STRIDE] - a0);
      keySlots.push(batch.keys[(k0 + k) * KEY_STRIDE + 1]);
    }
    return { name, args, keyIndexes, keySlots, raw: Buffer.from(chunk.subarray(cmds[base + C_START], cmds[base + C_END])) };
  }

  shardAccess(): ShardAccess {
    const ctx = this.ctx;
    const router = ctx.router;
    return {
      epoch: router.epoch,
      shardCount: () => router.shards.length,
      shardName: (i) => router.shards[i].name,
      shardAddress: (i) => router.shards[i].address,
      shardOfSlot: (slot) => router.slotTable[slot],
      migrationOf: (slot) => router.migrationOf(slot),
      send: (shardIndex, command) =>
        new Promise<Buffer>((resolve) => {
          this.forwardTo(shardIndex, command, 0, { onReply: (_tag, reply) => resolve(Buffer.from(reply)) });
        }),
      encode: encodeCommand,
    };
  }

  /** Arguments of command `base`, copied (slow paths only: they may outlive the read). */
  argsOf(chunk: Buffer, base: number): Buffer[] {
    const batch = this.ctx.binding.batch;
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

  /* ---------- replies in order ---------- */

  /** Take the next sequence number (a slot in the reply ring) for command `id`. */
  reserve(id: number): number {
    if (this.tail - this.head > this.mask) this.growRing();
    const seq = this.tail++;
    const i = seq & this.mask;
    this.ring[i] = null;
    this.ringIds[i] = id;
    return seq;
  }

  /**
   * Reply for sequence `tag` (from a backend, a fragment, a fan-out or the proxy itself); may be
   * a view into a read buffer, valid during this call only.
   */
  onReply(tag: number, reply: Buffer): void {
    if (this.closed) return;
    if (this.replyMaps !== null) reply = this.mapReply(tag, reply);
    if (tag !== this.head) {
      this.ring[tag & this.mask] = Buffer.from(reply); // early: park a copy until the earlier ones are in
      return;
    }
    this.output(reply, 0, reply.length, this.ringIds[tag & this.mask]);
    this.headAnswered(tag);
  }

  /** A backend reply as buf[start, end), valid during this call only (see ReplySink). */
  onReplyRange(tag: number, buf: Buffer, start: number, end: number): void {
    if (this.closed) return;
    if (tag !== this.head || this.replyMaps !== null) return this.onReply(tag, buf.subarray(start, end));
    this.output(buf, start, end, this.ringIds[tag & this.mask]);
    this.headAnswered(tag);
  }

  /** The head `tag` is out: follow with the replies parked behind it, flush this turn. */
  private headAnswered(tag: number): void {
    const ring = this.ring;
    const mask = this.mask;
    let h = tag + 1;
    for (; h < this.tail; h++) {
      const i = h & mask;
      const parked = ring[i];
      if (parked === null) break;
      ring[i] = null;
      this.output(parked, 0, parked.length, this.ringIds[i]);
    }
    this.head = h;
    scheduleFlush(this);
    if (this.paused !== 0 && h === this.tail && (this.paused & PAUSE_BARRIER) !== 0) this.resume(PAUSE_BARRIER);
  }

  /** Copy one in-order reply, buf[start, end), into the stream's output (sent by `flush`). */
  private output(buf: Buffer, start: number, end: number, id: number): void {
    if (buf[start] === 0x2d) {
      const ctx = this.ctx;
      ctx.counters.totalErrors++;
      if (id >= 0) ctx.errors[id]++;
    }
    this.stream.append(buf, start, end);
  }

  /** Key rewrite: per-sequence reply mappers (null when none is pending: the common case). */
  private replyMaps: Map<number, (reply: Buffer) => Buffer> | null = null;

  private mapReply(tag: number, reply: Buffer): Buffer {
    const map = this.replyMaps!.get(tag);
    if (!map) return reply;
    this.replyMaps!.delete(tag);
    if (this.replyMaps!.size === 0) this.replyMaps = null;
    try {
      return map(reply);
    } catch (err) {
      this.ctx.log.warn({ err }, 'could not map key names in a reply');
      return reply;
    }
  }

  /** Reserve and answer at once (errors, proxy replies). */
  replyNow(id: number, reply: Buffer): void {
    this.onReply(this.reserve(id), reply);
  }

  private growRing(): void {
    const cap = (this.mask + 1) * 2;
    const ring: (Buffer | null)[] = new Array(cap).fill(null);
    const ids = new Int32Array(cap);
    const newMask = cap - 1;
    for (let s = this.head; s < this.tail; s++) {
      ring[s & newMask] = this.ring[s & this.mask];
      ids[s & newMask] = this.ringIds[s & this.mask];
    }
    this.ring = ring;
    this.ringIds = ids;
    this.mask = newMask;
  }

  flush(): void {
    if (this.closed) return;
    const ctx = this.ctx;
    const queued = this.stream.flush();
    if (this.closeAfterFlush && this.head === this.tail) return this.finishClose();
    if (queued > ctx.config.limits.clientOutputHighWater) this.pause(PAUSE_OUTPUT);
    if ((this.paused & PAUSE_PIPELINE) !== 0 && this.inFlight <= ctx.config.limits.maxPipeline >> 1) this.resume(PAUSE_PIPELINE);
  }

  /* ---------- flow control ---------- */

  private pause(reason: number): void {
    if ((this.paused & STREAM_PAUSES) === 0 && (reason & STREAM_PAUSES) !== 0) this.stream.pause();
    this.paused |= reason;
  }

  private resume(reason: number): void {
    if ((this.paused & reason) === 0) return;
    this.paused &= ~reason;
    if (this.paused !== 0 || this.closed) return;
    const deferred = this.deferred;
    if (deferred !== null && !this.processingDeferred) {
      this.deferred = null;
      this.processingDeferred = true;
      try {
        this.process(deferred, 0, deferred.length);
      } finally {
        this.processingDeferred = false;
      }
      if (this.paused !== 0) return;
    }
    this.stream.resume();
  }

  private pauseForBackend(backend: BackendConnection): void {
    this.pause(PAUSE_BACKEND);
    backend.waitForDrain(this);
  }

  resumeAfterBackendDrain(): void {
    this.resume(PAUSE_BACKEND);
  }

  /* ---------- ending ---------- */

  /** Reply `text` after every earlier reply, then close this client only (Redis's behaviour). */
  protocolError(text: string | Buffer): void {
    this.ctx.counters.protocolErrors++;
    this.replyNow(-1, typeof text === 'string' ? errorReply(text) : text);
    this.endAfterReplies();
  }

  /** QUIT, protocol errors: stop reading, close once every reply has been written. */
  endAfterReplies(): void {
    this.closeAfterFlush = true;
    this.partial.clear();
    this.pause(PAUSE_CLOSING);
    scheduleFlush(this);
  }

  private finishClose(): void {
    const stream = this.stream;
    this.closed = true;
    this.endSession();
    stream.end();
    setTimeout(() => stream.destroy(), 1000).unref();
    this.ctx.clientClosed(this);
  }

  private requestTooLarge(): void {
    this.protocolError(`ERR Protocol error: request larger than ${this.ctx.config.limits.maxRequestBytes} bytes (limits.maxRequestBytes)`);
  }

  /** Close now (shutdown after drain, CLIENT KILL-like paths). */
  destroy(): void {
    this.stream.destroy();
  }

  /** CLIENT KILL from another client: close outside the killer's read batch. */
  kill(): void {
    setImmediate(() => this.destroy());
  }

  /** For shutdown: resolves once nothing is in flight. */
  get idle(): boolean {
    return this.head === this.tail;
  }

  stopReading(): void {
    this.pause(PAUSE_CLOSING);
  }

  private onClose(): void {
    if (this.closed) {
      return;
    }
    this.closed = true;
    this.endSession();
    this.partial.clear();
    this.ring.fill(null);
    this.ctx.clientClosed(this);
  }
}

/**
 * The byte Redis quotes in "expected '$', got '%c'": walk the failing multibulk from `start`
 * (error path only; the two hot-path implementations do not agree on a status field for it).
 */
function byteInsteadOfDollar(chunk: Buffer, start: number): number {
  let p = chunk.indexOf(0x0d, start);
  if (p < 0) return 0;
  p += 2;
  while (p < chunk.length) {
    if (chunk[p] !== 0x24) return chunk[p];
    const cr = chunk.indexOf(0x0d, p);
    if (cr < 0) return 0;
    const len = Number(chunk.toString('latin1', p + 1, cr));
    if (!Number.isFinite(len) || len < 0) return 0;
    p = cr + 2 + len + 2;
  }
  return 0;
}
