/**
 * Failover's admin endpoints and metrics (registered by the failover primary plugin):
 *   POST /failover {"shard": "s1", "to"?: "host:port"}  planned switchover (store mode); returns
 *        {shard, from, to, epoch, pausedMs, offset} once every worker routes to the new master
 *   GET  /failover   engine, every backend's health (state, last error, latency), recent events
 *   GET  /topology   the core reply plus `backends` ({address, shard, role, state, lastError})
 *   GET  /stats      the core reply plus `failover` (same as GET /failover)
 */
import { AdminReply, HttpError } from '../admin/AdminServer';
import type { MetricFamily } from '../admin/metrics';
import type { PrimaryContext } from '../supervisor/context';
import type { FailoverManager } from './FailoverManager';

export function registerFailoverRoutes(supervisor: PrimaryContext, manager: FailoverManager): void {
  const admin = supervisor.admin;

  admin.route('POST', '/failover', async (req) => {
    const shard = req.body?.shard;
    const to = req.body?.to;
    if (typeof shard !== 'string' || shard === '') throw new HttpError(400, 'body must be {"shard": "NAME"} (optionally "to": "host:port")');
    if (to !== undefined && typeof to !== 'string') throw new HttpError(400, '"to" must be "host:port"');
    if (!supervisor.topology.shards.some((s) => s.name === shard)) throw new HttpError(404, `unknown shard "${shard}"`);
    return manager.switchover(shard, to);
  });

  admin.route('GET', '/failover', () => manager.status());

  // Same as the core /topology (see src/admin/routes.ts), plus each backend's health state and
  // last error (counters and timings are in GET /failover and /stats).
  admin.route('GET', '/topology', (req) => {
    const topo = supervisor.topology;
    const backends = manager.healthSummary();
    if (req.query.get('routing') === '1') return { ...topo, backends };
    const { routing: _routing, ...rest } = topo;
    return { ...rest, backends };
  });

  admin.route('GET', '/stats', async () => AdminReply.json({ ...(await supervisor.aggregatedStats()), failover: manager.status() }));

  supervisor.metrics.addSource(() => failoverMetrics(manager));
}

export function failoverMetrics(manager: FailoverManager): MetricFamily[] {
  const status = manager.status();
  const labels = (b: (typeof status.backends)[number]) => ({ address: b.address, shard: b.shard ?? '', role: b.role ?? '' });
  return [
    {
      name: 'kvstore_backend_up',
      help: 'Health check state of each redis-server: 1 up, 0 down.',
      type: 'gauge',
      samples: status.backends.map((b) => ({ labels: labels(b), value: b.state === 'up' ? 1 : 0 })),
    },
    {
      name: 'kvstore_backend_health_checks_total',
      help: 'Health check PINGs sent to each redis-server.',
      type: 'counter',
      samples: status.backends.map((b) => ({ labels: labels(b), value: b.checks })),
    },
    {
      name: 'kvstore_backend_health_failures_total',
      help: 'Health check PINGs that failed (refused, timed out, bad reply).',
      type: 'counter',
      samples: status.backends.map((b) => ({ labels: labels(b), value: b.failures })),
    },
    {
      name: 'kvstore_backend_ping_seconds',
      help: 'Round trip of the last successful health check PING.',
      type: 'gauge',
      samples: status.backends.filter((b) => b.latencyMs !== null).map((b) => ({ labels: labels(b), value: b.latencyMs! / 1000 })),
    },
    {
      name: 'kvstore_failover_events_total',
      help: 'Failover actions by kind (eject, rejoin, promote, switchover, shard-down, shard-up, demote, sentinel-switch).',
      type: 'counter',
      samples: Object.entries(status.eventCounts).map(([kind, value]) => ({ labels: { kind }, value })),
    },
  ];
}
