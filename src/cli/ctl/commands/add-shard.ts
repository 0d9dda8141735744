/** `kvstore ctl add-shard NAME --master HOST:PORT [--replica HOST:PORT]...`: a new shard with no slots. */
import type { ShardInfo } from '../../../topology/types';
import { registerCtlCommand } from '../registry';

const USAGE = 'NAME --master HOST:PORT [--replica HOST:PORT]...';

registerCtlCommand({
  name: 'add-shard',
  summary: 'add a shard (master and replicas) with no slots; then `rebalance` gives it slots',
  usage: USAGE,
  async run(ctx) {
    let name: string | undefined;
    let master: string | undefined;
    const replicas: string[] = [];
    const args = ctx.args;
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      const value = (flag: string) => (a.includes('=') ? a.slice(flag.length + 1) : args[++i]);
      if (a === '--master' || a.startsWith('--master=')) master = value('--master');
      else if (a === '--replica' || a.startsWith('--replica=')) replicas.push(value('--replica'));
      else if (a.startsWith('--')) {
        ctx.err(`add-shard: unknown option ${a}\nusage: kvstore ctl add-shard ${USAGE}`);
        return 2;
      } else if (!name) name = a;
      else {
        ctx.err(`add-shard: unexpected argument ${a}\nusage: kvstore ctl add-shard ${USAGE}`);
        return 2;
      }
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
