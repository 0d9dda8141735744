/**
 * The admin API's core endpoints. Other features add theirs with `ctx.admin.route(...)`
 * from their primary plugin (see src/supervisor/plugins.ts).
 *   GET  /          the list of endpoints
 *   GET  /health    200 {status: "ok", ...} when every worker is ready, 503 otherwise
 *   GET  /topology  epoch, mode, hash, shards [{name, master, replicas, state, slots: [[first, last], ...]}],
 *                   migrations, keyRewrite (the routing table only with ?routing=1)
 *   GET  /stats     aggregated over workers (src/supervisor/stats.ts AggregatedStats)
 *   GET  /metrics   Prometheus text, aggregated over workers
 *   GET  /config    the running config, secrets blanked
 *   POST /reload    re-read the config file, apply what can change live
 */
import type { AdminContext } from '../supervisor/context';
import { AdminReply } from './AdminServer';
import { PROMETHEUS_CONTENT_TYPE } from './metrics';

export function registerCoreRoutes(ctx: AdminContext): void {
  const admin = ctx.admin;

  admin.route('GET', '/', () => ({ endpoints: admin.listRoutes() }));

  admin.route('GET', '/health', () => {
    const workers = ctx.workerInfo();
    const ready = workers.filter((w) => w.ready).length;
    const topo = ctx.topology;
    const body = {
      status: ready === workers.length && ready > 0 ? 'ok' : ready > 0 ? 'degraded' : 'down',
      epoch: topo.epoch,
      mode: topo.mode,
      workers: ready,
      workersExpected: workers.length,
      shardsUp: topo.shards.filter((s) => s.state === 'up').length,
      shards: topo.shards.length,
      listen: ctx.clientAddress ?? null,
      admin: ctx.adminAddress ?? null,
      // a fleet (coordination): etcd reachable, leader, automatic failover active/suspended
      ...(ctx.fleet ? { fleet: ctx.fleet.status() } : {}),
    };
    return AdminReply.json(body, ready > 0 ? 200 : 503);
  });

  admin.route('GET', '/topology', (req) => {
    const topo = ctx.topology;
    if (req.query.get('routing') === '1') return topo;
    const { routing: _routing, ...rest } = topo;
    return rest;
  });

  admin.route('GET', '/stats', () => ctx.aggregatedStats());

  admin.route('GET', '/metrics', async () => AdminReply.text(await ctx.renderMetrics(), PROMETHEUS_CONTENT_TYPE));

  admin.route('GET', '/config', () => ctx.redactedConfig());

  admin.route('GET', '/workers', () => ({ workers: ctx.workerInfo() }));

  admin.route('POST', '/reload', () => ctx.reload());
}
