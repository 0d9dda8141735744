/** `kvstore ctl hotkeys [--json]`: keys above hotKeys.hitsPerSec, from sampling (GET /hotkeys). */
import type { HotKey } from '../../../observability/HotKeys';
import { registerCtlCommand, table } from '../registry';

registerCtlCommand({
  name: 'hotkeys',
  summary: 'list hot keys: estimated hits/s above hotKeys.hitsPerSec, from sampling (GET /hotkeys)',
  usage: '[--json]',
  async run(ctx) {
    const r = await ctx.admin.get<{ hitsPerSec: number; sampleRate: number; keys: HotKey[] }>('/hotkeys');
    if (ctx.json) ctx.out(JSON.stringify(r, null, 2));
    else {
      ctx.out(`threshold ${r.hitsPerSec} hits/s, sampling ${r.sampleRate}`);
      ctx.out(table(['KEY', 'HITS/S', 'LAST HOT'], r.keys.map((k) => [JSON.stringify(k.key), String(k.hitsPerSec), new Date(k.lastHotAt).toISOString()])));
    }
    return 0;
  },
});
