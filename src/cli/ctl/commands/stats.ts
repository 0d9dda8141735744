/** `kvstore ctl stats [--json]`: clients, ops/s, per-command counts and latency percentiles, backends (GET /stats). */
import type { AggregatedStats } from '../../../supervisor/stats';
import { registerCtlCommand, table } from '../registry';

registerCtlCommand({
  name: 'stats',
  summary: 'show clients, ops/s, per-command counts, errors and latency percentiles, backend states (GET /stats)',
  usage: '[--json]',
  async run(ctx) {
    const s = await ctx.admin.get<AggregatedStats>('/stats');
    if (ctx.json) {
      ctx.out(JSON.stringify(s, null, 2));
      return 0;
    }
    ctx.out(`uptime ${s.uptimeSec}s  epoch ${s.epoch}  mode ${s.mode}  workers ${s.workers.length} (restarts ${s.workerRestarts})`);
    ctx.out(`clients ${s.clients}  connections ${s.totalConnections}  commands ${s.totalCommands}  errors ${s.totalErrors}  ops/s ${s.opsPerSec}`);
    ctx.out('');
    ctx.out(table(['WORKER', 'PID', 'EPOCH', 'NATIVE', 'IO', 'CLIENTS', 'COMMANDS', 'ERRORS'], s.workers.map((w) => [String(w.id), String(w.pid), String(w.epoch), w.nativeEnabled ? 'yes' : 'no', w.nativeIo ? 'native' : 'node', String(w.clients), String(w.totalCommands), String(w.totalErrors)])));
    const cmds = Object.entries(s.commands).sort((a, b) => b[1].calls - a[1].calls);
    if (cmds.length) {
      ctx.out('');
      // Percentiles in µs over every live worker, as INFO latencystats ('-': not timed yet).
      const us = (v: number | undefined) => (v === undefined ? '-' : String(v));
      ctx.out(table(['COMMAND', 'CALLS', 'ERRORS', 'P50_US', 'P99_US', 'P99.9_US'], cmds.map(([name, c]) => [name, String(c.calls), String(c.errors), us(c.p50), us(c.p99), us(c.p999)])));
    }
    const backends = Object.entries(s.backends);
    if (backends.length) {
      ctx.out('');
      ctx.out(table(['BACKEND', 'ADDRESS', 'CONNECTED', 'PENDING', 'ERRORS'], backends.map(([key, b]) => [key, b.address, `${b.connectedWorkers}/${b.workers}`, String(b.pending), String(b.errors)])));
    }
    return 0;
  },
});
