/**
 * A small RESP2 client for the primary's control connections (health PINGs, INFO, REPLICAOF,
 * CLIENT PAUSE, FLUSHALL, Sentinel queries and subscriptions). Deliberately not ioredis: no
 * reconnects, no offline queue, no retries. A control decision must see a failure at once, and
 * every command has a hard timeout after which the connection is destroyed (a late reply
 * would otherwise be matched to the next command).
 */
import net from 'node:net';
import { EventEmitter } from 'node:events';
import { BackendError, KvstoreError } from '../errors';

export type RespValue = string | Buffer | number | null | RespValue[] | RedisReplyError;

/** An error reply (`-ERR ...`) from a server, as opposed to a connection failure. */
export class RedisReplyError extends KvstoreError {
  constructor(message: string, readonly address: string) {
    super('E_REPLY', message);
  }
}

export interface RespClientOptions {
  /** Connect timeout and default per-command timeout. */
  timeoutMs: number;
  username?: string;
  password?: string;
  /** Bulk strings as Buffers (binary-safe key names) instead of UTF-8 strings. */
  buffers?: boolean;
}

interface Pending {
  resolve: (value: RespValue) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export function parseAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  if (i <= 0) throw new KvstoreError('E_ADDRESS', `bad address "${address}": expected host:port`);
  let host = address.slice(0, i);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const port = Number(address.slice(i + 1));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new KvstoreError('E_ADDRESS', `bad port in "${address}"`);
  return { host, port };
}

/** Encode one command as a RESP array of bulk strings. */
export function encodeCommand(args: (string | number | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Parse one reply at `pos`; undefined when the buffer does not hold a complete one yet. */
export function parseReply(buf: Buffer, pos: number, address = '', buffers = false): { value: RespValue; next: number } | undefined {
  if (pos >= buf.length) return undefined;
  const eol = buf.indexOf('\r\n', pos);
  if (eol < 0) return undefined;
  const type = buf[pos];
  const line = buf.toString('utf8', pos + 1, eol);
  switch (type) {
    case 0x2b: // +
      return { value: line, next: eol + 2 };
    case 0x2d: // -
      return { value: new RedisReplyError(line, address), next: eol + 2 };
    case 0x3a: // :
      return { value: Number(line), next: eol + 2 };
    case 0x24: { // $
      const len = Number(line);
      if (len < 0) return { value: null, next: eol + 2 };
      const end = eol + 2 + len;
      if (buf.length < end + 2) return undefined;
      return { value: buffers ? Buffer.from(buf.subarray(eol + 2, end)) : buf.toString('utf8', eol + 2, end), next: end + 2 };
    }
    case 0x2a: { // *
      const n = Number(line);
      if (n < 0) return { value: null, next: eol + 2 };
      const items: RespValue[] = [];
      let next = eol + 2;
      for (let i = 0; i < n; i++) {
        const item = parseReply(buf, next, address, buffers);
        if (!item) return undefined;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new BackendError(`unexpected RESP type byte 0x${type.toString(16)} from ${address}`, undefined, address);
  }
}

/** Parse INFO text into a flat key → value map. */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

export class RespClient extends EventEmitter {
  private socket: net.Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private readonly pending: Pending[] = [];
  private closed = false;
  private onPush?: (message: RespValue[]) => void;

  private constructor(readonly address: string, private readonly options: RespClientOptions, socket: net.Socket) {
    super();
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', (err) => this.fail(new BackendError(`${address}: ${err.message}`, undefined, address)));
    socket.on('close', () => this.fail(new BackendError(`${address}: connection closed`, undefined, address)));
  }

  /** Connect (and AUTH when a password is configured) within `timeoutMs`. */
  static connect(address: string, options: RespClientOptions): Promise<RespClient> {
    const { host, port } = parseAddress(address);
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new BackendError(`${address}: connect timed out after ${options.timeoutMs} ms`, undefined, address));
      }, options.timeoutMs);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new BackendError(`${address}: ${err.message}`, undefined, address));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        const client = new RespClient(address, options, socket);
        if (!options.password) return resolve(client);
        const auth = options.username ? ['AUTH', options.username, options.password] : ['AUTH', options.password];
        client.command(auth).then(() => resolve(client), (err) => {
          client.close();
          reject(err);
        });
      });
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Send one command; resolves with its reply, rejects on an error reply, a closed connection or the timeout. */
  command(args: (string | number | Buffer)[], timeoutMs = this.options.timeoutMs): Promise<RespValue> {
    if (this.closed) return Promise.reject(new BackendError(`${this.address}: connection closed`, undefined, this.address));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new BackendError(`${this.address}: ${String(args[0])} timed out after ${timeoutMs} ms`, undefined, this.address));
      }, timeoutMs);
      this.pending.push({
        resolve: (v) => (v instanceof RedisReplyError ? reject(v) : resolve(v)),
        reject,
        timer,
      });
      this.socket.write(encodeCommand(args));
    });
  }

  /** SUBSCRIBE to channels; from then on only push messages arrive (`onMessage(channel, payload)`). */
  async subscribe(channels: string[], onMessage: (channel: string, payload: string) => void): Promise<void> {
    this.onPush = (msg) => {
      if (msg[0] === 'message' && typeof msg[1] === 'string' && typeof msg[2] === 'string') onMessage(msg[1], msg[2]);
    };
    for (const ch of channels) await this.command(['SUBSCRIBE', ch]);
  }

  close(): void {
    this.fail(new BackendError(`${this.address}: connection closed by Kvstore`, undefined, this.address));
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    let pos = 0;
    for (;;) {
      let parsed;
      try {
        parsed = parseReply(this.buffer, pos, this.address, this.options.buffers);
      } catch (err) {
        this.fail(err as Error);
        return;
      }
      if (!parsed) break;
      pos = parsed.next;
      this.dispatch(parsed.value);
    }
    this.buffer = pos >= this.buffer.length ? Buffer.alloc(0) : this.buffer.subarray(pos);
  }

  private dispatch(value: RespValue): void {
    // In subscribe mode, pushes ('message') arrive unasked; subscribe confirmations answer commands.
    if (this.onPush && Array.isArray(value) && value[0] === 'message') {
      this.onPush(value);
      return;
    }
    const p = this.pending.shift();
    if (!p) return;
    clearTimeout(p.timer);
    p.resolve(value);
  }

  private fail(err: Error): void {
    if (!this.closed) {
      this.closed = true;
      this.socket.destroy();
      this.emit('close', err);
    }
    for (const p of this.pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(err);
    }
  }
}

/** Connect, run one command, close: for rare administrative calls. */
export async function oneShot(address: string, args: (string | number | Buffer)[], options: RespClientOptions): Promise<RespValue> {
  const client = await RespClient.connect(address, options);
  try {
    return await client.command(args);
  } finally {
    client.close();
  }
}
