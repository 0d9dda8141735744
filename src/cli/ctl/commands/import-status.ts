/** `kvstore ctl import-status [--json]`: the running (or last) import (GET /import). */
import { importLine } from '../../../import/cliProgress';
import type { ImportInfo } from '../../../import/types';
import { registerCtlCommand } from '../registry';

registerCtlCommand({
  name: 'import-status',
  summary: 'the running or last import: phase, keys copied, live changes, pending keys and lag',
  usage: '[--json]',
  async run(ctx) {
    const { import: info } = await ctx.admin.get<{ import: ImportInfo | null }>('/import');
    if (ctx.json) ctx.out(JSON.stringify(info, null, 2));
    else ctx.out(info ? importLine(info) : 'no import');
    return 0;
  },
});
