/** `kvstore ctl move-slots FIRST-LAST SHARD [--wait]`: move a slot range to a shard, online. */
import type { JobInfo } from '../../../reshard/JobManager';
import { reportStartedJob } from '../../../reshard/cliProgress';
import { parseFlags, registerCtlCommand } from '../registry';

const USAGE = 'usage: kvstore ctl move-slots FIRST-LAST SHARD [--wait]';

registerCtlCommand({
  name: 'move-slots',
  summary: 'move the slots FIRST..LAST to SHARD (keys move with them, online)',
  usage: 'FIRST-LAST SHARD [--wait]',
  async run(ctx) {
    const { flags, positional } = parseFlags(ctx.args, ['wait', 'no-copy']);
    const range = /^(\d+)(?:-(\d+))?$/.exec(positional[0] ?? '');
    if (!range || positional.length !== 2 || Object.keys(flags).some((f) => f !== 'wait' && f !== 'no-copy')) {
      ctx.err(USAGE);
      return 2;
    }
    const first = Number(range[1]);
    const last = Number(range[2] ?? range[1]);
    const job = await ctx.admin.post<JobInfo>('/reshard/move-slots', { first, last, shard: positional[1], noCopy: !!flags['no-copy'] });
    return reportStartedJob(ctx, job, !!flags.wait);
  },
});
