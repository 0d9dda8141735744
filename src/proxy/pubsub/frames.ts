/**
 * The pub/sub frames the proxy writes itself (confirmations, the subscribed-mode PONG), byte for
 * byte as Redis 7.0 writes them in RESP2. Messages (`message`/`pmessage`/`smessage`) are not
 * built here: the shard's own frame is copied to every subscriber unchanged.
 *
 * RESP3 (HELLO 3) clients get the same frames as push frames: only the first byte changes
 * (`*` → `>`), and UNSUBSCRIBE with nothing subscribed names the RESP3 null `_`.
 */
import { errorReply } from '../Resp';

/** First byte of a RESP2 array and of a RESP3 push frame. */
export const ARRAY_TYPE = 0x2a;
export const PUSH_TYPE = 0x3e;

export type PubSubKind = 'channel' | 'pattern' | 'shard';

const SUB_WORD: Record<PubSubKind, string> = { channel: 'subscribe', pattern: 'psubscribe', shard: 'ssubscribe' };
const UNSUB_WORD: Record<PubSubKind, string> = { channel: 'unsubscribe', pattern: 'punsubscribe', shard: 'sunsubscribe' };

function bulk(s: Buffer): Uint8Array[] {
  return [Buffer.from(`$${s.length}\r\n`, 'latin1'), s, CRLF];
}

const CRLF = Buffer.from('\r\n');

/** `*3 $9 subscribe $<n> <name> :<count>` (and the p/s forms; `>3 ...` for RESP3). */
export function subscribeFrame(kind: PubSubKind, name: Buffer, count: number, proto: 2 | 3 = 2): Buffer {
  return confirmation(SUB_WORD[kind], name, count, proto);
}

/** `*3 $11 unsubscribe $<n> <name> :<count>`; a null name for UNSUBSCRIBE with nothing subscribed. */
export function unsubscribeFrame(kind: PubSubKind, name: Buffer | null, count: number, proto: 2 | 3 = 2): Buffer {
  return confirmation(UNSUB_WORD[kind], name, count, proto);
}

/** A shard's RESP2 message frame as a RESP3 push frame (a copy). */
export function asPush(frame: Buffer): Buffer {
  const push = Buffer.from(frame);
  push[0] = PUSH_TYPE;
  return push;
}

function confirmation(word: string, name: Buffer | null, count: number, proto: 2 | 3): Buffer {
  const parts: Uint8Array[] = [Buffer.from(`${proto === 3 ? '>' : '*'}3\r\n$${word.length}\r\n${word}\r\n`, 'latin1')];
  if (name === null) parts.push(Buffer.from(proto === 3 ? '_\r\n' : '$-1\r\n'));
  else parts.push(...bulk(name));
  parts.push(Buffer.from(`:${count}\r\n`, 'latin1'));
  return Buffer.concat(parts);
}

/** PING in subscribed mode (RESP2): `*2 $4 pong $0 ""` or with PING's argument. */
export function subscribedPong(arg: Buffer | null): Buffer {
  return Buffer.concat([Buffer.from('*2\r\n$4\r\npong\r\n'), ...bulk(arg ?? Buffer.alloc(0))]);
}

/** Redis 7.0's refusal of any other command in subscribed mode (RESP2). */
export function notInSubscribedContext(name: string): Buffer {
  return errorReply(`ERR Can't execute '${name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`);
}
