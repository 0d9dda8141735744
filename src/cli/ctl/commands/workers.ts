/** `kvstore ctl workers [--json]`: the worker processes, their pids, epochs and restarts (GET /workers). */
import { registerCtlCommand, table } from '../registry';

registerCtlCommand({
  name: 'workers',
  summary: 'list the worker processes: pid, ready, topology epoch, restarts (GET /workers)',
  usage: '[--json]',
  async run(ctx) {
    const { workers } = await ctx.admin.get<{ workers: Array<{ id: number; pid?: number; ready: boolean; epoch: number; restarts: number }> }>('/workers');
    if (ctx.json) ctx.out(JSON.stringify({ workers }, null, 2));
    else ctx.out(table(['WORKER', 'PID', 'READY', 'EPOCH', 'RESTARTS'], workers.map((w) => [String(w.id), String(w.pid ?? '-'), w.ready ? 'yes' : 'no', String(w.epoch), String(w.restarts)])));
    return 0;
  },
});
