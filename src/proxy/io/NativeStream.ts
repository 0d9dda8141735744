/**
 * ByteStream over the addon's libuv sockets (native/io_stream.cc). Reads of all NativeStreams
 * land in one arena and reach JS as one batch per event-loop turn (`reads`), each handed to its
 * stream as (arena, start, end) — no Buffer per read, no stream layer, one native→JS call per
 * turn instead of one per read. Writes are copies into the stream's native output plus one
 * uv_try_write per flush, through plain functions taking the stream's id. The idle timeout is a
 * coarse shared sweep instead of a timer per socket.
 */
import type { ByteStream, StreamHandler } from './ByteStream';
import { readBatch } from '../FlushScheduler';

/** The addon's IoStream (see native/io_stream.cc for the semantics). */
interface IoStreamHandle {
  open(fd: number): void;
  connect(ip: string, port: number): void;
  readStart(): void;
  readStop(): void;
  end(): void;
  destroy(): void;
  setNoDelay(on: boolean): void;
  setKeepAlive(on: boolean, delaySeconds: number): void;
  peer(): [string, number] | null;
}

type StreamEvent = 'end' | 'drain' | 'connect' | 'close';

export interface IoAddon {
  IoStream: new (owner: object, id: number) => IoStreamHandle;
  ioSetup(
    handlers: { reads(count: number): void } & Record<StreamEvent, (this: NativeStream, arg?: unknown) => void>,
    arena: Buffer,
    events: Int32Array,
  ): void;
  ioAppend(id: number, data: Buffer, start: number, end: number): void;
  ioFlush(id: number): number;
}

/** Reads of one turn, back to back (a read is offered at least 64 KiB; delivered early when full). */
const ARENA_BYTES = 1024 * 1024;
/** Reads per batch at most (delivered early beyond). */
const MAX_READS = 4096;

let addon: IoAddon | null = null;
const arena = Buffer.allocUnsafeSlow(ARENA_BYTES);
const events = new Int32Array(MAX_READS * 3);

// Streams by id; ids are recycled only after the native side reported the close.
const streams: (NativeStream | null)[] = [];
const freeIds: number[] = [];

function deliverReads(count: number): void {
  for (let i = 0; i < count; i++) {
    const s = streams[events[i * 3]];
    if (s !== null && s !== undefined && !s.closed) s.onRead(events[i * 3 + 1], events[i * 3 + 2]);
  }
}

/** Use `io` for every NativeStream from now on (once per process, before the first stream). */
export function setupNativeIo(io: IoAddon): void {
  if (addon === io) return;
  io.ioSetup(
    {
      reads: (count: number) => readBatch(deliverReads, count),
      end() {
        this.handler.onStreamEnd();
      },
      drain() {
        this.queuedBytes = 0;
        this.handler.onStreamDrain();
      },
      connect() {
        this.handler.onStreamConnect();
      },
      close(error) {
        this.onClosed((error as string | null) ?? null);
      },
    },
    arena,
    events,
  );
  addon = io;
}

export function nativeIoReady(): boolean {
  return addon !== null;
}

// Idle timeouts: one sweep for all streams that have one.
const idleWatched = new Set<NativeStream>();
let sweepTimer: NodeJS.Timeout | null = null;
const SWEEP_MS = 250;

function sweepIdle(): void {
  const now = Date.now();
  for (const s of idleWatched) if (now - s.lastActive >= s.idleMs) s.fireTimeout(now);
}

export class NativeStream implements ByteStream {
  readonly kind = 'native';
  remote = '';
  queuedBytes = 0;
  idleMs = 0;
  lastActive = 0;
  closed = false;
  private readonly io: IoStreamHandle;
  private readonly id: number;
  private readonly addon: IoAddon;

  private constructor(readonly handler: StreamHandler) {
    if (addon === null) throw new Error('NativeStream: setupNativeIo() was not called');
    this.addon = addon;
    this.id = freeIds.length > 0 ? freeIds.pop()! : streams.length;
    this.io = new addon.IoStream(this, this.id);
    streams[this.id] = this;
  }

  /** Take over an accepted, connected socket's fd (the caller then destroys its own socket). */
  static adopt(fd: number, handler: StreamHandler): NativeStream {
    const s = new NativeStream(handler);
    try {
      s.io.open(fd);
    } catch (err) {
      s.abandon();
      throw err;
    }
    const peer = s.io.peer();
    if (peer) s.remote = `${peer[0]}:${peer[1]}`;
    s.io.setNoDelay(true);
    return s;
  }

  /** Connect to ip:port (an IP literal; host names go through NodeStream). */
  static connect(ip: string, port: number, handler: StreamHandler, keepAliveMs: number): NativeStream {
    const s = new NativeStream(handler);
    try {
      s.io.connect(ip, port);
    } catch (err) {
      s.abandon();
      throw err;
    }
    s.remote = `${ip}:${port}`;
    s.io.setNoDelay(true);
    s.io.setKeepAlive(true, Math.max(1, Math.round(keepAliveMs / 1000)));
    return s;
  }

  get queued(): number {
    return this.queuedBytes;
  }

  /** Never opened: forget it. Its id is not reused (the native side frees it only when collected). */
  private abandon(): void {
    this.closed = true;
    streams[this.id] = null;
  }

  onRead(start: number, end: number): void {
    if (this.idleMs > 0) this.lastActive = Date.now();
    this.handler.onStreamData(arena, start, end);
  }

  onClosed(error: string | null): void {
    this.closed = true;
    idleWatched.delete(this);
    this.queuedBytes = 0;
    streams[this.id] = null;
    freeIds.push(this.id);
    this.handler.onStreamClose(error);
  }

  fireTimeout(now: number): void {
    this.lastActive = now; // once per idle period, like net.Socket's 'timeout'
    this.handler.onStreamTimeout();
  }

  append(data: Buffer, start = 0, end = data.length): void {
    if (this.closed) return;
    this.queuedBytes += end - start;
    this.addon.ioAppend(this.id, data, start, end);
  }

  flush(): number {
    if (this.closed) return 0;
    if (this.idleMs > 0) this.lastActive = Date.now();
    return (this.queuedBytes = this.addon.ioFlush(this.id));
  }

  pause(): void {
    if (!this.closed) this.io.readStop();
  }

  resume(): void {
    if (!this.closed) this.io.readStart();
  }

  end(): void {
    if (this.closed) return;
    this.flush();
    this.io.end();
  }

  destroy(): void {
    if (!this.closed) this.io.destroy();
  }

  setIdleTimeout(ms: number): void {
    this.idleMs = ms > 0 ? ms : 0;
    if (this.idleMs === 0 || this.closed) {
      idleWatched.delete(this);
      return;
    }
    this.lastActive = Date.now();
    idleWatched.add(this);
    if (sweepTimer === null) {
      sweepTimer = setInterval(sweepIdle, SWEEP_MS);
      sweepTimer.unref();
    }
  }
}

/** True when `b` views the read arena (so it must be copied to be kept). */
export function isSharedReadBuffer(b: Buffer): boolean {
  return b.buffer === arena.buffer;
}
