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

/** The running manager (for tests and other primary modules), if failover started. */
export function failoverManager(): FailoverManager | undefined {
  return manager;
}

registerPrimaryPlugin({
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
  },
  stop() {
    manager?.stop();
    manager = undefined;
  },
});
