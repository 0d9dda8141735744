/**
 * Runs failover in the primary (loaded by src/supervisor/plugins.ts): health checks on every
 * backend, and cache ejection / store promotion / Sentinel following, changing the topology
 * through `ctx.updateTopology` (persisted, then acknowledged by every worker).
 */
import { registerPrimaryPlugin } from '../supervisor/plugins';
import type { PrimaryContext } from '../supervisor/context';
import { runningFleet } from '../coordination/Fleet';
import { registerFailoverRoutes } from './adminRoutes';
import { FailoverManager } from './FailoverManager';

let manager: FailoverManager | undefined;
let healthTimer: NodeJS.Timeout | undefined;

/** The running manager (for tests and other primary modules), if failover started. */
export function failoverManager(): FailoverManager | undefined {
  return manager;
}

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
    // (in a fleet the plugin stops and starts again with the leadership: a stopped one pushes nothing)
    const push = () => {
      if (manager === m) ctx.broadcastToWorkers({ type: 'backend-health', backends: m.healthSummary() });
    };
    m.health.on('change', push);
    ctx.onWorkerReady(push);
    healthTimer = setInterval(push, 5000);
    healthTimer.unref();
  },
  stop() {
    if (healthTimer) clearInterval(healthTimer);
    manager?.stop();
    manager = undefined;
  },
});
