/** `kvstore ctl add-shard NAME --master HOST:PORT [--replica HOST:PORT]...`: a new shard with no slots. */
import type { ShardInfo } from '../../../topology/types';
import { parseCommand, registerCtlCommand } from '../registry';

const USAGE = 'NAME --master HOST:PORT [--replica HOST:PORT]...';

registerCtlCommand({
  name: 'add-shard',
  summary: 'add a shard (master and replicas) with no slots; then `rebalance` gives it slots',
  usage: USAGE,
  async run(ctx) {
    const { values, positionals } = parseCommand(ctx.args, { master: { type: 'string' }, replica: { type: 'string', multiple: true } });
    const [name, extra] = positionals;
    const { master, replica: replicas = [] } = values;
    if (extra !== undefined) {
      ctx.err(`add-shard: unexpected argument ${extra}\nusage: kvstore ctl add-shard ${USAGE}`);
      return 2;
    }
    if (!name || !master || replicas.some((r) => !r)) {
      ctx.err(`usage: kvstore ctl add-shard ${USAGE}`);
      return 2;
    }
    const reply = await ctx.admin.post<{ epoch: number; shard: ShardInfo }>('/shards', { name, master, replicas });
    if (ctx.json) ctx.out(JSON.stringify(reply, null, 2));
    else ctx.out(`added shard ${reply.shard.name} (master ${reply.shard.master}${reply.shard.replicas.length ? `, replicas ${reply.shard.replicas.join(',')}` : ''}), no slots yet; epoch ${reply.epoch}. Give it slots with: kvstore ctl rebalance`);
    return 0;
  },
});
