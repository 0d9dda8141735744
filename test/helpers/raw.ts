/**
 * A raw RESP client for tests that must see exact bytes (or send broken ones): no client library
 * in between. Replies are framed with the reference reply framer and returned as raw bytes.
 */
import net from 'node:net';
import { FRAME_ERROR, FRAME_INCOMPLETE, ReplyFramer } from '../../src/native/reference/replyFramer';
import { encodeCommand } from '../../src/resp';

export class RawClient {
  private buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private framer = new ReplyFramer();
  closed = false;
  readonly closedPromise: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, d]);
      this.wake();
    });
    socket.on('error', () => undefined);
    this.closedPromise = new Promise((resolve) =>
      socket.on('close', () => {
        this.closed = true;
        this.wake();
        resolve();
      }),
    );
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host }, () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  write(data: Buffer | string): void {
    this.socket.write(data);
  }

  /** Next complete reply (raw bytes); rejects on timeout or close. */
  async reply(timeoutMs = 5000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.buffer.length > 0) {
        const end = this.framer.frameOne(this.buffer, 0, this.buffer.length);
        if (end === FRAME_ERROR) throw new Error(`not RESP: ${JSON.stringify(this.buffer.toString('latin1').slice(0, 80))}`);
        if (end !== FRAME_INCOMPLETE) {
          const out = this.buffer.subarray(0, end);
          this.buffer = this.buffer.subarray(end);
          return out;
        }
      }
      if (this.closed) throw new Error('connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async replies(n: number, timeoutMs = 10000): Promise<Buffer[]> {
    const out: Buffer[] = [];
    for (let i = 0; i < n; i++) out.push(await this.reply(timeoutMs));
    return out;
  }

  /** Send one command (RESP array) and read its reply. */
  async call(...args: (string | Buffer)[]): Promise<Buffer> {
    this.write(encodeCommand(args));
    return this.reply();
  }

  /** Bytes received but not framed as a reply. */
  get leftover(): Buffer {
    return this.buffer;
  }

  /** Resolves true if the server closes the connection within `ms`. */
  async closesWithin(ms: number): Promise<boolean> {
    return Promise.race([this.closedPromise.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
  }

  close(): void {
    this.socket.destroy();
  }
}

export { encodeCommand };
