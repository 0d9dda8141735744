/** `kvstore ctl remove-shard NAME [--wait]`: drain a shard's slots to the others, then drop it. */
import type { JobInfo } from '../../../reshard/JobManager';
import { reportStartedJob } from '../../../reshard/cliProgress';
import { parseFlags, registerCtlCommand } from '../registry';

registerCtlCommand({
  name: 'remove-shard',
  summary: 'move every slot of a shard to the others (keys too), then remove it from the cluster',
  usage: 'NAME [--wait]',
  async run(ctx) {
    const { flags, positional } = parseFlags(ctx.args, ['wait', 'no-copy']);
    if (positional.length !== 1 || Object.keys(flags).some((f) => f !== 'wait' && f !== 'no-copy')) {
      ctx.err('usage: kvstore ctl remove-shard NAME [--wait]');
      return 2;
    }
    const job = await ctx.admin.post<JobInfo>('/reshard/remove-shard', { name: positional[0], noCopy: !!flags['no-copy'] });
    return reportStartedJob(ctx, job, !!flags.wait);
  },
});
