/**
 * ByteStream over a net.Socket: the fallback when the addon's sockets are unavailable
 * (KVSTORE_NATIVE=0, io: node, a backend given by host name), and every TLS socket (client
 * tls.port, backend.tls). Output is collected in one buffer owned by the stream and written once
 * per flush; the buffer is reused when the kernel took it all synchronously, else handed to the
 * socket until that write's callback, then kept as the spare for a later flush. A TLS socket
 * always completes writes asynchronously: without the spare, every flush (every reply at -P 1)
 * would allocate a fresh output buffer (an ArrayBuffer outside Node's pool, and GC work).
 */
import net from 'node:net';
import { DETACHED, type ByteStream, type StreamHandler } from './ByteStream';

const INITIAL_OUTPUT = 4096;
/** A buffer back from a write is kept as the spare only up to this size (a big reply's is dropped). */
const MAX_SPARE = 64 * 1024;

export class NodeStream implements ByteStream {
  readonly kind = 'node';
  readonly remote: string;
  private out: Buffer | null = null;
  private outLen = 0;
  /** An output buffer whose write completed, ready to become `out` again. */
  private spare: Buffer | null = null;
  /**
   * One entry per socket.write still in progress, in write order (callbacks come in that order):
   * the buffer the socket holds, or null where the write completed synchronously and `out` was kept.
   */
  private readonly writing: Array<Buffer | null> = [];
  /** socket.write's callback, made once: the oldest write is done, its buffer free again. */
  private readonly written = (): void => {
    const done = this.writing.shift();
    if (done && this.spare === null && done.length <= MAX_SPARE) this.spare = done;
  };
  private error: string | null = null;

  private handler: StreamHandler;

  /** `handler` may come later (attach): an accepted socket stays paused until then. */
  constructor(
    private readonly socket: net.Socket,
    handler: StreamHandler | null = null,
  ) {
    this.handler = handler ?? DETACHED;
    this.remote = socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : '';
    socket.on('data', (chunk: Buffer) => this.handler.onStreamData(chunk, 0, chunk.length));
    socket.on('end', () => this.handler.onStreamEnd());
    socket.on('drain', () => this.handler.onStreamDrain());
    socket.on('connect', () => this.handler.onStreamConnect());
    socket.on('timeout', () => this.handler.onStreamTimeout());
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.error ??= err.code ?? err.message;
    });
    socket.on('close', () => this.handler.onStreamClose(this.error));
  }

  /** A stream connecting to host:port (names resolved by Node). */
  static connect(host: string, port: number, handler: StreamHandler): NodeStream {
    return new NodeStream(net.connect({ host, port }), handler);
  }

  /** Own an accepted socket (accepted with pauseOnConnect: it reads once attached). */
  attach(handler: StreamHandler): void {
    this.handler = handler;
    this.socket.setNoDelay(true);
    this.socket.resume();
  }

  get queued(): number {
    return this.outLen + this.socket.writableLength;
  }

  append(data: Buffer, start = 0, end = data.length): void {
    const n = end - start;
    if (n <= 0 || this.socket.destroyed) return;
    let out = this.out;
    if (out === null && this.spare !== null) {
      out = this.out = this.spare;
      this.spare = null;
    }
    if (out === null || this.outLen + n > out.length) {
      const grown = Buffer.allocUnsafe(Math.max(INITIAL_OUTPUT, (this.outLen + n) * 2));
      if (out !== null) out.copy(grown, 0, 0, this.outLen);
      out = this.out = grown;
    }
    data.copy(out, this.outLen, start, end);
    this.outLen += n;
  }

  flush(): number {
    const socket = this.socket;
    if (this.outLen === 0 || socket.connecting || socket.destroyed) return this.queued;
    const out = this.out!;
    socket.write(out.subarray(0, this.outLen), this.written);
    // All taken synchronously: the buffer is ours again. Otherwise the socket holds it until the
    // write's callback (written) makes it the spare.
    if (socket.writableLength !== 0) {
      this.writing.push(out);
      this.out = null;
    } else {
      this.writing.push(null);
    }
    this.outLen = 0;
    return socket.writableLength;
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  end(): void {
    this.flush();
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  setIdleTimeout(ms: number): void {
    this.socket.setTimeout(ms > 0 ? ms : 0);
  }

  setNoDelay(): void {
    this.socket.setNoDelay(true);
  }

  setKeepAlive(ms: number): void {
    this.socket.setKeepAlive(true, ms);
  }
}
