/** `kvstore ctl failover SHARD [--to HOST:PORT] [--json]`: planned switchover (POST /failover). */
import { parseCommand, registerCtlCommand, table } from '../registry';

registerCtlCommand({
  name: 'failover',
  summary: 'planned switchover of a shard to its most up-to-date replica, no acknowledged write lost (POST /failover)',
  usage: 'SHARD [--to HOST:PORT] [--json]',
  async run(ctx) {
    const { values, positionals } = parseCommand(ctx.args, { to: { type: 'string' } });
    const shard = positionals[0];
    if (!shard || positionals.length > 1) {
      ctx.err('usage: kvstore ctl [--admin HOST:PORT] failover SHARD [--to HOST:PORT] [--json]');
      return 2;
    }
    const body: Record<string, string> = { shard };
    if (values.to !== undefined) body.to = values.to;
    const r = await ctx.admin.post('/failover', body);
    if (ctx.json) ctx.out(JSON.stringify(r, null, 2));
    else ctx.out(`shard ${r.shard}: ${r.from} -> ${r.to} (epoch ${r.epoch}, writes paused ${r.pausedMs} ms)`);
    return 0;
  },
});

registerCtlCommand({
  name: 'backends',
  summary: 'health of every redis-server: state, role, last error (GET /failover)',
  usage: '[--json]',
  async run(ctx) {
    const s = await ctx.admin.get('/failover');
    if (ctx.json) {
      ctx.out(JSON.stringify(s, null, 2));
      return 0;
    }
    ctx.out(`failover engine: ${s.engine}`);
    ctx.out(table(
      ['ADDRESS', 'SHARD', 'ROLE', 'STATE', 'PING', 'LAST ERROR'],
      s.backends.map((b: any) => [b.address, b.shard ?? '-', b.role ?? '-', b.state, b.latencyMs === null ? '-' : `${b.latencyMs} ms`, b.lastError ?? '-']),
    ));
    for (const e of s.events.slice(-10)) ctx.out(`${new Date(e.at).toISOString()}  ${e.kind} ${e.shard}${e.from ? ` from ${e.from}` : ''}${e.to ? ` to ${e.to}` : ''}${e.epoch ? ` (epoch ${e.epoch})` : ''}`);
    return 0;
  },
});
