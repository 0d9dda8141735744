/**
 * Commands that cannot be forwarded as the bytes the client sent: a key the rewrite rules match,
 * a key in a migrating slot (the seams of Hooks.ts), or an inline command with quotes. They are
 * materialized (arguments copied), handed to the seam, re-encoded when changed, parsed again and
 * dispatched as if the client had sent the new command. Rare by design: the fast path only pays a
 * null check per command while no seam is active.
 */
import { C_ARG0, C_END, C_KEY0, C_NKEYS, C_SLOT, C_START, CMD_STRIDE, KEY_STRIDE, S_GROW_ARGS, ARG_STRIDE } from '../native/api';
import { encodeCommand } from '../resp';
import { CommandRoute, Route } from './CommandRoutes';
import { errorReply, messageOf } from './ErrorReply';
import { allKeysOnOneShard, argsOf, DispatchClient, DispatchFn, forwardToShard } from './Forwarding';
import type { ShardAccess, SlowCommand } from './Hooks';
import { ERRORS } from './ReplyTexts';
import { splitAcrossShards } from './SplitMerge';

const COULD_NOT_REENCODE = errorReply('ERR Kvstore: could not re-encode the command');

/** Does command `base` have a key that a seam wants to see? */
export function needsSlowPath(client: DispatchClient, chunk: Buffer, base: number): boolean {
  const ctx = client.ctx;
  const hooks = ctx.hooks;
  if (hooks.keyRewrite === null && (hooks.migration === null || !ctx.router.migrationsActive)) return false;
  const batch = ctx.binding.batch;
  const cmds = batch.cmds;
  const nk = cmds[base + C_NKEYS];
  if (nk === 0) return false;
  const keys = batch.keys;
  const k0 = cmds[base + C_KEY0];
  if (hooks.keyRewrite !== null && !client.rewriting) {
    // Only commands with a key the rules match take the slow path.
    const args = batch.args;
    for (let k = 0; k < nk; k++) {
      const a = keys[(k0 + k) * KEY_STRIDE] * ARG_STRIDE;
      const off = args[a];
      if (hooks.keyRewrite.needsRewrite(chunk, off, off + args[a + 1])) return true;
    }
  }
  if (hooks.migration === null || !ctx.router.migrationsActive) return false;
  for (let k = 0; k < nk; k++) if (ctx.router.migrating[keys[(k0 + k) * KEY_STRIDE + 1]] !== 0) return true;
  return false;
}

/** Key rewrite first (then the command is dispatched again), else the migration seam. */
export function slowPath(client: DispatchClient, chunk: Buffer, base: number, route: CommandRoute, dispatch: DispatchFn): boolean {
  const ctx = client.ctx;
  const command = slowCommand(client, chunk, base, route.name);
  if (ctx.hooks.keyRewrite !== null && !client.rewriting) {
    const rewritten = ctx.hooks.keyRewrite.rewrite(command);
    if (Buffer.isBuffer(rewritten)) {
      client.replyNow(route.id, rewritten); // refused (reserved key name)
      return false;
    }
    // Route the command (rewritten: as if the client had sent the new one) without asking again.
    ctx.counters.totalCommands--;
    ctx.calls[route.id]--;
    client.rewriting = true;
    const seq = client.reserveNext;
    try {
      if (rewritten === null) return dispatch(client, chunk, base / CMD_STRIDE); // batch untouched
      dispatchEncoded(client, encodeCommand(rewritten.args), dispatch);
    } finally {
      client.rewriting = false;
    }
    // Replies carrying key names (LMPOP, XREAD...) get the client's names back.
    if (rewritten?.mapReply) client.mapReplyOf(seq, rewritten.mapReply);
    return true;
  }
  const seq = client.reserve(route.id);
  const pending = ctx.hooks.migration!(command, shardAccess(client));
  if (pending === null) {
    forwardPlain(client, chunk, base, route, seq);
    return false;
  }
  pending.then(
    (reply) => client.onReply(seq, reply),
    (err: unknown) => client.onReply(seq, errorReply('ERR Kvstore: ', messageOf(err))),
  );
  return false;
}

/** Forward after the migration hook declined: the same routing as the fast path. */
function forwardPlain(client: DispatchClient, chunk: Buffer, base: number, route: CommandRoute, seq: number): void {
  const ctx = client.ctx;
  const cmds = ctx.binding.batch.cmds;
  const start = cmds[base + C_START];
  const end = cmds[base + C_END];
  const slot = cmds[base + C_SLOT];
  if (slot >= 0) return forwardToShard(client, ctx.router.slotTable[slot], chunk, seq, client.replies, start, end);
  const shard = allKeysOnOneShard(ctx, base);
  if (shard >= 0 && (route.route === Route.Split || ctx.config.crossSlot === 'shard')) return forwardToShard(client, shard, chunk, seq, client.replies, start, end);
  if (route.route === Route.Split) return splitAcrossShards(client, ctx, chunk, base / CMD_STRIDE, seq);
  client.onReply(seq, ERRORS.crossSlot);
}

/** An inline command with quotes or escapes: decode it, then dispatch its RESP form. */
export function reparseInline(client: DispatchClient, chunk: Buffer, base: number, dispatch: DispatchFn): boolean {
  const cmds = client.ctx.binding.batch.cmds;
  let lineEnd = cmds[base + C_END];
  while (lineEnd > cmds[base + C_START] && (chunk[lineEnd - 1] === 0x0a || chunk[lineEnd - 1] === 0x0d)) lineEnd--;
  const args = client.ctx.binding.hot.decodeInline(chunk.subarray(cmds[base + C_START], lineEnd));
  if (args === null) {
    client.protocolError(ERRORS.unbalancedQuotes);
    return true;
  }
  if (args.length === 0) return true; // an empty line: Redis ignores it
  dispatchEncoded(client, encodeCommand(args), dispatch);
  return true;
}

/** Parse and dispatch one command we encoded ourselves (clobbers the batch arrays). */
function dispatchEncoded(client: DispatchClient, encoded: Buffer, dispatch: DispatchFn): void {
  const binding = client.ctx.binding;
  const n = binding.hot.parseRequests(encoded, 0);
  if (n !== 1) {
    if (binding.batch.status[S_GROW_ARGS] > 0) {
      binding.growArgs(binding.batch.status[S_GROW_ARGS]);
      return dispatchEncoded(client, encoded, dispatch);
    }
    client.replyNow(-1, COULD_NOT_REENCODE);
    return;
  }
  dispatch(client, encoded, 0);
}

function slowCommand(client: DispatchClient, chunk: Buffer, base: number, name: string): SlowCommand {
  const batch = client.ctx.binding.batch;
  const cmds = batch.cmds;
  const args = argsOf(client.ctx, chunk, base);
  const k0 = cmds[base + C_KEY0];
  const nk = cmds[base + C_NKEYS];
  const a0 = cmds[base + C_ARG0];
  const keyIndexes: number[] = [];
  const keySlots: number[] = [];
  for (let k = 0; k < nk; k++) {
    keyIndexes.push(batch.keys[(k0 + k) * KEY_STRIDE] - a0);
    keySlots.push(batch.keys[(k0 + k) * KEY_STRIDE + 1]);
  }
  return { name, args, keyIndexes, keySlots, raw: Buffer.from(chunk.subarray(cmds[base + C_START], cmds[base + C_END])) };
}

/** What the migration seam may do with shards, on this client's pinned connections. */
function shardAccess(client: DispatchClient): ShardAccess {
  const router = client.ctx.router;
  return {
    epoch: router.epoch,
    shardCount: () => router.shards.length,
    shardName: (i) => router.shards[i].name,
    shardAddress: (i) => router.shards[i].address,
    shardOfSlot: (slot) => router.slotTable[slot],
    migrationOf: (slot) => router.migrationOf(slot),
    send: (shardIndex, command) =>
      new Promise<Buffer>((resolve) => {
        forwardToShard(client, shardIndex, command, 0, { onReply: (_tag, reply) => resolve(Buffer.from(reply)) }, 0, command.length);
      }),
    encode: encodeCommand,
  };
}
