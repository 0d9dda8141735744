/**
 * A small pipelined RESP2 client for control traffic (the migrator's SCAN/MIGRATE, the workers'
 * MIGRATE-on-access). The data path does not use it. Replies: string (simple), Buffer (bulk),
 * number, null, arrays of those; a `-ERR` reply rejects with RespReplyError.
 */
import net from 'node:net';
import { BackendError } from '../errors';

export type RespValue = string | number | Buffer | null | RespValue[];
export type RespArg = string | Buffer | number;

export class RespReplyError extends BackendError {
  constructor(readonly reply: string, address: string) {
    super(reply, undefined, address);
  }
}

interface Pending {
  resolve: (v: RespValue) => void;
  reject: (e: Error) => void;
  /** Resolve with the reply's bytes, errors included (as the proxy's backends do). */
  raw?: boolean;
}

export interface RespClientOptions {
  connectTimeoutMs?: number;
  /** AUTH sent on connect (username may be empty). */
  username?: string;
  password?: string;
}

export function encodeCommand(args: readonly RespArg[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Parse one reply at `pos`; returns [value, nextPos] or null when incomplete. Errors come back as Error values. */
export function parseReply(buf: Buffer, pos: number): [RespValue | Error, number] | null {
  if (pos >= buf.length) return null;
  const lineEnd = buf.indexOf('\r\n', pos);
  if (lineEnd < 0) return null;
  const type = buf[pos];
  const line = buf.toString('utf8', pos + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case 43: // +
      return [line, next];
    case 45: // -
      return [new Error(line), next];
    case 58: // :
      return [Number(line), next];
    case 36: { // $
      const len = Number(line);
      if (len < 0) return [null, next];
      if (next + len + 2 > buf.length) return null;
      return [buf.subarray(next, next + len), next + len + 2];
    }
    case 42: { // *
      const n = Number(line);
      if (n < 0) return [null, next];
      const items: RespValue[] = [];
      let p = next;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, p);
        if (!r) return null;
        items.push(r[0] instanceof Error ? r[0].message : r[0]);
        p = r[1];
      }
      return [items, p];
    }
    default:
      throw new BackendError(`not RESP: byte ${type}`);
  }
}

export class RespClient {
  private socket: net.Socket | null = null;
  private connecting: Promise<net.Socket> | null = null;
  private buffer: Buffer = Buffer.alloc(0);
  private readonly queue: Pending[] = [];
  private closed = false;
  readonly host: string;
  readonly port: number;

  constructor(readonly address: string, private readonly options: RespClientOptions = {}) {
    const i = address.lastIndexOf(':');
    this.host = address.slice(0, i).replace(/^\[|\]$/g, '');
    this.port = Number(address.slice(i + 1));
  }

  private connect(): Promise<net.Socket> {
    if (this.socket) return Promise.resolve(this.socket);
    if (this.connecting) return this.connecting;
    this.connecting = new Promise<net.Socket>((resolve, reject) => {
      const socket = net.connect({ host: this.host, port: this.port });
      socket.setNoDelay(true);
      const timer = setTimeout(() => socket.destroy(new BackendError(`connect timeout`, undefined, this.address)), this.options.connectTimeoutMs ?? 3000);
      socket.once('connect', () => {
        clearTimeout(timer);
        this.socket = socket;
        this.connecting = null;
        resolve(socket);
      });
      socket.on('data', (chunk) => this.onData(chunk));
      socket.on('error', (err) => {
        clearTimeout(timer);
        this.fail(new BackendError(`${this.address}: ${err.message}`, undefined, this.address));
        if (this.connecting) {
          this.connecting = null;
          reject(new BackendError(`${this.address}: ${err.message}`, undefined, this.address));
        }
      });
      socket.on('close', () => {
        this.socket = null;
        this.buffer = Buffer.alloc(0);
        this.fail(new BackendError(`${this.address}: connection closed`, undefined, this.address));
      });
    }).then(async (socket) => {
      if (this.options.password) {
        const auth: RespArg[] = this.options.username ? ['AUTH', this.options.username, this.options.password] : ['AUTH', this.options.password];
        await this.send(socket, auth);
      }
      return socket;
    });
    return this.connecting;
  }

  private fail(err: Error): void {
    while (this.queue.length) this.queue.shift()!.reject(err);
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    let pos = 0;
    for (;;) {
      const r = parseReply(this.buffer, pos);
      if (!r) break;
      const start = pos;
      pos = r[1];
      const waiter = this.queue.shift();
      if (!waiter) continue;
      if (waiter.raw) waiter.resolve(Buffer.from(this.buffer.subarray(start, pos)));
      else if (r[0] instanceof Error) waiter.reject(new RespReplyError(r[0].message, this.address));
      else waiter.resolve(r[0]);
    }
    // Copy the tail so the consumed chunk (and bulk replies sliced from it) are not pinned forever.
    this.buffer = pos === 0 ? this.buffer : Buffer.from(this.buffer.subarray(pos));
  }

  private send(socket: net.Socket, args: readonly RespArg[]): Promise<RespValue> {
    return new Promise((resolve, reject) => {
      this.queue.push({ resolve, reject });
      socket.write(encodeCommand(args));
    });
  }

  async command(args: readonly RespArg[]): Promise<RespValue> {
    if (this.closed) throw new BackendError('client closed', undefined, this.address);
    const socket = await this.connect();
    return this.send(socket, args);
  }

  /** Send an encoded command; resolves with the reply's raw bytes (an error reply is not a rejection). */
  async raw(command: Buffer): Promise<Buffer> {
    if (this.closed) throw new BackendError('client closed', undefined, this.address);
    const socket = await this.connect();
    return new Promise((resolve, reject) => {
      this.queue.push({ resolve: resolve as (v: RespValue) => void, reject, raw: true });
      socket.write(command);
    });
  }

  /** Several commands in one write; results (or errors) in order. */
  async pipeline(commands: readonly (readonly RespArg[])[]): Promise<Array<RespValue | Error>> {
    return Promise.all(commands.map((c) => this.command(c).catch((e: Error) => e)));
  }

  close(): void {
    this.closed = true;
    this.socket?.destroy();
    this.socket = null;
  }
}
