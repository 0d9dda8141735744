/** `kvstore ctl topology [--json]`: shards, their state, masters, replicas and slot ranges. */
import type { TopologySnapshot } from '../../../topology/types';
import { registerCtlCommand, table } from '../registry';

export function formatRanges(ranges: Array<[number, number]>): string {
  if (!ranges.length) return '-';
  const count = ranges.reduce((n, [a, b]) => n + (b - a + 1), 0);
  return `${ranges.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',')} (${count})`;
}

registerCtlCommand({
  name: 'topology',
  summary: 'show the shards, their state and slot ranges (GET /topology)',
  usage: '[--json]',
  async run(ctx) {
    const topo = await ctx.admin.get<TopologySnapshot>('/topology');
    if (ctx.json) {
      ctx.out(JSON.stringify(topo, null, 2));
      return 0;
    }
    ctx.out(`epoch ${topo.epoch}  mode ${topo.mode}  hash ${topo.hash}`);
    ctx.out(
      table(
        ['SHARD', 'STATE', 'MASTER', 'REPLICAS', 'SLOTS'],
        topo.shards.map((s) => [s.name, s.state, s.master, s.replicas.join(',') || '-', formatRanges(s.slots)]),
      ),
    );
    if (topo.migrations?.length) {
      ctx.out('migrations:');
      for (const m of topo.migrations) ctx.out(`  slots ${m.first}-${m.last}: ${m.from} -> ${m.to}`);
    }
    if (topo.keyRewrite?.length) {
      ctx.out('key rewrite rules:');
      for (const r of topo.keyRewrite) ctx.out(`  ${r.pattern} (generation ${r.generation})`);
    }
    return 0;
  },
});
