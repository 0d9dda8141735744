/**
 * A minimal RESP2 client for the primary's background work on the shards (the reclaim job):
 * one TCP connection, commands pipelined in order, replies as Buffers / numbers / arrays.
 * Errors from Redis reject that command only.
 */
import net from 'node:net';
import { BackendError } from '../errors';

export type RespValue = Buffer | number | null | RespValue[];

export class RedisReplyError extends Error {}

interface Pending {
  resolve: (v: RespValue) => void;
  reject: (e: Error) => void;
}

/** Parse one reply at `pos`; returns [value, next position] or undefined when incomplete. */
function parseReply(buf: Buffer, pos: number): [RespValue | RedisReplyError, number] | undefined {
  if (pos >= buf.length) return undefined;
  const eol = buf.indexOf('\r\n', pos);
  if (eol < 0) return undefined;
  const type = buf[pos];
  const line = buf.toString('latin1', pos + 1, eol);
  const next = eol + 2;
  switch (type) {
    case 0x2b: // +
      return [Buffer.from(line, 'latin1'), next];
    case 0x2d: // -
      return [new RedisReplyError(line), next];
    case 0x3a: // :
      return [Number(line), next];
    case 0x24: { // $
      const len = Number(line);
      if (len < 0) return [null, next];
      if (buf.length < next + len + 2) return undefined;
      return [buf.subarray(next, next + len), next + len + 2];
    }
    case 0x2a: { // *
      const n = Number(line);
      if (n < 0) return [null, next];
      const items: RespValue[] = [];
      let p = next;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, p);
        if (!r) return undefined;
        if (r[0] instanceof RedisReplyError) throw r[0];
        items.push(r[0]);
        p = r[1];
      }
      return [items, p];
    }
    default:
      throw new BackendError(`unexpected RESP type byte ${type}`);
  }
}

export function encodeCommand(args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

export class RespConnection {
  private socket: net.Socket | undefined;
  private buffer: Buffer = Buffer.alloc(0);
  private readonly pending: Pending[] = [];
  private closedError: Error | undefined;

  constructor(readonly address: string, private readonly timeoutMs = 5000) {}

  async connect(auth?: { username?: string; password?: string }): Promise<void> {
    const [host, portText] = splitAddress(this.address);
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect({ host, port: Number(portText) });
      const timer = setTimeout(() => socket.destroy(new BackendError(`connect timeout`, undefined, this.address)), this.timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.setNoDelay(true);
        resolve();
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new BackendError(`cannot connect: ${err.message}`, undefined, this.address));
      });
      socket.on('data', (chunk) => this.onData(chunk));
      socket.on('close', () => this.failAll(new BackendError('connection closed', undefined, this.address)));
      socket.on('error', (err) => this.failAll(new BackendError(err.message, undefined, this.address)));
      this.socket = socket;
    });
    if (auth?.password) {
      await this.call(auth.username ? ['AUTH', auth.username, auth.password] : ['AUTH', auth.password]);
    }
  }

  call(args: (string | Buffer)[]): Promise<RespValue> {
    if (this.closedError || !this.socket) return Promise.reject(this.closedError ?? new BackendError('not connected', undefined, this.address));
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.socket!.write(encodeCommand(args));
    });
  }

  close(): void {
    this.socket?.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    let pos = 0;
    for (;;) {
      let parsed: [RespValue | RedisReplyError, number] | undefined;
      try {
        parsed = parseReply(this.buffer, pos);
      } catch (err) {
        // An error nested in an array: consume nothing more, fail this command.
        this.socket?.destroy(err as Error);
        return;
      }
      if (!parsed) break;
      pos = parsed[1];
      const waiter = this.pending.shift();
      if (!waiter) continue;
      if (parsed[0] instanceof RedisReplyError) waiter.reject(parsed[0]);
      else waiter.resolve(parsed[0]);
    }
    this.buffer = pos === this.buffer.length ? Buffer.alloc(0) : this.buffer.subarray(pos);
  }

  private failAll(err: Error): void {
    this.closedError = err;
    while (this.pending.length) this.pending.shift()!.reject(err);
  }
}

function splitAddress(address: string): [string, string] {
  const i = address.lastIndexOf(':');
  let host = address.slice(0, i);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return [host, address.slice(i + 1)];
}
