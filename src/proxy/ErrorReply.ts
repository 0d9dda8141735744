/**
 * The one encoder for every error reply the proxy builds (prebuilt texts, shard failures,
 * exception messages, texts quoting the client's bytes).
 *
 * - Parts given as strings are Kvstore's own text (UTF-8); parts given as Buffers are bytes from
 *   a client or a server, copied as they are: a 0xff the client sent is quoted as one byte 0xff,
 *   as Redis does (a JS string would turn it into two UTF-8 bytes).
 * - CR and LF never reach the line, whatever a part holds (an exception message, a shard name, a
 *   client's argument): each becomes a space, like Redis's addReplyError. Otherwise a message
 *   with "\r\n+OK\r\n" in it would inject a reply of its own and shift every later reply.
 */

const DASH = 0x2d;
const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;

/** `-<parts>\r\n`. */
export function errorReply(...parts: Array<string | Buffer>): Buffer {
  let length = 3;
  const bytes: Buffer[] = new Array(parts.length);
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    bytes[i] = typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
    length += bytes[i].length;
  }
  const out = Buffer.allocUnsafe(length);
  out[0] = DASH;
  let at = 1;
  for (const b of bytes) at += b.copy(out, at);
  for (let i = 1; i < at; i++) if (out[i] === CR || out[i] === LF) out[i] = SPACE;
  out[at] = CR;
  out[at + 1] = LF;
  return out;
}

/** The text of a thrown value, for an error reply (the encoder removes line breaks). */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
