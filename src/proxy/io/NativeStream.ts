/**
 * ByteStream over the addon's libuv sockets (native/io_stream.cc → io_loop.cc). Streams are
 * small integer ids on the native side: every call is a plain function taking the id, and every
 * event comes back with it. Reads of all streams land in one arena and reach JS as one batch per
 * event-loop turn (`reads`), each handed to its stream as (arena, start, end) — no Buffer per
 * read, no stream layer, one native→JS call per turn instead of one per read. Writes are copies
 * into the stream's native output plus one uv_try_write per flush. Clients are accepted natively
 * (NativeListener: a listening socket the addon owns, SO_REUSEPORT per worker on Linux). The
 * idle timeout is a coarse shared sweep instead of a timer per socket.
 */
import { DETACHED, type ByteStream, type StreamHandler } from './ByteStream';
import { readBatch } from '../FlushScheduler';

/** Native buffered bytes over every stream of this process (see io::IoTotals in io_loop.h). */
export interface NativeIoTotals {
  streams: number;
  /** Appended or in flight, not taken by the kernel yet. */
  outputQueued: number;
  /** Output buffer capacity held by streams. */
  outputAllocated: number;
  /** Spare output buffers kept for reuse. */
  poolBytes: number;
  /** The shared read arena (fixed). */
  arenaBytes: number;
  /** Read bytes recorded but not handed to JS yet (0 between turns). */
  inputHeld: number;
  /** Per-stream native state (sizeof(Stream) × streams). */
  streamStateBytes: number;
  /** The most output one stream has queued / holds as buffer. */
  maxStreamQueued: number;
  maxStreamAllocated: number;
}

export interface IoAddon {
  ioSetup(
    handlers: {
      reads(count: number): void;
      end(id: number): void;
      drain(id: number): void;
      connect(id: number): void;
      close(id: number, error: string | null): void;
      accept(listener: number, id: number): void;
    },
    arena: Buffer,
    events: Int32Array,
  ): void;
  ioConnect(ip: string, port: number): number;
  ioListen(ip: string, port: number, backlog: number, reusePort: boolean): [number, number];
  ioCloseListener(listener: number): void;
  /**
   * The per-request calls, with (stream id, start, end) read from `args`, written just before
   * each call: appendAt copies data[start, end) into the stream's output; flushAt returns the
   * bytes still queued after handing the output to the kernel.
   */
  ioHotCalls(args: Float64Array): { appendAt(data: Buffer): void; flushAt(): number };
  ioReadStart(id: number): void;
  ioReadStop(id: number): void;
  ioEnd(id: number): void;
  ioDestroy(id: number): void;
  ioSetNoDelay(id: number, on: boolean): void;
  ioSetKeepAlive(id: number, on: boolean, delaySeconds: number): void;
  ioPeer(id: number): [string, number] | null;
  ioBuffered(id: number): [number, number] | null;
  ioTotals(): NativeIoTotals;
  /** malloc_trim (glibc): free pages inside malloc's heap go back to the kernel; true when some did. collectJs: V8 told of memory pressure too. */
  ioTrimMemory(collectJs?: boolean): boolean;
}

/** Reads of one turn, back to back (a read is offered at least 64 KiB; delivered early when full). */
const ARENA_BYTES = 1024 * 1024;
/** Reads per batch at most (delivered early beyond). */
const MAX_READS = 4096;

let addon: IoAddon | null = null;
/**
 * append/flush, the two calls every request makes (twice), take the stream id and the range through
 * this array: a typed-array store is nearly free, an N-API number argument a check and a conversion.
 */
const hotArgs = new Float64Array(3);
let appendAt: (data: Buffer) => void = () => undefined;
let flushAt: () => number = () => 0;
const arena = Buffer.allocUnsafeSlow(ARENA_BYTES);
const events = new Int32Array(MAX_READS * 3);

// Streams and listeners by native id; the native side reuses a stream id only after its close.
const streams: (NativeStream | undefined)[] = [];
const listeners: (NativeListener | undefined)[] = [];

function deliverReads(count: number): void {
  for (let i = 0; i < count; i++) {
    const s = streams[events[i * 3]];
    if (s !== undefined && !s.closed) s.onRead(events[i * 3 + 1], events[i * 3 + 2]);
  }
}

/** Use `io` for every NativeStream from now on (once per process, before the first stream). */
export function setupNativeIo(io: IoAddon): void {
  if (addon === io) return;
  io.ioSetup(
    {
      reads: (count: number) => readBatch(deliverReads, count),
      end(id) {
        streams[id]?.handler.onStreamEnd();
      },
      drain(id) {
        const s = streams[id];
        if (s === undefined) return;
        s.queuedBytes = 0;
        s.handler.onStreamDrain();
      },
      connect(id) {
        streams[id]?.handler.onStreamConnect();
      },
      close(id, error) {
        const s = streams[id];
        streams[id] = undefined;
        s?.onClosed(error ?? null);
      },
      accept(listener, id) {
        const l = listeners[listener];
        const s = new NativeStream(id);
        if (l === undefined) s.destroy();
        else l.onAccept(s);
      },
    },
    arena,
    events,
  );
  ({ appendAt, flushAt } = io.ioHotCalls(hotArgs));
  addon = io;
}

export function nativeIoReady(): boolean {
  return addon !== null;
}

function io(): IoAddon {
  if (addon === null) throw new Error('native io: setupNativeIo() was not called');
  return addon;
}

/** Native buffered bytes of this process (null when the addon's sockets are not in use). */
export function nativeIoTotals(): NativeIoTotals | null {
  return addon === null ? null : addon.ioTotals();
}

/**
 * Give free native memory back to the kernel (see ioTrimMemory in native/io_stream.cc): after a
 * burst of accepts and first commands, the freed short-lived allocations between the streams'
 * native state otherwise stay resident. `collectJs`: also have V8 collect (and shrink its young
 * generation), which an idle worker otherwise never does. False when nothing was released or the
 * addon's sockets are not in use.
 */
export function trimNativeMemory(collectJs = false): boolean {
  return addon !== null && typeof addon.ioTrimMemory === 'function' && addon.ioTrimMemory(collectJs);
}

// Idle timeouts: one sweep over the streams, no timer, Set entry or time stamp per stream. A
// stream notes the sweep count at its traffic (a small integer, no clock read); it times out
// once whole sweep periods without traffic add up to its idleMs (so up to two periods late).
let sweepTimer: NodeJS.Timeout | null = null;
const SWEEP_MS = 250;
let sweepCount = 0;

function sweepIdle(): void {
  const count = ++sweepCount;
  for (let id = 0; id < streams.length; id++) {
    const s = streams[id];
    if (s !== undefined && s.idleMs > 0 && (count - s.lastActive - 1) * SWEEP_MS >= s.idleMs) s.fireTimeout();
  }
}

/**
 * One stream: a handful of fields (an idle client costs this object, the native Stream and the
 * kernel socket). The peer address is looked up only when asked for.
 */
export class NativeStream implements ByteStream {
  queuedBytes = 0;
  idleMs = 0;
  /** sweepCount at the last traffic. */
  lastActive = 0;
  closed = false;
  handler: StreamHandler = DETACHED;
  /** Set for outgoing streams; accepted ones ask the kernel on first use (`remote`). */
  private peer: string | null = null;

  constructor(readonly id: number) {
    if (addon === null) throw new Error('native io: setupNativeIo() was not called');
    streams[id] = this;
  }

  get kind(): 'native' {
    return 'native';
  }

  /** "address:port" of the peer ('' if unknown). */
  get remote(): string {
    if (this.peer === null && !this.closed) {
      const p = addon!.ioPeer(this.id);
      if (p) this.peer = `${p[0]}:${p[1]}`;
    }
    return this.peer ?? '';
  }

  /** Connect to ip:port (an IP literal; host names go through NodeStream). */
  static connect(ip: string, port: number, handler: StreamHandler, keepAliveMs: number): NativeStream {
    const a = io();
    const s = new NativeStream(a.ioConnect(ip, port));
    s.handler = handler;
    s.peer = `${ip}:${port}`;
    a.ioSetNoDelay(s.id, true);
    a.ioSetKeepAlive(s.id, true, Math.max(1, Math.round(keepAliveMs / 1000)));
    return s;
  }

  get queued(): number {
    return this.queuedBytes;
  }

  /** Native output bytes of this stream: [queued, allocated] (0s once closed). */
  get nativeBuffered(): [number, number] {
    return (this.closed ? null : addon!.ioBuffered(this.id)) ?? [0, 0];
  }

  attach(handler: StreamHandler): void {
    this.handler = handler;
    if (!this.closed) addon!.ioReadStart(this.id);
  }

  onRead(start: number, end: number): void {
    this.lastActive = sweepCount;
    this.handler.onStreamData(arena, start, end);
  }

  onClosed(error: string | null): void {
    this.closed = true;
    this.queuedBytes = 0;
    this.handler.onStreamClose(error);
  }

  fireTimeout(): void {
    this.lastActive = sweepCount; // once per idle period, like net.Socket's 'timeout'
    this.handler.onStreamTimeout();
  }

  append(data: Buffer, start = 0, end = data.length): void {
    if (this.closed) return;
    this.queuedBytes += end - start;
    const a = hotArgs;
    a[0] = this.id;
    a[1] = start;
    a[2] = end;
    appendAt(data);
  }

  flush(): number {
    if (this.closed) return 0;
    this.lastActive = sweepCount;
    hotArgs[0] = this.id;
    return (this.queuedBytes = flushAt());
  }

  pause(): void {
    if (!this.closed) addon!.ioReadStop(this.id);
  }

  resume(): void {
    if (!this.closed) addon!.ioReadStart(this.id);
  }

  end(): void {
    if (this.closed) return;
    this.flush();
    addon!.ioEnd(this.id);
  }

  destroy(): void {
    if (!this.closed) addon!.ioDestroy(this.id);
  }

  setIdleTimeout(ms: number): void {
    this.idleMs = ms > 0 ? ms : 0;
    if (this.idleMs === 0 || this.closed) return;
    this.lastActive = sweepCount;
    if (sweepTimer === null) {
      sweepTimer = setInterval(sweepIdle, SWEEP_MS);
      sweepTimer.unref();
    }
  }
}

/**
 * A listening socket the addon owns; accepted clients arrive as NativeStreams, paused until
 * `attach`. With `reusePort` (Linux) each worker process binds its own socket to the same
 * address and the kernel spreads connections over them.
 */
export class NativeListener {
  closed = false;

  private constructor(
    readonly id: number,
    readonly port: number,
    private readonly onStream: (stream: NativeStream) => void,
  ) {
    listeners[id] = this;
  }

  /** Throws an Error with `code` (EADDRINUSE, EACCES, ...) when the address cannot be bound. */
  static listen(ip: string, port: number, backlog: number, reusePort: boolean, onStream: (stream: NativeStream) => void): NativeListener {
    const [id, bound] = io().ioListen(ip, port, backlog, reusePort);
    return new NativeListener(id, bound, onStream);
  }

  onAccept(stream: NativeStream): void {
    if (this.closed) stream.destroy();
    else this.onStream(stream);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    listeners[this.id] = undefined;
    io().ioCloseListener(this.id);
  }
}

/** True when `b` views the read arena (so it must be copied to be kept). */
export function isSharedReadBuffer(b: Buffer): boolean {
  return b.buffer === arena.buffer;
}
