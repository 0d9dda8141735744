/** `kvstore ctl jobs [--json]`: resharding jobs with their progress (GET /jobs), and the import (GET /import). */
import type { JobInfo } from '../../../reshard/JobManager';
import { importJobRow } from '../../../import/cliProgress';
import type { ImportInfo } from '../../../import/types';
import { formatEta } from '../../../reshard/cliProgress';
import { registerCtlCommand, table } from '../registry';

registerCtlCommand({
  name: 'jobs',
  summary: 'list resharding jobs (state, slots done, keys moved, keys/s, ETA) and the running or last import',
  usage: '[--json]',
  async run(ctx) {
    const { jobs } = await ctx.admin.get<{ jobs: JobInfo[] }>('/jobs');
    // An older primary (or one without the import plugin) has no /import: list resharding alone.
    const imported = await ctx.admin.get<{ import: ImportInfo | null }>('/import').then((r) => r.import, () => null);
    if (ctx.json) {
      ctx.out(JSON.stringify(imported ? [...jobs, imported] : jobs, null, 2));
      return 0;
    }
    if (jobs.length === 0 && !imported) {
      ctx.out('no jobs');
      return 0;
    }
    ctx.out(
      table(
        ['ID', 'KIND', 'TARGET', 'STATE', 'SLOTS', 'KEYS MOVED', 'KEYS/S', 'ETA', 'ELAPSED', 'ERROR'],
        jobs.map((j) => [
          String(j.id),
          j.kind + (j.noCopy ? ' (no copy)' : '') + (j.resumed ? ` (resumed ${j.resumed}x)` : ''),
          j.target ?? '-',
          j.state,
          `${j.slotsDone}/${j.slotsTotal}`,
          String(j.keysMoved),
          String(j.keysPerSecond),
          j.state === 'running' ? formatEta(j.etaSeconds) : '-',
          `${(j.elapsedMs / 1000).toFixed(1)}s`,
          j.error ?? '',
        ]).concat(imported ? [importJobRow(imported)] : []),
      ),
    );
    return 0;
  },
});
