/**
 * One framed command → where it goes. The checks every command passes (inline re-encoding,
 * unknown command or subcommand, arity, AUTH) come first; then one handler per routing class,
 * looked up in a table by the class number (src/commands/commands.json → CommandRoutes.ts):
 *
 *   single, sameslot → one shard, the client's bytes forwarded untouched (CROSSSLOT rule)
 *   split            → one shard when all keys live there, else SplitMerge
 *   nokey            → the first shard that is up
 *   proxy            → ProxyCommands (answered here, or assembled from every shard)
 *   allshards        → FanOut
 *   unsupported      → the prebuilt refusal
 *   (sort)           → SORT, SORT_RO: Redis Cluster's checks of their options (SortCommand.ts), then as sameslot
 *   pubsub           → src/proxy/pubsub/ (channels placed by slot, one subscriber connection per
 *                      shard per worker); a subscribed client's commands pass its rules first
 *   dedicated        → src/proxy/dedicated/ (transactions, blocking commands, WAIT, CLIENT KILL/UNBLOCK);
 *                      a client with a session (in MULTI, WATCH, ...) offers it every command first
 *
 * Commands whose keys a seam wants to see (key rewrite, a migrating slot) leave through
 * SlowPath.ts. The per-command path allocates nothing: the parse results are the shared batch
 * arrays, and the forwarded command is a byte range of the read.
 */
import {
  ARG_STRIDE, C_ARGC, C_CMD, C_END, C_FLAGS, C_KEY0, C_NKEYS, C_SLOT, C_START, CMD_STRIDE, CMD_UNKNOWN, F_BAD_KEYS, F_NEEDS_DECODE, KEY_STRIDE, SLOT_NONE,
} from '../native/api';
import { NO_SHARD } from '../topology/slots';
import { WRITES } from './dedicated/commandKinds';
import { Offer, offerToSession } from './dedicated/offer';
import { CommandRoute, Route } from './CommandRoutes';
import { fanOut } from './FanOut';
import { FENCED_WRITE_REPLY, GATE_WRITES } from './LeaseFence';
import { turnNow } from './FlushScheduler';
import { allKeysOnOneShard, argsOf, DispatchClient, forwardRead, forwardToShard } from './Forwarding';
import { runProxyCommand } from './ProxyCommands';
import { ERRORS, unknownCommandError, unknownSubcommandError } from './ReplyTexts';
import { needsSlowPath, reparseInline, slowPath } from './SlowPath';
import { sortAnswered } from './SortCommand';
import { splitAcrossShards } from './SplitMerge';
import { pubsubCommand, subscribedModeCommand } from './pubsub/dispatch';

/**
 * A routing class's handler for command `base` (= index * CMD_STRIDE) of the current batch.
 * Returns true when it re-encoded a command and parsed it again (the batch arrays were overwritten).
 */
type RouteHandler = (client: DispatchClient, chunk: Buffer, base: number, route: CommandRoute, flags: number) => boolean;

const forwardKeyed: RouteHandler = (client, chunk, base, route, flags) => forwardToKeysShard(client, chunk, base, route, flags, false);

const BY_ROUTE: RouteHandler[] = [];
BY_ROUTE[Route.Single] = forwardKeyed;
BY_ROUTE[Route.SameSlot] = forwardKeyed;
BY_ROUTE[Route.Split] = (client, chunk, base, route, flags) => {
  const ctx = client.ctx;
  if (needsSlowPath(client, chunk, base)) return slowPath(client, chunk, base, route, dispatchCommand);
  const cmds = ctx.binding.batch.cmds;
  if (cmds[base + C_SLOT] >= 0 || cmds[base + C_NKEYS] <= 1) return forwardKeyed(client, chunk, base, route, flags);
  if (allKeysOnOneShard(ctx, base) >= 0) return forwardToKeysShard(client, chunk, base, route, flags, true);
  if (WRITES[route.id] !== 0) noteWrites(client, base);
  const reader = client.readOnly && route.readOnly && ctx.config.readFrom !== 'master' ? client : null;
  splitAcrossShards(client, ctx, chunk, base / CMD_STRIDE, client.reserve(route.id), reader);
  return false;
};
BY_ROUTE[Route.NoKey] = (client, chunk, base, route) => {
  const cmds = client.ctx.binding.batch.cmds;
  forwardToShard(client, client.ctx.router.keylessShard, chunk, client.reserve(route.id), client.replies, cmds[base + C_START], cmds[base + C_END]);
  return false;
};
BY_ROUTE[Route.Proxy] = (client, chunk, base, route) => {
  runProxyCommand(client, client.ctx, route, argsOf(client.ctx, chunk, base), client.reserve(route.id));
  return false;
};
BY_ROUTE[Route.AllShards] = (client, chunk, base, route) => {
  const cmds = client.ctx.binding.batch.cmds;
  const raw = Buffer.from(chunk.subarray(cmds[base + C_START], cmds[base + C_END]));
  fanOut(client, client.ctx, route, argsOf(client.ctx, chunk, base), raw, client.reserve(route.id));
  return false;
};
BY_ROUTE[Route.Unsupported] = (client, _chunk, _base, route) => {
  client.replyNow(route.id, route.refusal!);
  return false;
};
// Reached when the session declined: XREAD / XREADGROUP without BLOCK, an ordinary same-slot read.
BY_ROUTE[Route.Dedicated] = forwardKeyed;
BY_ROUTE[Route.PubSub] = (client, chunk, base, route) => pubsubCommand(client, chunk, base, route);
BY_ROUTE[Route.Sort] = (client, chunk, base, route, flags) => (sortAnswered(client, chunk, base, route) ? false : forwardKeyed(client, chunk, base, route, flags));

/**
 * Route command `i` of the current batch (parsed from `chunk`). Returns true when it had to
 * re-encode the command and parse it again (inline with quotes, key rewrite).
 */
export function dispatchCommand(client: DispatchClient, chunk: Buffer, i: number): boolean {
  const ctx = client.ctx;
  const cmds = ctx.binding.batch.cmds;
  const base = i * CMD_STRIDE;
  const id = cmds[base + C_CMD];
  const flags = cmds[base + C_FLAGS];
  if ((flags & F_NEEDS_DECODE) !== 0) return reparseInline(client, chunk, base, dispatchCommand);
  ctx.counters.totalCommands++;
  if (id === CMD_UNKNOWN) {
    client.session?.queueError();
    client.replyNow(-1, unknownCommandError(argsOf(ctx, chunk, base)));
    return false;
  }
  const route = ctx.routes[id];
  const argc = cmds[base + C_ARGC];
  if (route.isContainer && argc >= 2) {
    // The parser found no such subcommand: Redis's own reply.
    client.session?.queueError();
    client.replyNow(id, unknownSubcommandError(route.name, argsOf(ctx, chunk, base)[1]));
    return false;
  }
  if (!route.arityOk(argc)) {
    client.session?.queueError();
    client.replyNow(id, route.arityError);
    return false;
  }
  if (!client.authed && !route.noAuth) {
    client.replyNow(id, ERRORS.noAuth);
    return false;
  }
  if (client.guard !== 0) {
    // A restricted user or a rate limit (src/security/WorkerSecurity.ts); 0 for the default user.
    const denied = ctx.security.denial(client, id, chunk, ctx.binding.batch, base, () => argsOf(ctx, chunk, base), turnNow());
    if (denied !== null) {
      client.session?.queueError(); // inside MULTI, EXEC then aborts (as Redis does for -NOPERM)
      client.replyNow(id, denied);
      return false;
    }
  }
  if (ctx.fence.gate !== 0 && fenceGate(client, route)) return false;
  if (ctx.clientDirectory.pauseUntil !== 0 && route.pausable && ctx.clientDirectory.holds(route.isWrite)) {
    client.holdForPause(id);
    return false;
  }
  ctx.calls[id]++;
  client.cmdStart = cmds[base + C_START];
  client.cmdEnd = cmds[base + C_END];
  const observe = ctx.observe;
  // Hot keys: one key access in 1/sampleRate is handed over; big values: one compare.
  const nkeys = cmds[base + C_NKEYS];
  if (nkeys > 0) {
    const k = observe.hotKeys.sampleAt(nkeys);
    if (k >= 0) sampleHotKey(ctx, chunk, base, k);
  }
  if (cmds[base + C_END] - cmds[base + C_START] >= observe.bigBytes) bigRequest(client, chunk, base, route);
  if (client.pubsub !== null && subscribedModeCommand(client, chunk, base, route)) return false;
  if (client.session !== null || route.route === Route.Dedicated) {
    const offer = offerToSession(client, chunk, base, route);
    if (offer === Offer.Handled) return false;
    if (offer === Offer.Rewrite) return slowPath(client, chunk, base, route, dispatchCommand);
  }
  return BY_ROUTE[route.route](client, chunk, base, route, flags);
}

/**
 * A fleet proxy past its lease deadline (LeaseFence): the command is held while the primary
 * decides, or refused when it is a write of a store-mode proxy cut off from etcd (it must never
 * write to a demoted master). True when it was held or answered.
 */
function fenceGate(client: DispatchClient, route: CommandRoute): boolean {
  const fence = client.ctx.fence;
  if (fence.stops(client, route.pausable)) return true;
  if ((fence.gate & GATE_WRITES) === 0 || !route.isWrite) return false;
  client.session?.queueError();
  client.replyNow(route.id, FENCED_WRITE_REPLY);
  return true;
}

/** Key `k` of the command at `base` to the hot-key sketch. */
function sampleHotKey(ctx: DispatchClient['ctx'], chunk: Buffer, base: number, k: number): void {
  const batch = ctx.binding.batch;
  const a = batch.keys[(batch.cmds[base + C_KEY0] + k) * KEY_STRIDE] * ARG_STRIDE;
  ctx.observe.hotKeys.sampleBytes(chunk, batch.args[a], batch.args[a] + batch.args[a + 1]);
}

/** A request of at least bigKeys.bytes: its first key (the value written) is a big key. */
function bigRequest(client: DispatchClient, chunk: Buffer, base: number, route: CommandRoute): void {
  const batch = client.ctx.binding.batch;
  const cmds = batch.cmds;
  let key: string | null = null;
  if (cmds[base + C_NKEYS] > 0) {
    const a = batch.keys[cmds[base + C_KEY0] * KEY_STRIDE] * ARG_STRIDE;
    key = chunk.toString('latin1', batch.args[a], batch.args[a] + Math.min(batch.args[a + 1], 1024));
  }
  client.ctx.observe.bigKeys.record('request', key, cmds[base + C_SLOT], route.name, cmds[base + C_END] - cmds[base + C_START], client.remote);
}

/** Keyed commands: one shard, bytes forwarded untouched (Redis Cluster's same-slot rule). */
function forwardToKeysShard(client: DispatchClient, chunk: Buffer, base: number, route: CommandRoute, flags: number, shardChecked: boolean): boolean {
  const ctx = client.ctx;
  const cmds = ctx.binding.batch.cmds;
  const slot = cmds[base + C_SLOT];
  let shard: number;
  if (slot >= 0) shard = ctx.router.slotTable[slot];
  else if (slot === SLOT_NONE || (flags & F_BAD_KEYS) !== 0) shard = ctx.router.keylessShard;
  else {
    // SLOT_CROSS: Redis Cluster's rule, or the relaxed same-shard rule when configured.
    shard = shardChecked || ctx.config.crossSlot === 'shard' ? allKeysOnOneShard(ctx, base) : -1;
    if (shard < 0) {
      client.replyNow(route.id, ERRORS.crossSlot);
      return false;
    }
  }
  if (needsSlowPath(client, chunk, base)) return slowPath(client, chunk, base, route, dispatchCommand);
  if (WRITES[route.id] !== 0) client.noteWrite(shard);
  if (client.readOnly && route.readOnly && ctx.config.readFrom !== 'master') {
    forwardRead(client, shard, chunk, client.reserve(route.id), client.replies, cmds[base + C_START], cmds[base + C_END]);
    return false;
  }
  forwardToShard(client, shard, chunk, client.reserve(route.id), client.replies, cmds[base + C_START], cmds[base + C_END]);
  return false;
}

/** A split write (MSET, DEL, ...): every shard its keys are on. */
function noteWrites(client: DispatchClient, base: number): void {
  const ctx = client.ctx;
  const cmds = ctx.binding.batch.cmds;
  const keys = ctx.binding.batch.keys;
  const k0 = cmds[base + C_KEY0];
  for (let k = 0; k < cmds[base + C_NKEYS]; k++) {
    const shard = ctx.router.slotTable[keys[(k0 + k) * KEY_STRIDE + 1]];
    if (shard !== NO_SHARD) client.noteWrite(shard);
  }
}
