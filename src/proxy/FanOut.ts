/**
 * Commands sent to every shard (SCRIPT LOAD, FUNCTION LOAD, FLUSHDB, DBSIZE, INFO, KEYS, ...):
 * one copy per shard, replies gathered, then merged by a rule for that command.
 */
import type { CommandRoute } from './CommandRoutes';
import type { ProxyContext } from './ProxyContext';
import type { ReplySink } from './ReplySink';
import type { ReplyTarget } from './ReplyTarget';
import { arrayReply, integerReply, isErrorReply } from './Resp';
import { decodeReply, RespValue } from '../resp';
import { ERRORS } from './ReplyTexts';
import { errorReply, messageOf } from './ErrorReply';
import { encodedCommandName } from './BackendActivity';

export type Merge = (replies: Buffer[]) => Buffer;

class Gather implements ReplySink {
  private readonly replies: Buffer[];
  private remaining: number;
  constructor(
    count: number,
    private readonly done: (replies: Buffer[]) => void,
    /** The command sent to every shard (kept for `commandName`: KEYS and FLUSHALL may run long). */
    private readonly command: Buffer,
  ) {
    this.replies = new Array(count);
    this.remaining = count;
  }
  commandName(): string | null {
    return encodedCommandName(this.command);
  }
  onReply(tag: number, reply: Buffer): void {
    this.replies[tag] = reply;
    if (--this.remaining === 0) this.done(this.replies);
  }
}

/** Send `command` to every shard; `merge` turns the replies (in shard order) into one. */
export function sendToAllShards(client: ReplyTarget, ctx: ProxyContext, command: Buffer, seq: number, merge: Merge): void {
  const n = ctx.router.shards.length;
  if (n === 0) {
    client.onReply(seq, ERRORS.noShards);
    return;
  }
  const gather = new Gather(n, (replies) => {
    let reply: Buffer;
    try {
      reply = merge(replies);
    } catch (err) {
      ctx.log.error({ err }, 'fan-out merge failed');
      reply = errorReply('ERR Kvstore: could not merge shard replies: ', messageOf(err));
    }
    client.onReply(seq, reply);
  }, command);
  for (let i = 0; i < n; i++) client.forwardTo(i, command, i, gather);
}

/** The first error, else the first shard's reply (all shards agree: SCRIPT LOAD, FLUSHDB...). */
export const firstErrorElseFirst: Merge = (replies) => replies.find(isErrorReply) ?? replies[0];

/** Integers summed (DBSIZE). */
export const sumIntegers: Merge = (replies) => {
  const err = replies.find(isErrorReply);
  if (err) return err;
  let total = 0n;
  for (const r of replies) total += BigInt(r.toString('latin1', 1, r.length - 2));
  return integerReply(total);
};

/** Arrays concatenated (KEYS). */
export const concatArrays: Merge = (replies) => {
  const err = replies.find(isErrorReply);
  if (err) return err;
  let count = 0;
  const bodies: Buffer[] = [];
  for (const r of replies) {
    const headerEnd = r.indexOf('\r\n') + 2;
    const n = Number(r.toString('latin1', 1, headerEnd - 2));
    if (n <= 0) continue;
    count += n;
    bodies.push(r.subarray(headerEnd));
  }
  return Buffer.concat([Buffer.from(`*${count}\r\n`), ...bodies]);
};

/** SCRIPT EXISTS: a script exists only if every shard has it (EVALSHA may go to any shard). */
const allHave: Merge = (replies) => {
  const err = replies.find(isErrorReply);
  if (err) return err;
  const arrays = replies.map((r) => decodeReply(r) as RespValue[]);
  return arrayReply(arrays[0].map((_, i) => integerReply(arrays.every((a) => a[i] === 1) ? 1 : 0)));
};

/** SCRIPT KILL / FUNCTION KILL: the shard that ran one answers; else the (NOTBUSY) error. */
const anySuccess: Merge = (replies) => replies.find((r) => !isErrorReply(r)) ?? replies[0];

/** FUNCTION STATS: the shard running a function (`running_script` not null), else the first. */
const runningElseFirst: Merge = (replies) => {
  const err = replies.find(isErrorReply);
  if (err) return err;
  for (const r of replies) {
    const flat = decodeReply(r) as RespValue[];
    if (flat[1] !== null) return r;
  }
  return replies[0];
};

/**
 * Loads and flushes (SCRIPT LOAD/FLUSH, FUNCTION LOAD/DELETE/FLUSH/RESTORE): every shard must
 * answer the same (the same sha, the same library name, or the same error); otherwise the shards
 * now differ and the client gets an error naming each shard's answer, to fix and retry.
 */
function sameEverywhere(ctx: ProxyContext, command: string): Merge {
  return (replies) => {
    const first = replies[0];
    if (replies.every((r) => r.equals(first))) return first;
    const answers = replies.map((r, i) => `${ctx.router.shards[i]?.name ?? i}: ${firstLine(r)}`).join('; ');
    return errorReply(`ERR Kvstore: ${command} gave different results on the shards (${answers}); fix the cause and run it again`);
  };
}

function firstLine(reply: Buffer): string {
  const line = reply.toString('utf8', 0, Math.min(reply.length, 200)).split('\r\n');
  // A bulk's first line is its length: show its value instead.
  return (line[0].startsWith('$') ? line[1] : line[0]).replace(/[\r\n]/g, ' ');
}

const MERGES: Record<string, Merge> = {
  'script|exists': allHave,
  'script|kill': anySuccess,
  'function|kill': anySuccess,
  'function|stats': runningElseFirst,
};

/** Commands whose success changes what a shard joining later must be given (src/scripts/). */
const SAME_EVERYWHERE = new Set(['script|load', 'script|flush', 'function|load', 'function|delete', 'function|flush', 'function|restore']);

/** The 'allshards' routing class. */
export function fanOut(client: ReplyTarget, ctx: ProxyContext, route: CommandRoute, args: Buffer[], raw: Buffer, seq: number): void {
  if (!SAME_EVERYWHERE.has(route.name)) {
    sendToAllShards(client, ctx, Buffer.from(raw), seq, MERGES[route.name] ?? firstErrorElseFirst);
    return;
  }
  const same = sameEverywhere(ctx, route.name.toUpperCase().replace('|', ' '));
  sendToAllShards(client, ctx, Buffer.from(raw), seq, (replies) => {
    const reply = same(replies);
    // Reported even when some shard failed: what did load somewhere must reach later shards too.
    if (replies.some((r) => !isErrorReply(r))) reportChange(ctx, route.name, args);
    return reply;
  });
}

function reportChange(ctx: ProxyContext, name: string, args: Buffer[]): void {
  if (name === 'script|load') ctx.reportScriptChange({ type: 'script', body: args[2].toString('base64') });
  else if (name === 'script|flush') ctx.reportScriptChange({ type: 'script-flush' });
  else ctx.reportScriptChange({ type: 'functions' });
}
