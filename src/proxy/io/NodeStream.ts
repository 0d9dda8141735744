/**
 * ByteStream over a net.Socket: the fallback when the addon's sockets are unavailable
 * (KVSTORE_NATIVE=0, io: node, a backend given by host name). Output is collected in one buffer
 * owned by the stream and written once per flush; the buffer is reused when the kernel took it
 * all synchronously, else handed to the socket and replaced.
 */
import net from 'node:net';
import { DETACHED, type ByteStream, type StreamHandler } from './ByteStream';

const INITIAL_OUTPUT = 4096;

export class NodeStream implements ByteStream {
  readonly kind = 'node';
  readonly remote: string;
  private out: Buffer | null = null;
  private outLen = 0;
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
    socket.write(this.out!.subarray(0, this.outLen));
    // All taken synchronously: the buffer is ours again. Otherwise the socket holds it.
    if (socket.writableLength !== 0) this.out = null;
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
