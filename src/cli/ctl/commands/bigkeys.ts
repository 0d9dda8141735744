/** `kvstore ctl bigkeys [--json]`: requests and replies of at least bigKeys.bytes (GET /bigkeys). */
import type { BigKey } from '../../../observability/BigKeys';
import { registerCtlCommand, table } from '../registry';

registerCtlCommand({
  name: 'bigkeys',
  summary: 'list big keys: values written or read of at least bigKeys.bytes (GET /bigkeys)',
  usage: '[--json]',
  async run(ctx) {
    const r = await ctx.admin.get<{ bytes: number; keys: BigKey[] }>('/bigkeys');
    if (ctx.json) ctx.out(JSON.stringify(r, null, 2));
    else {
      ctx.out(`threshold ${r.bytes} bytes`);
      ctx.out(table(['KEY', 'COMMAND', 'KIND', 'BYTES', 'SEEN', 'LAST CLIENT'], r.keys.map((k) => [k.key === null ? '(unknown)' : JSON.stringify(k.key), k.command, k.kind, String(k.bytes), String(k.count), k.client])));
    }
    return 0;
  },
});
