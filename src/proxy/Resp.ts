/**
 * Encoding for replies the proxy builds itself: RESP2, and the RESP3 types Redis 7.0 uses where a
 * client chose `HELLO 3` (maps, nulls, verbatim strings), so both match a direct redis-server. Commands are encoded, and backend replies
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

export type Proto = 2 | 3;

export const NULL3 = Buffer.from('_\r\n');

/** A null bulk as the client's protocol spells it. */
export function nullReply(proto: Proto): Buffer {
  return proto === 3 ? NULL3 : NULL_BULK;
}

/** Either protocol's null bulk (a shard's reply on a RESP2 or RESP3 connection). */
export function isNullReply(buf: Buffer): boolean {
  return (buf[0] === 0x5f && buf.length === 3) || buf.equals(NULL_BULK);
}

/** A map from already-encoded keys and values, flat: RESP3 `%`, RESP2 a flat array. */
export function mapReply(proto: Proto, flatPairs: Buffer[]): Buffer {
  const header = proto === 3 ? `%${flatPairs.length / 2}\r\n` : `*${flatPairs.length}\r\n`;
  return Buffer.concat([Buffer.from(header), ...flatPairs]);
}

/** Text Redis sends as a verbatim string in RESP3 (INFO, CLIENT INFO/LIST): `=len\r\ntxt:...`. */
export function verbatimReply(proto: Proto, text: string | Buffer): Buffer {
  const body = typeof text === 'string' ? Buffer.from(text) : text;
  if (proto === 2) return bulkReply(body);
  return Buffer.concat([Buffer.from(`=${body.length + 4}\r\ntxt:`), body, Buffer.from(CRLF)]);
}
