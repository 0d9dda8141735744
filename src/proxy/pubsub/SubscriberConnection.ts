/**
 * The worker's one subscriber connection to one shard (RESP2), shared by every subscribed client
 * of the worker. Not a BackendConnection or a DedicatedConnection: after SUBSCRIBE the server
 * pushes frames nobody asked for, so replies cannot be matched to requests one for one.
 *
 * What comes back is sorted by its first word: `message`/`pmessage`/`smessage` go to the hub
 * (the frame as a view into the read, valid during the call), the shard's own subscribe
 * confirmations are dropped (the hub answers clients with their own counts), and PONG answers
 * the PINGs used as barriers: a PING sent after a SUBSCRIBE is answered after the subscription
 * is active, so a client's confirmation waits for it (`barrier`).
 */
import type { Logger } from '../../log';
import type { TimerHandle } from '../Clock';
import type { DataPathIo } from '../DataPathIo';
import { scheduleFlush, Flushable } from '../FlushScheduler';
import { ReplyFramer } from '../../resp/ReplyFramer';
import { encodeCommand, splitAddress } from '../../resp';
import type { ByteStream, StreamHandler } from '../io';
import type { PubSubKind } from './frames';

export interface SubscriberOptions {
  shard: string;
  address: string;
  username: string;
  password: string;
  connectMs: number;
  nativeIo: boolean;
}

/** Where a published frame goes: `name` is the channel, pattern or shard channel (latin1). */
export interface MessageSink {
  onMessage(kind: PubSubKind, name: string, frame: Buffer, start: number, end: number): void;
  onSubscriberClosed(conn: SubscriberConnection): void;
}

const PING = encodeCommand(['PING']);
const KEEPALIVE_MS = 30_000;

export class SubscriberConnection implements StreamHandler, Flushable {
  flushScheduled = false;
  private readonly stream: ByteStream;
  private ready = false;
  private closed = false;
  /** Whole frames out of the reads (a frame cut by a read's end kept: a big message is copied about twice). */
  private readonly framer = new ReplyFramer();
  private readonly onFrame = (buf: Buffer, start: number, end: number): boolean => {
    this.frame(buf, start, end);
    return !this.closed;
  };
  /** Callbacks of the non-push replies owed, in order: AUTH's, then PINGs'. */
  private readonly waiting: Array<(ok: boolean) => void> = [];
  private connectTimer: TimerHandle | null;

  constructor(
    /** Shard index in the routing in force (renumbered on a topology change). */
    public index: number,
    readonly options: SubscriberOptions,
    private readonly sink: MessageSink,
    private readonly log: Logger,
    private readonly io: DataPathIo,
  ) {
    const { host, port } = splitAddress(options.address);
    this.stream = io.connect(host, port, this, options.nativeIo, KEEPALIVE_MS);
    if (options.password) {
      const args = options.username ? ['AUTH', options.username, options.password] : ['AUTH', options.password];
      this.waiting.push((ok) => ok || this.fail('rejected AUTH'));
      this.stream.append(encodeCommand(args));
    }
    this.connectTimer = io.clock.setTimeout(() => this.fail(`connect timed out after ${options.connectMs} ms`), options.connectMs);
  }

  get open(): boolean {
    return !this.closed;
  }

  /** Send SUBSCRIBE-like `command` for `names` (in batches, so no command grows too big). */
  send(command: string, names: string[]): void {
    if (this.closed) return;
    for (let i = 0; i < names.length; i += 256) {
      const args = [Buffer.from(command), ...names.slice(i, i + 256).map((n) => Buffer.from(n, 'latin1'))];
      this.stream.append(encodeCommand(args));
    }
    if (this.ready) scheduleFlush(this);
  }

  /** `done` runs once every command sent so far has taken effect on the server (or the connection is gone). */
  barrier(done: () => void): void {
    if (this.closed) return done();
    this.waiting.push(() => done());
    this.stream.append(PING);
    if (this.ready) scheduleFlush(this);
  }

  flush(): void {
    if (this.ready && !this.closed) this.stream.flush();
  }

  close(): void {
    this.fail('closed by the proxy', false);
  }

  private fail(reason: string, warn = true): void {
    if (this.closed) return;
    this.closed = true;
    // A shard that is down is retried every 250 ms: only a connection that worked is worth a warning.
    if (warn) this.log[this.ready ? 'warn' : 'debug']({ shard: this.options.shard, address: this.options.address, reason }, 'pub/sub connection to a shard closed');
    if (this.connectTimer) this.io.clock.clearTimer(this.connectTimer);
    this.connectTimer = null;
    this.stream.destroy();
    this.framer.clear();
    for (const w of this.waiting.splice(0)) w(false);
    this.sink.onSubscriberClosed(this);
  }

  /* ---------- stream events ---------- */

  onStreamConnect(): void {
    if (this.closed || this.ready) return;
    if (this.connectTimer) this.io.clock.clearTimer(this.connectTimer);
    this.connectTimer = null;
    this.ready = true;
    this.stream.flush();
  }

  onStreamData(data: Buffer, start: number, end: number): void {
    if (!this.framer.feed(data, start, end, this.onFrame)) this.fail('sent a reply that is not RESP');
  }

  /** One complete frame buf[start, end). */
  private frame(buf: Buffer, start: number, end: number): void {
    const type = buf[start];
    if (type === 0x2a) {
      // *N\r\n$len\r\nword\r\n...
      const word = bulkAt(buf, buf.indexOf(0x0a, start) + 1);
      if (word === null) return;
      const w = buf.toString('latin1', word.start, word.end);
      if (w === 'message' || w === 'smessage') {
        const name = bulkAt(buf, word.end + 2);
        if (name) this.sink.onMessage(w === 'message' ? 'channel' : 'shard', buf.toString('latin1', name.start, name.end), buf, start, end);
      } else if (w === 'pmessage') {
        const name = bulkAt(buf, word.end + 2);
        if (name) this.sink.onMessage('pattern', buf.toString('latin1', name.start, name.end), buf, start, end);
      } else if (w === 'pong') {
        this.waiting.shift()?.(true);
      }
      // subscribe / unsubscribe confirmations of the shard: the hub answered its clients itself
      return;
    }
    if (type === 0x2b) {
      // +OK (AUTH) or +PONG (PING with no subscription left)
      this.waiting.shift()?.(true);
      return;
    }
    if (type === 0x2d) {
      const text = buf.toString('utf8', start + 1, end - 2);
      if (this.waiting.length > 0 && text.startsWith('WRONGPASS')) return this.waiting.shift()!(false);
      this.log.warn({ shard: this.options.shard, error: text }, 'pub/sub connection: the shard refused a command');
      this.fail(`refused a command: ${text}`);
    }
  }

  onStreamDrain(): void {
    // nothing waits on this connection's output
  }

  onStreamEnd(): void {
    this.fail('connection closed');
  }

  onStreamClose(error: string | null): void {
    this.fail(error ? `connection error ${error}` : 'connection closed');
  }

  onStreamTimeout(): void {
    // subscribers are idle for as long as nobody publishes
  }
}

/** The bulk string at `pos` ($len\r\ndata\r\n): its data range, or null. */
function bulkAt(buf: Buffer, pos: number): { start: number; end: number } | null {
  if (buf[pos] !== 0x24) return null;
  const nl = buf.indexOf(0x0d, pos);
  const len = Number(buf.toString('latin1', pos + 1, nl));
  if (!(len >= 0)) return null;
  return { start: nl + 2, end: nl + 2 + len };
}
