/**
 * SORT and SORT_RO as a Redis Cluster node runs them (Redis 7.0, sort.c and db.c sortGetKeys).
 *
 * The proxy sends SORT to the shard of its key. There, a BY pattern or a GET would read keys of
 * that shard only: wrong results when they live on other shards, and keys a user restricted to
 * some key patterns may not see (they are not keys to the ACL checks). Redis Cluster refuses
 * them: `-ERR BY option of SORT denied in Cluster mode.` for a BY whose pattern has a `*` (a BY
 * without one, `BY nosort`, only skips sorting) and `-ERR GET option of SORT denied in Cluster
 * mode.` for any GET, `GET #` included. The refusal comes from the option loop, before the key
 * is looked up: the options before it are parsed as usual (a syntax error or a bad LIMIT there is
 * the answer instead, which the shard gives), and it is in a cluster checked before the ACL one
 * (so a restricted user gets the same text). Inside MULTI the command is queued and its error
 * is an element of EXEC's reply: the proxy queues a script that fails with the same text.
 *
 * STORE's destination is a key (sortGetKeys: the last STORE) that the hot path's key specs
 * cannot find, so its slot is checked here: another slot is `-CROSSSLOT`, as in Redis Cluster.
 *
 * Only SORT and SORT_RO reach this file (their own dispatch route, Route.Sort), so no other
 * command pays for it.
 */
import { ARG_STRIDE, C_ARG0, C_ARGC, C_SLOT, SLOT_CROSS } from '../native/api';
import { redisStringToNumber } from '../native/reference/numbers';
import { encodeCommand } from '../resp';
import { NO_SHARD } from '../topology/slots';
import type { CommandRoute } from './CommandRoutes';
import type { QueuedRefusal } from './dedicated/types';
import type { DispatchClient } from './Forwarding';
import type { ProxyContext } from './ProxyContext';
import { ERRORS } from './ReplyTexts';

/** A refused option: the reply, and what a transaction queues instead so EXEC answers the same. */
export type SortRefusal = QueuedRefusal;

/** `redis.error_reply` answers `-<text>` byte for byte (the code is the text's first word). */
function refusal(reply: Buffer, text: string): SortRefusal {
  return { reply, queued: encodeCommand(['EVAL', 'return redis.error_reply(ARGV[1])', '0', text]) };
}

const BY_DENIED = refusal(ERRORS.sortByDenied, 'ERR BY option of SORT denied in Cluster mode.');
const GET_DENIED = refusal(ERRORS.sortGetDenied, 'ERR GET option of SORT denied in Cluster mode.');

/** How docs/commands.md describes them (scripts/gen-commands-doc.ts). */
export const SORT_NOTES: Record<string, string> = {
  sort:
    "As in Redis Cluster: `BY` with a pattern (a `*`) answers `-ERR BY option of SORT denied in Cluster mode.` and any `GET` (`GET #` too) `-ERR GET option of SORT denied in Cluster mode.` (the patterns would read keys of one shard only, and keys a restricted user may not see); `BY nosort` (no `*`) is accepted. `STORE`'s destination must be in the key's slot (`-CROSSSLOT`).",
  sort_ro: 'As SORT: `BY` with a pattern and `GET` are refused as in Redis Cluster.',
};

/**
 * Arguments are compared as Redis compares them (strcasecmp on C strings): a NUL byte ends the
 * argument, so `by\0x` is the word BY.
 */
function isWord(chunk: Buffer, off: number, len: number, word: string): boolean {
  const n = word.length;
  if (len < n) return false;
  for (let i = 0; i < n; i++) if ((chunk[off + i] | 0x20) !== word.charCodeAt(i)) return false;
  return len === n || chunk[off + n] === 0;
}

/** strchr(pattern, '*'): a `*` before any NUL byte. */
function hasStar(chunk: Buffer, off: number, len: number): boolean {
  for (let i = off; i < off + len; i++) {
    if (chunk[i] === 0x2a) return true;
    if (chunk[i] === 0) return false;
  }
  return false;
}

/**
 * sortCommandGeneric's option loop over arguments [2, argc) of the command whose first argument
 * is `a0` in `args` (the parse batch's [offset, length] pairs into `chunk`): the refusal it
 * reaches first, or null when it reaches the end or an error of its own (the shard answers it).
 */
export function sortOptionsRefusal(chunk: Buffer, args: Int32Array, a0: number, argc: number, readonly: boolean): SortRefusal | null {
  for (let j = 2; j < argc; j++) {
    const left = argc - j - 1;
    const at = (a0 + j) * ARG_STRIDE;
    const off = args[at];
    const len = args[at + 1];
    if (isWord(chunk, off, len, 'asc') || isWord(chunk, off, len, 'desc') || isWord(chunk, off, len, 'alpha')) continue;
    if (left >= 2 && isWord(chunk, off, len, 'limit')) {
      if (Number.isNaN(argNumber(chunk, args, a0 + j + 1)) || Number.isNaN(argNumber(chunk, args, a0 + j + 2))) return null;
      j += 2;
    } else if (!readonly && left >= 1 && isWord(chunk, off, len, 'store')) {
      j += 1;
    } else if (left >= 1 && isWord(chunk, off, len, 'by')) {
      const p = (a0 + j + 1) * ARG_STRIDE;
      if (hasStar(chunk, args[p], args[p + 1])) return BY_DENIED;
      j += 1;
    } else if (left >= 1 && isWord(chunk, off, len, 'get')) {
      return GET_DENIED;
    } else {
      return null; // -ERR syntax error
    }
  }
  return null;
}

function argNumber(chunk: Buffer, args: Int32Array, a: number): number {
  const off = args[a * ARG_STRIDE];
  return redisStringToNumber(chunk, off, off + args[a * ARG_STRIDE + 1]);
}

/**
 * sortGetKeys: the argument index (from the command name) of SORT's STORE destination, or -1.
 * Its own loop, not the option parser's: the last STORE followed by an argument, skipping
 * LIMIT's two and GET's and BY's one argument, and not skipping STORE's.
 */
export function sortStoreIndex(chunk: Buffer, args: Int32Array, a0: number, argc: number): number {
  let found = -1;
  for (let i = 2; i < argc; i++) {
    const at = (a0 + i) * ARG_STRIDE;
    const off = args[at];
    const len = args[at + 1];
    if (isWord(chunk, off, len, 'limit')) i += 2;
    else if (isWord(chunk, off, len, 'store') && i + 1 < argc) found = i + 1;
    else if (isWord(chunk, off, len, 'get') || isWord(chunk, off, len, 'by')) i += 1;
  }
  return found;
}

/** The slot of SORT's STORE destination in command `base` of the batch, or -1 without one. */
function storeSlot(ctx: ProxyContext, chunk: Buffer, base: number, route: CommandRoute): number {
  if (route.name !== 'sort') return -1; // SORT_RO's STORE is a syntax error, not a key
  const batch = ctx.binding.batch;
  const a0 = batch.cmds[base + C_ARG0];
  const i = sortStoreIndex(chunk, batch.args, a0, batch.cmds[base + C_ARGC]);
  if (i < 0) return -1;
  const off = batch.args[(a0 + i) * ARG_STRIDE];
  return ctx.binding.hot.keySlot(chunk.subarray(off, off + batch.args[(a0 + i) * ARG_STRIDE + 1]));
}

/** Keys in `slot` and `other` may run together: one slot, or one shard with `crossSlot: shard`. */
function sameTarget(ctx: ProxyContext, slot: number, other: number): boolean {
  if (other === slot) return true;
  const shard = ctx.router.slotTable[slot];
  return ctx.config.crossSlot === 'shard' && shard !== NO_SHARD && ctx.router.slotTable[other] === shard;
}

/**
 * Dispatch (outside a transaction): answer SORT command `base` here when Redis Cluster would
 * refuse it (CROSSSLOT with STORE's destination, a refused option). False: forward it as usual.
 */
export function sortAnswered(client: DispatchClient, chunk: Buffer, base: number, route: CommandRoute): boolean {
  const ctx = client.ctx;
  const cmds = ctx.binding.batch.cmds;
  const argc = cmds[base + C_ARGC];
  const slot = cmds[base + C_SLOT];
  if (argc <= 2 || slot < 0) return false; // no option (the key is argument 1, so slot >= 0)
  const dest = storeSlot(ctx, chunk, base, route);
  if (dest >= 0 && !sameTarget(ctx, slot, dest)) {
    client.replyNow(route.id, ERRORS.crossSlot);
    return true;
  }
  const refused = sortOptionsRefusal(chunk, ctx.binding.batch.args, cmds[base + C_ARG0], argc, route.name === 'sort_ro');
  if (refused === null) return false;
  // A slot nobody serves or a shard that is down answers first, as a cluster's slot checks do.
  const router = ctx.router;
  const shard = router.slotTable[slot];
  if (shard >= router.shards.length || router.shards[shard].downReply !== null) return false;
  client.replyNow(route.id, refused.reply);
  return true;
}

/** What a client's transaction session needs to know about SORT command `base`. */
export interface SortForSession {
  /** The key's slot, or SLOT_CROSS when STORE's destination is in another slot. */
  slot: number;
  /** With SLOT_CROSS: the shard of both keys, or -1. */
  keysShard: number;
  refusal: SortRefusal | null;
}

export function sortForSession(ctx: ProxyContext, chunk: Buffer, base: number, route: CommandRoute): SortForSession {
  const cmds = ctx.binding.batch.cmds;
  const argc = cmds[base + C_ARGC];
  const slot = cmds[base + C_SLOT];
  if (argc <= 2 || slot < 0) return { slot, keysShard: -1, refusal: null };
  const refusal = sortOptionsRefusal(chunk, ctx.binding.batch.args, cmds[base + C_ARG0], argc, route.name === 'sort_ro');
  const dest = storeSlot(ctx, chunk, base, route);
  if (dest < 0 || dest === slot) return { slot, keysShard: -1, refusal };
  const shard = ctx.router.slotTable[slot];
  return { slot: SLOT_CROSS, keysShard: shard !== NO_SHARD && ctx.router.slotTable[dest] === shard ? shard : -1, refusal };
}
