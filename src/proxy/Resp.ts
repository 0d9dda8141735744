/**
 * RESP2 encoding for replies the proxy builds itself. Commands are encoded, and backend replies
 * decoded on the slow paths (fan-out merges, SCAN, INFO), by the shared codec in src/resp/.
 */

const CRLF = '\r\n';

export const OK = Buffer.from('+OK\r\n');
export const PONG = Buffer.from('+PONG\r\n');
export const NULL_BULK = Buffer.from('$-1\r\n');
export const EMPTY_ARRAY = Buffer.from('*0\r\n');

/** Error replies: the one encoder (ErrorReply.ts). */
export { errorReply } from './ErrorReply';

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

export function isErrorReply(buf: Buffer): boolean {
  return buf[0] === 0x2d;
}
