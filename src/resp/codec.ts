/**
 * RESP for the control plane and the proxy's slow paths: encode a command, decode replies into
 * values. The hot path does not use it (the native core frames and forwards bytes untouched).
 *
 * Decoded values: simple string → string, error → RedisReplyError (a value, also inside arrays),
 * integer → number (bigint beyond 2^53), bulk string → Buffer (or a UTF-8 string with
 * `strings`), null bulk / null array → null, array → RespValue[].
 * RESP3 (what a shard answers on a connection that spoke HELLO 3, for RESP3 clients' fan-outs):
 * `_` → null, `#t`/`#f` → 1/0, `,` double → its text, `(` big number → bigint, `=` verbatim →
 * its body without the `txt:` format, `!` blob error → RedisReplyError, map `%` → flat
 * [key, value, ...] array, set `~` and push `>` → array, attributes `|` are skipped.
 */
import { BackendError, RedisReplyError } from '../errors';

export type RespArg = string | number | Buffer;
export type RespValue = string | number | bigint | Buffer | null | RedisReplyError | RespValue[];

export interface DecodeOptions {
  /** Bulk strings as UTF-8 strings instead of Buffers (Sentinel and INFO replies are text). */
  strings?: boolean;
  /** The server's address, for error replies and protocol errors. */
  address?: string;
}

const CR = 0x0d;

/** A command as a RESP array of bulk strings (what a client library sends). */
export function encodeCommand(args: readonly RespArg[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/**
 * Decode one reply starting at `pos`. Returns the value and the position after it, or undefined
 * when `buf` does not hold the whole reply yet (read more and call again from the same `pos`).
 * Throws BackendError on bytes that are not RESP2.
 */
export function parseReply(buf: Buffer, pos: number, options: DecodeOptions = {}): { value: RespValue; next: number } | undefined {
  if (pos >= buf.length) return undefined;
  const eol = buf.indexOf(CR, pos + 1);
  if (eol < 0 || eol + 1 >= buf.length) return undefined;
  if (buf[eol + 1] !== 0x0a) throw notResp(`CR without LF at ${eol}`, options);
  const type = buf[pos];
  const next = eol + 2;
  switch (type) {
    case 0x2b: // +
      return { value: buf.toString('utf8', pos + 1, eol), next };
    case 0x2d: // -
      return { value: new RedisReplyError(buf.toString('utf8', pos + 1, eol), options.address), next };
    case 0x3a: { // :
      const text = buf.toString('latin1', pos + 1, eol);
      const n = Number(text);
      if (!/^-?\d+$/.test(text)) throw notResp(`bad integer "${text}"`, options);
      return { value: Number.isSafeInteger(n) ? n : BigInt(text), next };
    }
    case 0x24: { // $
      const len = lengthOf(buf, pos, eol, options);
      if (len < 0) return { value: null, next };
      const end = next + len;
      if (buf.length < end + 2) return undefined;
      return { value: options.strings ? buf.toString('utf8', next, end) : buf.subarray(next, end), next: end + 2 };
    }
    case 0x5f: // _ null
      return { value: null, next };
    case 0x23: // # boolean
      return { value: buf[pos + 1] === 0x74 ? 1 : 0, next };
    case 0x2c: // , double
      return { value: buf.toString('latin1', pos + 1, eol), next };
    case 0x28: // ( big number
      return { value: BigInt(buf.toString('latin1', pos + 1, eol)), next };
    case 0x3d: // = verbatim
    case 0x21: { // ! blob error
      const len = lengthOf(buf, pos, eol, options);
      const end = next + len;
      if (buf.length < end + 2) return undefined;
      if (type === 0x21) return { value: new RedisReplyError(buf.toString('utf8', next, end), options.address), next: end + 2 };
      const body = buf.subarray(next + 4, end);
      return { value: options.strings ? body.toString('utf8') : body, next: end + 2 };
    }
    case 0x2a: // * array
    case 0x25: // % map
    case 0x7e: // ~ set
    case 0x3e: // > push
    case 0x7c: { // | attribute: skipped, the value it annotates follows
      const n = lengthOf(buf, pos, eol, options);
      if (n < 0) return { value: null, next }; // *-1: the RESP2 null array
      const count = type === 0x25 || type === 0x7c ? n * 2 : n;
      const items: RespValue[] = new Array(count);
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, at, options);
        if (!item) return undefined;
        items[i] = item.value;
        at = item.next;
      }
      if (type === 0x7c) return parseReply(buf, at, options);
      return { value: items, next: at };
    }
    default:
      throw notResp(`type byte 0x${type.toString(16)}`, options);
  }
}

/**
 * Where the reply at `pos` ends (the offset just after it), without decoding it: for walking the
 * elements of a reply as raw bytes. -1 when `buf` does not hold all of it yet.
 */
export function replyEnd(buf: Buffer, pos: number): number {
  if (pos >= buf.length) return -1;
  const eol = buf.indexOf(CR, pos + 1);
  if (eol < 0 || eol + 1 >= buf.length) return -1;
  const type = buf[pos];
  // + - : and RESP3's _ # , (
  if (type === 0x2b || type === 0x2d || type === 0x3a || type === 0x5f || type === 0x23 || type === 0x2c || type === 0x28) return eol + 2;
  const blob = type === 0x24 || type === 0x3d || type === 0x21;
  const pairs = type === 0x25 || type === 0x7c;
  if (!blob && !pairs && type !== 0x2a && type !== 0x7e && type !== 0x3e) throw notResp(`type byte 0x${type.toString(16)}`, {});
  const n = lengthOf(buf, pos, eol, {});
  if (n < 0) return eol + 2;
  if (blob) return eol + 4 + n <= buf.length ? eol + 4 + n : -1;
  let at = eol + 2;
  const count = pairs ? n * 2 : n;
  for (let i = 0; i < count && at >= 0; i++) at = replyEnd(buf, at);
  // An attribute is followed by the value it annotates.
  return type === 0x7c && at >= 0 ? replyEnd(buf, at) : at;
}

/** Decode a buffer that holds exactly one whole reply (a reply the proxy collected). */
export function decodeReply(buf: Buffer, options: DecodeOptions = {}): RespValue {
  const parsed = parseReply(buf, 0, options);
  if (!parsed) throw notResp('incomplete reply', options);
  if (parsed.next !== buf.length) throw notResp(`${buf.length - parsed.next} trailing bytes after the reply`, options);
  return parsed.value;
}

/** INFO text as a flat field → value map (section headers and blank lines skipped). */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

function lengthOf(buf: Buffer, pos: number, eol: number, options: DecodeOptions): number {
  const text = buf.toString('latin1', pos + 1, eol);
  const n = Number(text);
  if (!/^-?\d+$/.test(text) || n < -1) throw notResp(`bad length "${text}"`, options);
  return n;
}

function notResp(what: string, options: DecodeOptions): BackendError {
  const from = options.address ? ` from ${options.address}` : '';
  return new BackendError(`not a RESP reply${from}: ${what}`, undefined, options.address);
}
