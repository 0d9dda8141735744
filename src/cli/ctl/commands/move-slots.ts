/** `kvstore ctl move-slots FIRST-LAST SHARD [--wait]`: move a slot range to a shard, online. */
import type { JobInfo } from '../../../reshard/JobManager';
import { reportStartedJob } from '../../../reshard/cliProgress';
import { parseCommand, registerCtlCommand } from '../registry';

const USAGE = 'usage: kvstore ctl move-slots FIRST-LAST SHARD [--wait]';

registerCtlCommand({
  name: 'move-slots',
  summary: 'move the slots FIRST..LAST to SHARD (keys move with them, online)',
  usage: 'FIRST-LAST SHARD [--wait]',
  async run(ctx) {
    const { values, positionals } = parseCommand(ctx.args, { wait: { type: 'boolean' }, 'no-copy': { type: 'boolean' } });
    const range = /^(\d+)(?:-(\d+))?$/.exec(positionals[0] ?? '');
    if (!range || positionals.length !== 2) {
      ctx.err(USAGE);
      return 2;
    }
    const first = Number(range[1]);
    const last = Number(range[2] ?? range[1]);
    const job = await ctx.admin.post<JobInfo>('/reshard/move-slots', { first, last, shard: positionals[1], noCopy: !!values['no-copy'] });
    return reportStartedJob(ctx, job, !!values.wait);
  },
});
