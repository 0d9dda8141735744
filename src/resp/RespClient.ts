/**
 * One RESP2 connection for control traffic to a redis-server or a Sentinel: health PINGs, INFO,
 * REPLICAOF, CLIENT PAUSE, the migrator's SCAN/MIGRATE, the reclaim job, Sentinel queries and
 * subscriptions, the tests' and benchmarks' checks. The proxy's data path does not use it.
 *
 * Deliberately not ioredis: no offline retries, no hidden resends. A failure (connect error,
 * peer close, protocol error, command timeout) rejects every command in flight at once and
 * destroys the socket, so a late reply can never be matched to the next command. With
 * `reconnect` (the default) the next command connects again; without it the client stays failed,
 * which is what a control decision wants (see one failure, stop).
 *
 * Replies decode as in ./codec.ts. An error reply rejects that command with RedisReplyError
 * (`pipeline` returns it as a value instead); `raw` resolves with the reply's bytes, errors too.
 * Replies are framed as they arrive (./ReplyFramer.ts) and decoded once whole, so a big one
 * (a 26 MB DUMP, an LRANGE of 100,000 elements) costs time linear in its size, not one copy
 * and one walk of everything received so far per socket read.
 */
import net from 'node:net';
import tls from 'node:tls';
import { EventEmitter } from 'node:events';
import { BackendError, RedisReplyError } from '../errors';
import { parseAddress } from './address';
import { DecodeOptions, encodeCommand, parseReply, RespArg, RespValue } from './codec';
import { ReplyFramer } from './ReplyFramer';

export interface RespClientOptions {
  /** TCP connect plus AUTH; default 3000 ms. */
  connectTimeoutMs?: number;
  /** Default per-command timeout (ms); 0 or unset: commands wait for their reply. */
  commandTimeoutMs?: number;
  /** AUTH on every new connection when a password is set (username empty: the default user). */
  username?: string;
  password?: string;
  /** Bulk strings as UTF-8 strings instead of Buffers. */
  strings?: boolean;
  /** After a failure, connect again on the next command (default true). */
  reconnect?: boolean;
  /** Connect over TLS with these options (backend.tls: redis-servers on their tls-port). */
  tls?: tls.ConnectionOptions;
}

interface Pending {
  resolve: (value: RespValue) => void;
  reject: (err: Error) => void;
  timer?: NodeJS.Timeout;
  /** Resolve with the reply's bytes, error replies included. */
  raw?: boolean;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 3000;

export class RespClient extends EventEmitter {
  private socket: net.Socket | null = null;
  /** Connected and authenticated: commands are written at once. */
  private ready = false;
  private connecting: Promise<void> | null = null;
  private connectWaiter: { resolve: () => void; reject: (err: Error) => void; timer: NodeJS.Timeout } | null = null;
  /** The socket's replies, whole (a new one per connection). */
  private framer = new ReplyFramer();
  /** Written, waiting for their replies, in order. */
  private readonly pending: Pending[] = [];
  /** Waiting for the connection (written, in order, once it is ready). */
  private queued: { entry: Pending; bytes: Buffer }[] = [];
  private closedByUs = false;
  private failed = false;
  private onPush?: (message: RespValue[]) => void;
  private onPatternPush?: (channel: Buffer, payload: Buffer) => void;
  private readonly decode: DecodeOptions;

  constructor(readonly address: string, private readonly options: RespClientOptions = {}) {
    super();
    this.decode = { strings: options.strings, address };
  }

  /** A connected (and authenticated) client; rejects on connect errors, timeouts and AUTH errors. */
  static async connect(address: string, options: RespClientOptions = {}): Promise<RespClient> {
    const client = new RespClient(address, options);
    await client.connect();
    return client;
  }

  /** Closed by close(), or failed with `reconnect: false`: every command rejects. */
  get isClosed(): boolean {
    return this.closedByUs || this.failed;
  }

  get connected(): boolean {
    return this.ready;
  }

  /** Connect now (commands also connect on their own). */
  connect(): Promise<void> {
    if (this.isClosed) return Promise.reject(this.error('connection closed'));
    if (this.ready) return Promise.resolve();
    return (this.connecting ??= this.open());
  }

  /** Run one command; `timeoutMs` overrides `commandTimeoutMs` for this call (0: none). */
  command(args: readonly RespArg[], timeoutMs?: number): Promise<RespValue> {
    return this.enqueue(encodeCommand(args), String(args[0]), timeoutMs, false);
  }

  /** Send an already encoded command; resolves with the reply's bytes (an error reply too). */
  raw(encoded: Buffer, timeoutMs?: number): Promise<Buffer> {
    return this.enqueue(encoded, 'command', timeoutMs, true) as Promise<Buffer>;
  }

  /** Several commands in one write; each result in order, error replies and failures as values. */
  pipeline(commands: readonly (readonly RespArg[])[], timeoutMs?: number): Promise<Array<RespValue | Error>> {
    const socket = this.ready ? this.socket : null;
    socket?.cork();
    const results = commands.map((c) => this.command(c, timeoutMs).catch((err: Error) => err));
    socket?.uncork();
    return Promise.all(results);
  }

  /**
   * SUBSCRIBE to `channels`; from then on published messages go to `onMessage` (subscribe
   * confirmations still answer the SUBSCRIBE commands). Resolves when all are confirmed.
   */
  async subscribe(channels: readonly string[], onMessage: (channel: string, payload: string) => void): Promise<void> {
    this.onPush = (msg) => onMessage(String(msg[1]), String(msg[2]));
    for (const channel of channels) await this.command(['SUBSCRIBE', channel]);
  }

  /**
   * PSUBSCRIBE to `pattern`; from then on `pmessage` pushes go to `onMessage` with the channel
   * and payload as raw bytes (keyspace notifications carry binary key names in the channel).
   * Resolves when the subscription is confirmed. Only bulk-string decoding (no `strings`) keeps
   * the bytes exact.
   */
  async psubscribe(pattern: RespArg, onMessage: (channel: Buffer, payload: Buffer) => void): Promise<void> {
    this.onPatternPush = onMessage;
    await this.command(['PSUBSCRIBE', pattern]);
  }

  /** Close for good: commands in flight and later ones reject. */
  close(): void {
    this.closedByUs = true;
    this.fail(this.error('connection closed by Kvstore'));
  }

  private enqueue(bytes: Buffer, name: string, timeoutMs: number | undefined, raw: boolean): Promise<RespValue> {
    if (this.isClosed) return Promise.reject(this.error('connection closed'));
    return new Promise<RespValue>((resolve, reject) => {
      const entry: Pending = { resolve, reject, raw };
      const ms = timeoutMs ?? this.options.commandTimeoutMs ?? 0;
      if (ms > 0) entry.timer = setTimeout(() => this.fail(this.error(`${name} timed out after ${ms} ms`)), ms);
      if (this.ready) {
        this.pending.push(entry);
        this.socket!.write(bytes);
      } else {
        this.queued.push({ entry, bytes });
        // A failed connect rejects the queued commands itself.
        this.connect().catch(() => undefined);
      }
    });
  }

  private open(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const ms = this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
      const timer = setTimeout(() => this.fail(this.error(`connect timed out after ${ms} ms`)), ms);
      this.connectWaiter = { resolve, reject, timer };
      let socket: net.Socket;
      try {
        const { host, port } = parseAddress(this.address);
        socket = this.options.tls ? tls.connect({ host, port, ...this.options.tls }) : net.connect({ host, port });
      } catch (err) {
        // Not synchronously: connect() has not stored this attempt yet.
        process.nextTick(() => this.fail(err as Error));
        return;
      }
      this.socket = socket;
      this.framer = new ReplyFramer();
      socket.setNoDelay(true);
      socket.on('data', (chunk: Buffer) => {
        if (this.socket === socket) this.onData(chunk);
      });
      socket.on('error', (err) => {
        if (this.socket === socket) this.fail(this.error(err.message));
      });
      socket.on('close', () => {
        if (this.socket === socket) this.fail(this.error('connection closed'));
      });
      socket.once(this.options.tls ? 'secureConnect' : 'connect', () => {
        if (this.socket !== socket) return;
        const { username, password } = this.options;
        if (!password) return this.becomeReady();
        // AUTH goes first; an error reply fails the connection (and so this connect).
        this.pending.push({
          resolve: () => this.becomeReady(),
          reject: (err) => this.fail(err),
        });
        socket.write(encodeCommand(username ? ['AUTH', username, password] : ['AUTH', password]));
      });
    });
  }

  private becomeReady(): void {
    const waiter = this.connectWaiter;
    if (!waiter) return;
    this.connectWaiter = null;
    this.connecting = null;
    clearTimeout(waiter.timer);
    this.ready = true;
    const queued = this.queued;
    this.queued = [];
    if (queued.length) {
      for (const q of queued) this.pending.push(q.entry);
      this.socket!.write(queued.length === 1 ? queued[0].bytes : Buffer.concat(queued.map((q) => q.bytes)));
    }
    waiter.resolve();
  }

  private onData(chunk: Buffer): void {
    const socket = this.socket;
    const framed = this.framer.feed(chunk, 0, chunk.length, (buf, start, end) => {
      let parsed;
      try {
        parsed = parseReply(buf, start, this.decode);
        // The framer and the decoder read RESP alike; a disagreement is a broken stream.
        if (parsed === undefined || parsed.next !== end) throw this.error(`not a RESP reply: could not decode the ${end - start} bytes framed as one reply`);
      } catch (err) {
        this.fail(err as Error);
        return false;
      }
      this.dispatch(parsed.value, buf, start, end);
      return this.socket === socket; // false: a push handler closed us
    });
    if (!framed && this.socket === socket) this.fail(this.error(`not a RESP reply: ${JSON.stringify(chunk.toString('latin1', 0, Math.min(chunk.length, 40)))}...`));
  }

  private dispatch(value: RespValue, buf: Buffer, start: number, end: number): void {
    // In subscribe mode published messages arrive unasked.
    if (this.onPush && Array.isArray(value) && value.length === 3 && String(value[0]) === 'message') {
      this.onPush(value);
      return;
    }
    if (this.onPatternPush && Array.isArray(value) && value.length === 4 && String(value[0]) === 'pmessage') {
      const bytes = (v: RespValue) => (Buffer.isBuffer(v) ? v : Buffer.from(String(v)));
      this.onPatternPush(bytes(value[2]), bytes(value[3]));
      return;
    }
    const p = this.pending.shift();
    if (!p) return;
    if (p.timer) clearTimeout(p.timer);
    if (p.raw) p.resolve(Buffer.from(buf.subarray(start, end)));
    else if (value instanceof RedisReplyError) p.reject(value);
    else p.resolve(value);
  }

  /** The connection (or the attempt) is over: reject everything waiting, tell listeners. */
  private fail(err: Error): void {
    const socket = this.socket;
    const wasReady = this.ready;
    this.socket = null;
    this.ready = false;
    this.connecting = null;
    this.framer.clear();
    if (this.options.reconnect === false) this.failed = true;
    socket?.destroy();
    const waiter = this.connectWaiter;
    this.connectWaiter = null;
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.reject(err);
    }
    const waiting = [...this.pending.splice(0), ...this.queued.splice(0).map((q) => q.entry)];
    for (const p of waiting) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(err);
    }
    if (wasReady) this.emit('close', err);
  }

  private error(message: string): BackendError {
    return new BackendError(`${this.address}: ${message}`, undefined, this.address);
  }
}

/** Connect, run one command, close: for rare administrative calls. */
export async function oneShot(address: string, args: readonly RespArg[], options: RespClientOptions = {}): Promise<RespValue> {
  const client = await RespClient.connect(address, options);
  try {
    return await client.command(args);
  } finally {
    client.close();
  }
}
