/**
 * Runs failover in the primary (loaded by src/supervisor/plugins.ts): health checks on every
 * backend, and cache ejection / store promotion / Sentinel following, changing the topology
 * through `ctx.updateTopology` (persisted, then acknowledged by every worker). A second part runs
 * on every proxy of a fleet, leader or not: it lets the health checkers ask this proxy's workers
 * what a silent server is doing (WorkerActivity.ts).
 */
import { registerPrimaryPlugin } from '../supervisor/plugins';
import type { PrimaryContext } from '../supervisor/context';
import { runningFleet } from '../coordination/Fleet';
import { registerFailoverRoutes } from './adminRoutes';
import { FailoverManager } from './FailoverManager';
import { ReplicaLagMonitor } from './ReplicaLag';
import { setWorkerActivitySource } from './WorkerActivity';

let manager: FailoverManager | undefined;
let healthTimer: NodeJS.Timeout | undefined;
let lag: ReplicaLagMonitor | undefined;

/** The running manager (for tests and other primary modules), if failover started. */
export function failoverManager(): FailoverManager | undefined {
  return manager;
}

registerPrimaryPlugin({
  name: 'backend-activity',
  start(ctx: PrimaryContext) {
    setWorkerActivitySource((addresses, timeoutMs) => ctx.backendActivity(addresses, timeoutMs));
  },
  stop() {
    setWorkerActivitySource(null);
  },
});

registerPrimaryPlugin({
  leaderOnly: true,
  name: 'failover',
  async start(ctx: PrimaryContext) {
    const publisher = {
      get snapshot() {
        return ctx.topology;
      },
      update: (mutate: Parameters<PrimaryContext['updateTopology']>[0]) => ctx.updateTopology(mutate),
    };
    const witness = runningFleet()?.witness;
    manager = new FailoverManager(ctx.config, publisher, ctx.topologyChanges, witness ? (address) => witness.confirmDown(address) : undefined);
    registerFailoverRoutes(ctx, manager);
    await manager.start();
    // Workers show backend health in INFO: push it on every state change, to new workers, and
    // every few seconds (last errors change without a state change).
    const m = manager;
    // Replicas carry their replication lag (readFrom); a replica crossing maxReplicaLagMs pushes at once.
    const replicaLag = new ReplicaLagMonitor({ topology: () => ctx.topology, config: () => ctx.config });
    lag = replicaLag;
    // (in a fleet the plugin stops and starts again with the leadership: a stopped one pushes nothing)
    const push = () => {
      if (manager !== m) return;
      ctx.broadcastToWorkers({
        type: 'backend-health',
        backends: m.healthSummary().map((b) => (b.role === 'replica' ? { ...b, lagMs: replicaLag.lagOf(b.address) } : b)),
      });
    };
    m.health.on('change', push);
    replicaLag.on('change', push);
    replicaLag.start();
    ctx.onWorkerReady(push);
    healthTimer = setInterval(push, 5000);
    healthTimer.unref();
  },
  stop() {
    if (healthTimer) clearInterval(healthTimer);
    lag?.stop();
    manager?.stop();
    manager = undefined;
  },
});
