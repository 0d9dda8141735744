/**
 * Observability in the primary (loaded by src/supervisor/plugins.ts): admin endpoints that merge
 * what every worker saw.
 *   GET /hotkeys        {hitsPerSec, sampleRate, keys: [{key, hitsPerSec, lastHotAt}]}  (rates summed over workers)
 *   GET /bigkeys        {bytes, keys: [{key, slot, command, kind, bytes, client, seenAt, count}]}
 *   GET /slowlog?count  {slowerThanUs, maxLen, entries: [{id, time, timeMs, durationUs, args, client, name}]}  newest first (by timeMs);
 *                       asked of every worker on the call (ctx.queryWorkers), not read from their stats
 *   GET /latency        {commands: {name: {calls, p50, p99, p999}}}  µs, from the merged histograms
 */
import { commands } from '../commands/table';
import { registerPrimaryPlugin } from '../supervisor/plugins';
import type { PrimaryContext } from '../supervisor/context';
import { mergeBigKeys } from './BigKeys';
import { mergeHotKeys } from './HotKeys';
import { LatencyHistograms } from './LatencyHistograms';
import { mergeSlowlogs } from './SlowLog';

registerPrimaryPlugin({
  name: 'observability',
  async start(ctx: PrimaryContext) {
    const observed = async () => (await ctx.workerStats()).map((s) => s.observability).filter((o) => o !== undefined);
    ctx.admin.route('GET', '/hotkeys', async () => ({
      hitsPerSec: ctx.config.hotKeys.hitsPerSec,
      sampleRate: ctx.config.hotKeys.sampleRate,
      keys: mergeHotKeys((await observed()).map((o) => o.hotKeys)),
    }));
    ctx.admin.route('GET', '/bigkeys', async () => ({ bytes: ctx.config.bigKeys.bytes, keys: mergeBigKeys((await observed()).map((o) => o.bigKeys)) }));
    ctx.admin.route('GET', '/slowlog', async (req) => {
      const asked = Number(req.query.get('count') ?? 10);
      const count = Number.isInteger(asked) ? asked : 10;
      // asked of the workers now (not carried by their periodic stats): each sends its newest `count`
      const answer = await ctx.queryWorkers({ op: 'slowlog-get', count });
      return {
        slowerThanUs: ctx.config.slowlog.slowerThanUs,
        maxLen: ctx.config.slowlog.maxLen,
        entries: mergeSlowlogs([answer.slowlog ?? []], count),
      };
    });
    ctx.admin.route('GET', '/latency', async () => {
      const merged = new LatencyHistograms(commands.length);
      for (const o of await observed()) merged.merge(o.latency);
      const out: Record<string, { calls: number; p50: number; p99: number; p999: number }> = {};
      commands.forEach((c, id) => {
        if (merged.totals[id] > 0) out[c.name] = { calls: merged.totals[id], p50: merged.percentile(id, 50), p99: merged.percentile(id, 99), p999: merged.percentile(id, 99.9) };
      });
      return { commands: out };
    });
  },
});
