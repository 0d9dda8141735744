/**
 * The client's read side: bytes read → framed commands (the hot path, once per read) → the
 * dispatcher, one command at a time, in order.
 *
 * Two kinds of bytes outlive a read (reads are only valid during onStreamData, so both are
 * copies, allocated only when needed and dropped once consumed):
 * - the parse state: an incomplete command at the end of a read, kept in a PartialInput until
 *   enough bytes arrived (`S_NEED`), with the parser's resume point (`S_RESUME_AT`/`S_RESUME_ARGS`)
 *   so that a huge command arriving in many reads is framed once, not once per read;
 * - deferred commands: complete commands read while reading is stopped (FlowControl), run in
 *   order when it restarts.
 */
import {
  C_END, C_START, CMD_STRIDE, protocolErrorText, ProtocolErrorCode, S_CONSUMED, S_ERROR, S_FULL, S_GROW_ARGS, S_NCMDS, S_NEED,
  S_RESUME_ARGS, S_RESUME_AT,
} from '../native/api';
import { dispatchCommand } from './Dispatcher';
import type { DispatchClient } from './Forwarding';
import { HELD_INPUT_MAX, PAUSE_HELD_INPUT, FlowControl } from './FlowControl';
import { PartialInput } from '../resp/PartialInput';
import { errorReply } from './ErrorReply';
import type { RequestLog } from '../observability/RequestLog';

/** What the reader needs from its connection. */
export interface ReaderHost extends DispatchClient {
  readonly flow: FlowControl;
  /** False once the connection is closing or closed: nothing more is dispatched. */
  readonly reading: boolean;
  /** Reply `reply` after every earlier reply, then close (Redis's behaviour on bad input). */
  protocolError(reply: Buffer): void;
  /** chunk[from, stop) is about to be dispatched (latency start, SLOWLOG's request log). */
  beforeRead(chunk: Buffer, from: number, stop: number): void;
}

export class RequestReader {
  /** The incomplete command at the end of the last read (null: none). */
  private partial: PartialInput | null = null;
  /** Commands read but not dispatched yet (reading stopped mid-chunk). */
  private deferred: Buffer | null = null;
  private runningDeferred = false;
  // Stamps of the read being dispatched, kept here (not on the connection) so an idle client,
  // whose reader the idle sweep dropped, holds none of them; the connection's accessors of the
  // same names read and write these (ClientReplies, the Dispatcher and observability use those).
  /** When the current read batch began (µs, src/observability): the start of its commands' latency. */
  readAt = 0;
  /** The command being dispatched: its bounds in the read, and read offset → request log offset. */
  cmdStart = 0;
  cmdEnd = 0;
  logDelta = Number.NaN;
  /** The bytes of requests in flight, while SLOWLOG is on (null otherwise). */
  requestLog: RequestLog | null = null;
  /** Where the read being processed is to be copied (the request log's room), by its first parse call; null: nowhere. */
  private copyTo: Buffer | null = null;
  private copyAt = 0;

  constructor(private readonly host: ReaderHost) {}

  /** beforeRead: the read about to be processed goes to log[at, ...) (copied by its parse call). */
  keepReadIn(log: Buffer, at: number): void {
    this.copyTo = log;
    this.copyAt = at;
  }

  /** Bytes chunk[start, end) were read (valid during this call only). */
  onData(chunk: Buffer, start: number, end: number): void {
    const host = this.host;
    if (!host.reading) return;
    if (this.deferred !== null) {
      // Stopped mid-chunk and more arrived anyway: keep it (copied) behind the deferred commands.
      this.deferred = Buffer.concat([this.deferred, chunk.subarray(start, end)]);
      if (this.deferred.length > HELD_INPUT_MAX) host.flow.pause(PAUSE_HELD_INPUT);
      return;
    }
    const partial = this.partial;
    if (partial !== null) {
      partial.append(chunk.subarray(start, end));
      if (!partial.ready) return;
      chunk = partial.take();
      // framing picks up where it stopped in the kept command (resumable parse state)
      this.process(chunk, 0, chunk.length, partial.resumeAt, partial.resumeArgs);
      if (this.partial !== null && !this.partial.active) this.partial = null;
      return;
    } else if (host.flow.paused !== 0) {
      // Read in the same turn as the pause (reads are delivered in batches): keep it for later.
      this.deferred = Buffer.from(chunk.subarray(start, end));
      return;
    }
    this.process(chunk, start, end);
    // Consumed whole: give the tail buffer back (a fresh one is made for the next tail).
    if (this.partial !== null && !this.partial.active) this.partial = null;
  }

  /** Reading restarts: dispatch what was kept while it was stopped. */
  readDeferred(): void {
    const deferred = this.deferred;
    if (deferred === null || this.runningDeferred) return;
    this.deferred = null;
    this.runningDeferred = true;
    try {
      this.process(deferred, 0, deferred.length);
    } finally {
      this.runningDeferred = false;
    }
  }

  /** Closing: drop whatever was kept. */
  clear(): void {
    this.partial = null;
    this.deferred = null;
  }

  /** Bytes are kept (an incomplete command or deferred commands): the reader must stay. */
  get holding(): boolean {
    return this.partial !== null || this.deferred !== null;
  }

  /** Bytes kept for an incomplete command (stats, tests). */
  get partialBytes(): number {
    return this.partial === null ? 0 : this.partial.bytes;
  }

  /**
   * Frame and dispatch the commands in chunk[from, stop). Stops early, keeping the rest in
   * `deferred`, when flow control says so after a command.
   */
  private process(chunk: Buffer, from: number, stop: number, resumeAt = 0, resumeArgs = 0): void {
    const host = this.host;
    const binding = host.ctx.binding;
    binding.useEngineOptions(host.ctx.engine);
    const hot = binding.hot;
    host.beforeRead(chunk, from, stop);
    let copyTo = this.copyTo; // (set by beforeRead while SLOWLOG keeps requests)
    this.copyTo = null;
    for (;;) {
      hot.parseRequests(chunk, from, stop, resumeAt, resumeArgs, copyTo, this.copyAt);
      resumeAt = 0; // (a resume point and the copy are for the first call only)
      copyTo = null;
      const status = binding.batch.status;
      const n = status[S_NCMDS];
      let next = from + status[S_CONSUMED];
      let reparsed = false;
      const cmds = binding.batch.cmds;
      for (let i = 0; i < n; i++) {
        const end = cmds[i * CMD_STRIDE + C_END];
        const start = cmds[i * CMD_STRIDE + C_START]; // (read first: a reparse overwrites the batch)
        if (dispatchCommand(host, chunk, i)) {
          // A re-encoded command was parsed into the shared batch: parse again after this one.
          next = end;
          reparsed = true;
        }
        if (!host.reading) return;
        if (host.flow.shouldStop()) {
          // At a barrier the command itself was not dispatched: keep it too.
          const rest = host.flow.redo ? start : end;
          host.flow.redo = false;
          if (rest < stop) this.deferred = Buffer.from(chunk.subarray(rest, stop)); // outlives the read
          return;
        }
        if (reparsed) break;
      }
      from = next;
      if (reparsed) {
        if (from >= stop) return;
        continue;
      }
      const error = status[S_ERROR];
      if (error !== ProtocolErrorCode.None) {
        const bad = error === ProtocolErrorCode.ExpectedDollar ? byteInsteadOfDollar(chunk.subarray(0, stop), from) : 0;
        // The client's byte is quoted as the byte it is (latin1: one char per byte).
        return host.protocolError(errorReply(Buffer.from(protocolErrorText(error, bad), 'latin1')));
      }
      const grow = status[S_GROW_ARGS];
      if (grow > 0) {
        binding.growArgs(grow);
        continue;
      }
      if (status[S_FULL] !== 0 && from < stop) continue;
      if (from < stop) this.keepTail(chunk, from, stop, status[S_NEED], status[S_RESUME_AT], status[S_RESUME_ARGS]);
      return;
    }
  }

  /** An incomplete command ends the read: keep it (copied) until `need` bytes are there. */
  private keepTail(chunk: Buffer, from: number, stop: number, need: number, resumeAt: number, resumeArgs: number): void {
    const host = this.host;
    const limit = host.ctx.config.limits.maxRequestBytes;
    if (need > limit || stop - from > limit) {
      host.protocolError(errorReply(`ERR Protocol error: request larger than ${limit} bytes (limits.maxRequestBytes)`));
      return;
    }
    (this.partial ??= new PartialInput()).keep(chunk.subarray(from, stop), need, resumeAt, resumeArgs);
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
