/**
 * The dispatcher's pub/sub handlers: the `pubsub` routing class (PUBLISH, SPUBLISH, (P|S)SUBSCRIBE,
 * (P|S)UNSUBSCRIBE, PUBSUB ...) and the subscribed-mode rule that every other command of a
 * subscribed client passes first (RESP2: only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT /
 * RESET, PING answered with the `pong` array, RESET ending every subscription; RESP3: any command).
 */
import type { CommandRoute } from '../CommandRoutes';
import { argsOf, DispatchClient, forwardToShard } from '../Forwarding';
import { ERRORS } from '../ReplyTexts';
import { C_END, C_START } from '../../native/api';
import { notInSubscribedContext, subscribedPong } from './frames';
import { channelSlot } from './PubSubHub';
import { pubsubIntrospection } from './introspection';

/** Commands a subscribed RESP2 client may still run (Redis 7.0's list). */
const ALLOWED_SUBSCRIBED = new Set(['subscribe', 'psubscribe', 'ssubscribe', 'unsubscribe', 'punsubscribe', 'sunsubscribe', 'ping', 'quit', 'reset']);

/**
 * Called for every command of a client with subscriptions: true when it was answered here
 * (refused, or PING); RESET ends the subscriptions and goes on to its usual handler.
 */
export function subscribedModeCommand(client: DispatchClient, chunk: Buffer, base: number, route: CommandRoute): boolean {
  const name = route.name;
  client.pubsub!.lastCommand = route.id;
  if (client.proto === 3) {
    // RESP3: messages are push frames, so any command may run (Redis 7.0); RESET still ends the subscriptions.
    if (name === 'reset') client.ctx.pubsub.dropClient(client);
    return false;
  }
  if (!ALLOWED_SUBSCRIBED.has(name)) {
    client.replyNow(route.id, notInSubscribedContext(name));
    return true;
  }
  if (name === 'ping') {
    const args = argsOf(client.ctx, chunk, base);
    if (args.length > 2) client.replyNow(route.id, route.arityError);
    else client.replyNow(route.id, subscribedPong(args.length === 2 ? args[1] : null));
    return true;
  }
  if (name === 'reset') client.ctx.pubsub.dropClient(client);
  return false;
}

/** The `pubsub` routing class. */
export function pubsubCommand(client: DispatchClient, chunk: Buffer, base: number, route: CommandRoute): boolean {
  const ctx = client.ctx;
  const hub = ctx.pubsub;
  const args = argsOf(ctx, chunk, base);
  const names = args.slice(1);
  switch (route.name) {
    case 'publish':
    case 'spublish': {
      const cmds = ctx.binding.batch.cmds;
      const shard = ctx.router.slotTable[channelSlot(args[1])];
      forwardToShard(client, shard, chunk, client.reserve(route.id), client.replies, cmds[base + C_START], cmds[base + C_END]);
      return false;
    }
    case 'subscribe':
      hub.subscribe(client, 'channel', names, client.reserve(route.id));
      client.pubsub!.lastCommand = route.id; // (made by its first SUBSCRIBE)
      return false;
    case 'psubscribe':
      hub.subscribe(client, 'pattern', names, client.reserve(route.id));
      client.pubsub!.lastCommand = route.id; // (made by its first SUBSCRIBE)
      return false;
    case 'ssubscribe':
      if (!sameSlot(names)) client.replyNow(route.id, ERRORS.crossSlot);
      else {
        hub.subscribe(client, 'shard', names, client.reserve(route.id));
        client.pubsub!.lastCommand = route.id;
      }
      return false;
    case 'unsubscribe':
      hub.unsubscribe(client, 'channel', names, client.reserve(route.id));
      return false;
    case 'punsubscribe':
      hub.unsubscribe(client, 'pattern', names, client.reserve(route.id));
      return false;
    case 'sunsubscribe':
      if (!sameSlot(names)) client.replyNow(route.id, ERRORS.crossSlot);
      else hub.unsubscribe(client, 'shard', names, client.reserve(route.id));
      return false;
    default:
      pubsubIntrospection(client, route, args, client.reserve(route.id));
      return false;
  }
}

/** Shard channels of one call must share a slot (Redis Cluster's rule for SSUBSCRIBE). */
function sameSlot(names: Buffer[]): boolean {
  if (names.length < 2) return true;
  const slot = channelSlot(names[0]);
  for (let i = 1; i < names.length; i++) if (channelSlot(names[i]) !== slot) return false;
  return true;
}
