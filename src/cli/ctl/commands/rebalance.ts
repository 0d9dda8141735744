/** `kvstore ctl rebalance [--no-copy] [--wait]`: even slots over all shards, moving as few as possible. */
import type { JobInfo } from '../../../reshard/JobManager';
import { reportStartedJob } from '../../../reshard/cliProgress';
import { parseFlags, registerCtlCommand } from '../registry';

registerCtlCommand({
  name: 'rebalance',
  summary: 'spread slots evenly over all shards, moving as few as possible (--no-copy: cache mode, data not moved)',
  usage: '[--no-copy] [--wait]',
  async run(ctx) {
    const { flags, positional } = parseFlags(ctx.args, ['no-copy', 'wait']);
    const unknown = Object.keys(flags).filter((f) => f !== 'no-copy' && f !== 'wait');
    if (positional.length || unknown.length) {
      ctx.err('usage: kvstore ctl rebalance [--no-copy] [--wait]');
      return 2;
    }
    const job = await ctx.admin.post<JobInfo>('/reshard/rebalance', { noCopy: !!flags['no-copy'] });
    return reportStartedJob(ctx, job, !!flags.wait);
  },
});
