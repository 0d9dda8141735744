/**
 * ByteStream over the addon's libuv sockets (native/io_stream.cc). Every NativeStream of the
 * process reads into one shared buffer; a read calls `onRead` directly (no Buffer allocated, no
 * stream layer), and writes are copies into the stream's native output plus one uv_try_write
 * per flush. The idle timeout is a coarse shared sweep instead of a timer per socket.
 */
import type { ByteStream, StreamHandler } from './ByteStream';

/** The addon's IoStream (see native/io_stream.cc for the semantics). */
interface IoStreamHandle {
  open(fd: number): void;
  connect(ip: string, port: number): void;
  readStart(): void;
  readStop(): void;
  append(data: Buffer, start: number, end: number): void;
  flush(): number;
  write(data: Buffer, start: number, end: number): number;
  end(): void;
  destroy(): void;
  setNoDelay(on: boolean): void;
  setKeepAlive(on: boolean, delaySeconds: number): void;
  peer(): [string, number] | null;
}

export interface IoAddon {
  IoStream: new (owner: object) => IoStreamHandle;
  ioSetup(handlers: Record<'read' | 'end' | 'drain' | 'connect' | 'close', (this: NativeStream, arg?: unknown) => void>, readBuffer: Buffer): void;
}

/** One read at most fills this; larger requests arrive over several reads (PartialInput). */
const READ_BUFFER_BYTES = 64 * 1024;

let addon: IoAddon | null = null;
const readBuffer = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);

/** Use `io` for every NativeStream from now on (once per process, before the first stream). */
export function setupNativeIo(io: IoAddon): void {
  if (addon === io) return;
  io.ioSetup(
    {
      read(nread) {
        this.onRead(nread as number);
      },
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
    readBuffer,
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
  private readonly io: IoStreamHandle;
  private closed = false;

  private constructor(readonly handler: StreamHandler) {
    if (addon === null) throw new Error('NativeStream: setupNativeIo() was not called');
    this.io = new addon.IoStream(this);
  }

  /** Take over an accepted, connected socket's fd (the caller then destroys its own socket). */
  static adopt(fd: number, handler: StreamHandler): NativeStream {
    const s = new NativeStream(handler);
    s.io.open(fd);
    const peer = s.io.peer();
    if (peer) s.remote = `${peer[0]}:${peer[1]}`;
    s.io.setNoDelay(true);
    return s;
  }

  /** Connect to ip:port (an IP literal; host names go through NodeStream). */
  static connect(ip: string, port: number, handler: StreamHandler, keepAliveMs: number): NativeStream {
    const s = new NativeStream(handler);
    s.io.connect(ip, port);
    s.remote = `${ip}:${port}`;
    s.io.setNoDelay(true);
    s.io.setKeepAlive(true, Math.max(1, Math.round(keepAliveMs / 1000)));
    return s;
  }

  get queued(): number {
    return this.queuedBytes;
  }

  onRead(nread: number): void {
    if (this.idleMs > 0) this.lastActive = Date.now();
    this.handler.onStreamData(readBuffer.subarray(0, nread));
  }

  onClosed(error: string | null): void {
    this.closed = true;
    idleWatched.delete(this);
    this.queuedBytes = 0;
    this.handler.onStreamClose(error);
  }

  fireTimeout(now: number): void {
    this.lastActive = now; // once per idle period, like net.Socket's 'timeout'
    this.handler.onStreamTimeout();
  }

  append(data: Buffer, start = 0, end = data.length): void {
    this.queuedBytes += end - start;
    this.io.append(data, start, end);
  }

  flush(): number {
    if (this.idleMs > 0) this.lastActive = Date.now();
    return (this.queuedBytes = this.io.flush());
  }

  pause(): void {
    this.io.readStop();
  }

  resume(): void {
    if (!this.closed) this.io.readStart();
  }

  end(): void {
    this.flush();
    this.io.end();
  }

  destroy(): void {
    this.io.destroy();
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

/** True when `b` views the shared read buffer (so it must be copied to be kept). */
export function isSharedReadBuffer(b: Buffer): boolean {
  return b.buffer === readBuffer.buffer;
}
