/**
 * RESP2 encoding for replies the proxy builds itself, and a small reply decoder for the slow
 * paths that must look inside backend replies (fan-out merges, SCAN, INFO). The hot path never
 * uses the decoder: it forwards backend bytes untouched.
 */

const CRLF = '\r\n';

export const OK = Buffer.from('+OK\r\n');
export const PONG = Buffer.from('+PONG\r\n');
export const NULL_BULK = Buffer.from('$-1\r\n');
export const EMPTY_ARRAY = Buffer.from('*0\r\n');

export function errorReply(text: string): Buffer {
  // Like Redis's addReplyError: no CR/LF may break the line.
  return Buffer.from(`-${text.replace(/[\r\n]/g, ' ')}\r\n`);
}

export function simpleReply(text: string): Buffer {
  return Buffer.from(`+${text}\r\n`);
}

export function integerReply(n: number | bigint): Buffer {
  return Buffer.from(`:${n}\r\n`);
}

export function bulkReply(value: Buffer | string | null): Buffer {
  if (value === null) return NULL_BULK;
  const body = typeof value === 'string' ? Buffer.from(value) : value;
  return Buffer.concat([Buffer.from(`$${body.length}\r\n`), body, Buffer.from(CRLF)]);
}

/** An array reply whose elements are already-encoded RESP replies. */
export function arrayReply(encodedItems: Buffer[]): Buffer {
  return Buffer.concat([Buffer.from(`*${encodedItems.length}\r\n`), ...encodedItems]);
}

/** A command as a RESP array of bulk strings (what a client library sends). */
export function encodeCommand(args: ReadonlyArray<Buffer | string>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const b = typeof arg === 'string' ? Buffer.from(arg) : arg;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from(CRLF));
  }
  return Buffer.concat(parts);
}

/* ---------- decoding (slow path) ---------- */

export class ReplyError {
  constructor(readonly message: string) {}
}

export type ReplyValue = string | number | bigint | Buffer | null | ReplyError | ReplyValue[];

/** Decode one complete RESP2 reply. Throws if it is incomplete or malformed. */
export function decodeReply(buf: Buffer): ReplyValue {
  const [value, end] = decodeAt(buf, 0);
  if (end !== buf.length) throw new Error(`trailing bytes after reply (${buf.length - end})`);
  return value;
}

function lineEnd(buf: Buffer, from: number): number {
  const i = buf.indexOf(CRLF, from);
  if (i < 0) throw new Error('incomplete reply');
  return i;
}

function decodeAt(buf: Buffer, pos: number): [ReplyValue, number] {
  const type = buf[pos];
  const end = lineEnd(buf, pos + 1);
  const line = buf.toString('latin1', pos + 1, end);
  const next = end + 2;
  switch (type) {
    case 0x2b: // +
      return [line, next];
    case 0x2d: // -
      return [new ReplyError(buf.toString('utf8', pos + 1, end)), next];
    case 0x3a: {
      // :
      const n = Number(line);
      return [Number.isSafeInteger(n) ? n : BigInt(line), next];
    }
    case 0x24: {
      // $
      const len = Number(line);
      if (len < 0) return [null, next];
      if (next + len + 2 > buf.length) throw new Error('incomplete reply');
      return [buf.subarray(next, next + len), next + len + 2];
    }
    case 0x2a: {
      // *
      const count = Number(line);
      if (count < 0) return [null, next];
      const items: ReplyValue[] = [];
      let p = next;
      for (let i = 0; i < count; i++) {
        const [item, after] = decodeAt(buf, p);
        items.push(item);
        p = after;
      }
      return [items, p];
    }
    default:
      throw new Error(`not a RESP reply (type byte ${type})`);
  }
}

/** Encode a decoded value back (used after slow-path merges). */
export function encodeReply(value: ReplyValue): Buffer {
  if (value === null) return NULL_BULK;
  if (value instanceof ReplyError) return errorReply(value.message);
  if (Buffer.isBuffer(value)) return bulkReply(value);
  if (Array.isArray(value)) return arrayReply(value.map(encodeReply));
  if (typeof value === 'string') return simpleReply(value);
  return integerReply(value);
}

export function isErrorReply(buf: Buffer): boolean {
  return buf[0] === 0x2d;
}
