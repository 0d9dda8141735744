/**
 * Key rewrite in the primary: admin routes (/key-rewrite...), rule changes through
 * Supervisor.updateTopology (persisted, acked by every worker before the call returns), and the
 * reclaim job. Loaded by src/supervisor/plugins.ts.
 */
import { SlotHasher } from '../native/reference/hash';
import { registerPrimaryPlugin } from '../supervisor/plugins';
import type { Supervisor } from '../supervisor/Supervisor';
import { registerKeyRewriteRoutes } from './adminRoutes';
import { KeyRewriteAdmin } from './KeyRewriteAdmin';

let admin: KeyRewriteAdmin | undefined;

registerPrimaryPlugin({
  leaderOnly: true,
  name: 'key-rewrite',
  start(supervisor: Supervisor) {
    const config = supervisor.config;
    const hasher = new SlotHasher();
    hasher.configure(config.hash, config.murmurSeed);
    admin = new KeyRewriteAdmin({
      snapshot: () => supervisor.topology,
      updateTopology: (mutate) => supervisor.updateTopology(mutate),
      slotOf: (key) => hasher.slot(key, 0, key.length),
      backendAuth: { username: config.backend.username || undefined, password: config.backend.password || undefined },
    });
    registerKeyRewriteRoutes(supervisor.admin, admin);
    const job = admin.reclaim;
    supervisor.metrics.addSource(() => [
      { name: 'kvstore_key_rewrite_rules', help: 'Active key-rewrite patterns', type: 'gauge', samples: [{ value: supervisor.topology.keyRewrite?.length ?? 0 }] },
      { name: 'kvstore_key_rewrite_reclaim_running', help: '1 while a reclaim pass runs', type: 'gauge', samples: [{ value: job.isRunning ? 1 : 0 }] },
      { name: 'kvstore_key_rewrite_reclaim_scanned_total', help: 'Names examined by reclaim passes', type: 'counter', samples: [{ value: job.totals.scanned }] },
      { name: 'kvstore_key_rewrite_reclaim_unlinked_total', help: 'Dead names unlinked by reclaim passes', type: 'counter', samples: [{ value: job.totals.unlinked }] },
    ]);
  },
  async stop() {
    await admin?.reclaim.stop();
  },
});
