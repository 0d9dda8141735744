/**
 * Runs failover in the primary (loaded by src/supervisor/plugins.ts): health checks on every
 * backend, and cache ejection / store promotion / Sentinel following, changing the topology
 * through `supervisor.updateTopology` (persisted, then acknowledged by every worker).
 */
import { registerPrimaryPlugin } from '../supervisor/plugins';
import type { Supervisor } from '../supervisor/Supervisor';
import { registerFailoverRoutes } from './adminRoutes';
import { FailoverManager } from './FailoverManager';

let manager: FailoverManager | undefined;
let healthTimer: NodeJS.Timeout | undefined;
/** Undone in stop: in a fleet the plugin starts again each time this proxy is elected. */
let unsubscribe: (() => void) | undefined;

/** The running manager (for tests and other primary modules), if failover started. */
export function failoverManager(): FailoverManager | undefined {
  return manager;
}

registerPrimaryPlugin({
  leaderOnly: true,
  name: 'failover',
  async start(supervisor: Supervisor) {
    const publisher = {
      get snapshot() {
        return supervisor.topology;
      },
      update: (mutate: Parameters<Supervisor['updateTopology']>[0]) => supervisor.updateTopology(mutate),
    };
    manager = new FailoverManager(supervisor.config, publisher, supervisor.store);
    registerFailoverRoutes(supervisor, manager);
    await manager.start();
    // Workers show backend health in INFO: push it on every state change, to new workers, and
    // every few seconds (last errors change without a state change).
    const m = manager;
    const push = () => supervisor.broadcastToWorkers({ type: 'backend-health', backends: m.healthSummary() });
    m.health.on('change', push);
    supervisor.on('worker-ready', push);
    unsubscribe = () => supervisor.off('worker-ready', push);
    healthTimer = setInterval(push, 5000);
    healthTimer.unref();
  },
  stop() {
    if (healthTimer) clearInterval(healthTimer);
    unsubscribe?.();
    unsubscribe = undefined;
    manager?.stop();
    manager = undefined;
  },
});
