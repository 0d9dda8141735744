/**
 * The dispatcher's door to the dedicated-connection states: a command whose route is
 * `dedicated` (MULTI, BLPOP, WAIT, ...), or any command of a client that has a session (in
 * MULTI, WATCH, ...), is offered to the client's DedicatedSession. Creates the session on first
 * need and drops it once it holds nothing; stops dispatching at a barrier (a command for a
 * dedicated connection waits for the client's earlier replies) and says so to the dispatcher.
 */
import { ARG_STRIDE, C_KEY0, C_NKEYS, C_SLOT, C_START, C_END, KEY_STRIDE, SLOT_CROSS } from '../../native/api';
import { CommandRoute, Route } from '../CommandRoutes';
import { PAUSE_BARRIER } from '../FlowControl';
import { allKeysOnOneShard, argsOf, DispatchClient } from '../Forwarding';
import { sortForSession } from '../SortCommand';
import { DedicatedSession } from './DedicatedSession';
import { Outcome, SessionCommand } from './types';

/** What the dispatcher does next. */
export const enum Offer {
  Handled = 0,
  /** Route it by its class as usual. */
  Normal = 1,
  /** Rewrite its keys (SlowPath) and dispatch the result again. */
  Rewrite = 2,
}

export function offerToSession(client: DispatchClient, chunk: Buffer, base: number, route: CommandRoute): Offer {
  const ctx = client.ctx;
  let session = client.session;
  if (session === null) {
    session = client.session = new DedicatedSession(client, ctx, ctx.dedicated);
    ctx.dedicated.register(client.id, session);
  }
  if (client.inFlight > 0 && session.needsBarrier(route)) {
    // Dispatched again once every earlier reply is in (ClientConnection.repliesDrained).
    ctx.counters.totalCommands--;
    ctx.calls[route.id]--;
    client.flow.redo = true;
    client.flow.pause(PAUSE_BARRIER);
    return Offer.Handled;
  }
  const cmds = ctx.binding.batch.cmds;
  const slot = cmds[base + C_SLOT];
  // SORT: its STORE destination is a key the batch does not hold, and some options are refused.
  const sort = route.route === Route.Sort ? sortForSession(ctx, chunk, base, route) : null;
  const command: SessionCommand = {
    route,
    chunk,
    start: cmds[base + C_START],
    end: cmds[base + C_END],
    slot: sort !== null ? sort.slot : slot,
    keysShard: sort !== null ? sort.keysShard : slot === SLOT_CROSS ? allKeysOnOneShard(ctx, base) : -1,
    migrating: keysMigrating(client, base),
    needsRewrite: keysNeedRewrite(client, chunk, base),
    sortRefusal: sort !== null ? sort.refusal : null,
    args: () => argsOf(ctx, chunk, base),
  };
  const outcome = session.dispatch(command);
  if (session.idle && client.session === session) {
    client.session = null;
    ctx.dedicated.unregister(client.id);
  }
  return outcome === Outcome.Handled ? Offer.Handled : outcome === Outcome.Rewrite ? Offer.Rewrite : Offer.Normal;
}

/** A key of command `base` is in a migrating slot. */
function keysMigrating(client: DispatchClient, base: number): boolean {
  const ctx = client.ctx;
  if (!ctx.router.migrationsActive) return false;
  const cmds = ctx.binding.batch.cmds;
  const keys = ctx.binding.batch.keys;
  const k0 = cmds[base + C_KEY0];
  for (let k = 0; k < cmds[base + C_NKEYS]; k++) if (ctx.router.migrating[keys[(k0 + k) * KEY_STRIDE + 1]] !== 0) return true;
  return false;
}

/** Key rewrite rules match a key of command `base` (and it was not rewritten already). */
function keysNeedRewrite(client: DispatchClient, chunk: Buffer, base: number): boolean {
  const ctx = client.ctx;
  const rewrite = ctx.hooks.keyRewrite;
  if (rewrite === null || client.rewriting) return false;
  const batch = ctx.binding.batch;
  const cmds = batch.cmds;
  const k0 = cmds[base + C_KEY0];
  for (let k = 0; k < cmds[base + C_NKEYS]; k++) {
    const a = batch.keys[(k0 + k) * KEY_STRIDE] * ARG_STRIDE;
    const off = batch.args[a];
    if (rewrite.needsRewrite(chunk, off, off + batch.args[a + 1])) return true;
  }
  return false;
}
