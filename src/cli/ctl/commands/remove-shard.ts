/** `kvstore ctl remove-shard NAME [--wait]`: drain a shard's slots to the others, then drop it. */
import type { JobInfo } from '../../../reshard/JobManager';
import { reportStartedJob } from '../../../reshard/cliProgress';
import { parseCommand, registerCtlCommand } from '../registry';

registerCtlCommand({
  name: 'remove-shard',
  summary: 'move every slot of a shard to the others (keys too), then remove it from the cluster',
  usage: 'NAME [--wait]',
  async run(ctx) {
    const { values, positionals } = parseCommand(ctx.args, { wait: { type: 'boolean' }, 'no-copy': { type: 'boolean' } });
    if (positionals.length !== 1) {
      ctx.err('usage: kvstore ctl remove-shard NAME [--wait]');
      return 2;
    }
    const job = await ctx.admin.post<JobInfo>('/reshard/remove-shard', { name: positionals[0], noCopy: !!values['no-copy'] });
    return reportStartedJob(ctx, job, !!values.wait);
  },
});
