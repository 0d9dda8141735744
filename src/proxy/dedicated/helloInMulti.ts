/**
 * HELLO inside MULTI, as Redis 7.0 runs it: queued (+QUEUED), executed at EXEC in its place, so
 * that the replies after it in EXEC's array, and the client's replies after EXEC, are in the
 * protocol it chose. The transaction runs on a dedicated shard connection whose replies pass
 * through byte for byte, so that connection must switch at the same place: the shard queues a
 * stand-in, `HELLO <ver>` when the client's HELLO will switch to <ver> (checked at queue time with
 * nothing changed: ProxyCommands.helloSwitchesTo), `PING` otherwise. AUTH and SETNAME never reach
 * the shard. At EXEC the proxy runs the client's HELLO (its own answer: the proxy's id, mode,
 * version) and puts that reply in the stand-in's place in EXEC's array.
 */
import { encodeCommand, replyEnd } from '../../resp';

export interface QueuedHello {
  /** Its place among the commands queued since MULTI (= its element of EXEC's array). */
  readonly index: number;
  readonly args: Buffer[];
  /** The protocol its stand-in switches the shard connection to (0: none, the stand-in is PING). */
  readonly switchesTo: 0 | 2 | 3;
}

const STAND_INS = { 0: encodeCommand(['PING']), 2: encodeCommand(['HELLO', '2']), 3: encodeCommand(['HELLO', '3']) } as const;

/** What the shard queues for `hello`. */
export function standIn(hello: QueuedHello): Buffer {
  return STAND_INS[hello.switchesTo];
}

/** The protocol a connection speaking `before` speaks after EXEC ran `hellos`' stand-ins. */
export function protoAfter(hellos: readonly QueuedHello[], before: 2 | 3): 2 | 3 {
  let proto = before;
  for (const h of hellos) if (h.switchesTo !== 0) proto = h.switchesTo;
  return proto;
}

/**
 * EXEC's reply with each stand-in's element replaced by `run(hello)` (run in order: it applies
 * the HELLO). Anything but an array (a failed WATCH's null, -EXECABORT) ran nothing: returned
 * as it is, and `run` is not called. Null when the reply is an array the proxy cannot walk (the
 * caller then closes the connection rather than pass on a half-switched protocol).
 */
export function execReplyWithHellos(reply: Buffer, hellos: readonly QueuedHello[], run: (hello: QueuedHello) => Buffer): Buffer | null {
  if (reply.length === 0 || reply[0] !== 0x2a /* '*' */) return reply;
  const eol = reply.indexOf('\r\n', 1);
  const count = Number(reply.toString('latin1', 1, eol));
  if (!Number.isInteger(count) || count < 0) return reply; // *-1: WATCH failed
  // Walk it whole first: a HELLO is applied only once the reply is known to be sound.
  const ends: number[] = [];
  let at = eol + 2;
  for (let i = 0; i < count; i++) {
    at = replyEnd(reply, at);
    if (at < 0) return null;
    ends.push(at);
  }
  if (at !== reply.length || hellos.some((h) => h.index >= count)) return null;
  const parts: Buffer[] = [reply.subarray(0, eol + 2)];
  let next = 0;
  for (let i = 0; i < count; i++) {
    if (next < hellos.length && hellos[next].index === i) parts.push(run(hellos[next++]));
    else parts.push(reply.subarray(i === 0 ? eol + 2 : ends[i - 1], ends[i]));
  }
  return Buffer.concat(parts);
}
