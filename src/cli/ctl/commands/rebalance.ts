/** `kvstore ctl rebalance [--no-copy] [--wait]`: even slots over all shards, moving as few as possible. */
import type { JobInfo } from '../../../reshard/JobManager';
import { reportStartedJob } from '../../../reshard/cliProgress';
import { parseCommand, registerCtlCommand } from '../registry';

registerCtlCommand({
  name: 'rebalance',
  summary: 'spread slots evenly over all shards, moving as few as possible (--no-copy: cache mode, data not moved)',
  usage: '[--no-copy] [--wait]',
  async run(ctx) {
    const { values, positionals } = parseCommand(ctx.args, { 'no-copy': { type: 'boolean' }, wait: { type: 'boolean' } });
    if (positionals.length) {
      ctx.err('usage: kvstore ctl rebalance [--no-copy] [--wait]');
      return 2;
    }
    const job = await ctx.admin.post<JobInfo>('/reshard/rebalance', { noCopy: !!values['no-copy'] });
    return reportStartedJob(ctx, job, !!values.wait);
  },
});
