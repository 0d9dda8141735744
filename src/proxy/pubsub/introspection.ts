/**
 * PUBSUB CHANNELS / NUMSUB / NUMPAT / SHARDCHANNELS / SHARDNUMSUB over every shard. Each shard sees
 * the proxies' subscriber connections (one per worker), not the proxy's clients, so:
 *   CHANNELS, SHARDCHANNELS: the union of every shard's answer (a channel is active when some
 *     client, of any worker, listens to it: exact);
 *   NUMSUB, SHARDNUMSUB: the count on the channel's shard (the largest over shards for keyspace
 *     channels, which live on every shard), minus this worker's own subscriber connection, plus
 *     this worker's clients on it. Other workers and proxies count as one subscriber each;
 *   NUMPAT: the largest count over shards (patterns are subscribed on every shard; Redis counts
 *     distinct patterns, and so does each shard).
 */
import type { CommandRoute } from '../CommandRoutes';
import type { DispatchClient } from '../Forwarding';
import { encodeCommand, decodeReply, RespValue } from '../../resp';
import { arrayReply, bulkReply, errorReply, integerReply } from '../Resp';
import { stepSink } from '../ReplyTarget';
import type { PubSubKind } from './frames';

/** Send `args` to every shard; `merge` gets the decoded replies in shard order. */
function askEveryShard(client: DispatchClient, args: Buffer[], seq: number, merge: (replies: RespValue[]) => Buffer): void {
  const ctx = client.ctx;
  const shards = ctx.router.shards;
  const command = encodeCommand(args);
  const replies: RespValue[] = new Array(shards.length);
  let waiting = shards.length;
  if (waiting === 0) return client.onReply(seq, merge([]));
  let failed: Buffer | null = null;
  shards.forEach((shard, i) => {
    client.forwardTo(
      shard.index,
      command,
      seq,
      stepSink(client, seq, ctx.log, (reply) => {
        if (reply[0] === 0x2d) failed ??= Buffer.from(reply);
        else replies[i] = decodeReply(reply);
        if (--waiting === 0) client.onReply(seq, failed ?? merge(replies));
      }),
    );
  });
}

function names(value: RespValue): Buffer[] {
  return Array.isArray(value) ? (value.filter((v) => Buffer.isBuffer(v)) as Buffer[]) : [];
}

export function pubsubIntrospection(client: DispatchClient, route: CommandRoute, args: Buffer[], seq: number): void {
  const hub = client.ctx.pubsub;
  switch (route.name) {
    case 'pubsub|channels':
    case 'pubsub|shardchannels':
      return askEveryShard(client, args, seq, (replies) => {
        const seen = new Map<string, Buffer>();
        for (const r of replies) for (const n of names(r)) seen.set(n.toString('latin1'), n);
        return arrayReply([...seen.values()].map((n) => bulkReply(n)));
      });
    case 'pubsub|numpat':
      return askEveryShard(client, args, seq, (replies) => integerReply(Math.max(0, ...replies.map((r) => Number(r)))));
    case 'pubsub|numsub':
    case 'pubsub|shardnumsub': {
      const kind: PubSubKind = route.name === 'pubsub|numsub' ? 'channel' : 'shard';
      return askEveryShard(client, args, seq, (replies) => {
        const items: Buffer[] = [];
        const channels = args.slice(2);
        for (let j = 0; j < channels.length; j++) {
          const channel = channels[j];
          const name = channel.toString('latin1');
          let count = 0;
          for (const shard of hub.placement(kind, name)) {
            const list = replies[shard] as RespValue[];
            let onShard = Number(list[j * 2 + 1]);
            if (hub.subscribedOn(kind, name, shard)) onShard -= 1;
            count = Math.max(count, onShard);
          }
          items.push(bulkReply(channel), integerReply(count + hub.localCount(kind, name)));
        }
        return arrayReply(items);
      });
    }
    case 'pubsub|help':
      return client.forwardTo(client.ctx.router.keylessShard, encodeCommand(args), seq);
    default:
      client.onReply(seq, errorReply(`ERR Kvstore: unexpected pub/sub command ${route.name}`));
  }
}
