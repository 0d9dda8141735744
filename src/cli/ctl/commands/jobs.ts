/** `kvstore ctl jobs [--json]`: resharding jobs with their progress (GET /jobs). */
import type { JobInfo } from '../../../reshard/JobManager';
import { formatEta } from '../../../reshard/cliProgress';
import { registerCtlCommand, table } from '../registry';

registerCtlCommand({
  name: 'jobs',
  summary: 'list resharding jobs: state, slots done, keys moved, keys/s, ETA',
  usage: '[--json]',
  async run(ctx) {
    const { jobs } = await ctx.admin.get<{ jobs: JobInfo[] }>('/jobs');
    if (ctx.json) {
      ctx.out(JSON.stringify(jobs, null, 2));
      return 0;
    }
    if (jobs.length === 0) {
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
        ]),
      ),
    );
    return 0;
  },
});
