/**
 * Failover's admin endpoints and metrics (registered by the failover primary plugin):
 *   POST /failover {"shard": "s1", "to"?: "host:port"}  planned switchover (store mode); returns
 *        {shard, from, to, epoch, pausedMs, offset} once every worker routes to the new master
 *   GET  /failover   engine, every backend's health (state, last error, latency), recent events
 *   GET  /topology   the core reply plus `backends` ({address, shard, role, state, lastError})
 *   GET  /stats      the core reply plus `failover` (same as GET /failover)
 */
import { AdminReply, HttpError } from '../admin/AdminServer';
import { counterFrom, gaugeFrom, Registry } from '../admin/metrics';
import type { PrimaryContext } from '../supervisor/context';
import type { FailoverManager } from './FailoverManager';

export function registerFailoverRoutes(ctx: PrimaryContext, manager: FailoverManager): void {
  const admin = ctx.admin;

  admin.route('POST', '/failover', async (req) => {
    const shard = req.body?.shard;
    const to = req.body?.to;
    if (typeof shard !== 'string' || shard === '') throw new HttpError(400, 'body must be {"shard": "NAME"} (optionally "to": "host:port")');
    if (to !== undefined && typeof to !== 'string') throw new HttpError(400, '"to" must be "host:port"');
    if (!ctx.topology.shards.some((s) => s.name === shard)) throw new HttpError(404, `unknown shard "${shard}"`);
    return manager.switchover(shard, to);
  });

  admin.route('GET', '/failover', () => manager.status());

  // Same as the core /topology (see src/admin/routes.ts), plus each backend's health state and
  // last error (counters and timings are in GET /failover and /stats).
  admin.route('GET', '/topology', (req) => {
    const topo = ctx.topology;
    const backends = manager.healthSummary();
    if (req.query.get('routing') === '1') return { ...topo, backends };
    const { routing: _routing, ...rest } = topo;
    return { ...rest, backends };
  });

  admin.route('GET', '/stats', async () => AdminReply.json({ ...(await ctx.aggregatedStats()), failover: manager.status() }));

  registerFailoverMetrics(ctx.metrics, manager);
}

export function registerFailoverMetrics(registry: Registry, manager: FailoverManager): void {
  type Backend = ReturnType<FailoverManager['status']>['backends'][number];
  const backends = (value: (b: Backend) => number, only: (b: Backend) => boolean = () => true) =>
    manager.status().backends.filter(only).map((b) => ({ labels: { address: b.address, shard: b.shard ?? '', role: b.role ?? '' }, value: value(b) }));
  const perBackend = { labelNames: ['address', 'shard', 'role'] };
  gaugeFrom(registry, 'kvstore_backend_up', 'Health check state of each redis-server: 1 up, 0 down.', () => backends((b) => (b.state === 'up' ? 1 : 0)), perBackend);
  counterFrom(registry, 'kvstore_backend_health_checks_total', 'Health check PINGs sent to each redis-server.', () => backends((b) => b.checks), perBackend);
  counterFrom(registry, 'kvstore_backend_health_failures_total', 'Health check PINGs that failed (refused, timed out, bad reply).', () => backends((b) => b.failures), perBackend);
  counterFrom(registry, 'kvstore_backend_health_slow_total', 'Silences of a redis-server explained by a command that may run long in flight on it (a script, KEYS, ...): slow, not down.', () => backends((b) => b.slowEpisodes), perBackend);
  gaugeFrom(registry, 'kvstore_backend_slow', 'A redis-server silent right now with a command that may run long in flight on it: 1, else 0.', () => backends((b) => (b.slow ? 1 : 0)), perBackend);
  gaugeFrom(registry, 'kvstore_backend_ping_seconds', 'Round trip of the last successful health check PING.', () => backends((b) => b.latencyMs! / 1000, (b) => b.latencyMs !== null), perBackend);
  counterFrom(
    registry,
    'kvstore_failover_events_total',
    'Failover actions by kind (eject, rejoin, promote, switchover, shard-down, shard-up, demote, sentinel-switch).',
    () => Object.entries(manager.status().eventCounts).map(([kind, value]) => ({ labels: { kind }, value })),
    { labelNames: ['kind'] },
  );
}
