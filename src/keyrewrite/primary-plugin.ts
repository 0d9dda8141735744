/**
 * Key rewrite in the primary: admin routes (/key-rewrite...), rule changes through
 * PrimaryContext.updateTopology (persisted, acked by every worker before the call returns), and the
 * reclaim job. Loaded by src/supervisor/plugins.ts.
 */
import { counterFrom, gaugeFrom } from '../admin/metrics';
import { SlotHasher } from '../native/reference/hash';
import { registerPrimaryPlugin } from '../supervisor/plugins';
import type { PrimaryContext } from '../supervisor/context';
import { registerKeyRewriteRoutes } from './adminRoutes';
import { KeyRewriteAdmin } from './KeyRewriteAdmin';

let admin: KeyRewriteAdmin | undefined;

registerPrimaryPlugin({
  leaderOnly: true,
  name: 'key-rewrite',
  start(ctx: PrimaryContext) {
    const config = ctx.config;
    const hasher = new SlotHasher();
    hasher.configure(config.hash, config.murmurSeed);
    admin = new KeyRewriteAdmin({
      snapshot: () => ctx.topology,
      updateTopology: (mutate) => ctx.updateTopology(mutate),
      slotOf: (key) => hasher.slot(key, 0, key.length),
      backendAuth: { username: config.backend.username || undefined, password: config.backend.password || undefined },
    });
    registerKeyRewriteRoutes(ctx.admin, admin);
    const job = admin.reclaim;
    const metrics = ctx.metrics;
    gaugeFrom(metrics, 'kvstore_key_rewrite_rules', 'Active key-rewrite patterns', () => ctx.topology.keyRewrite?.length ?? 0);
    gaugeFrom(metrics, 'kvstore_key_rewrite_reclaim_running', '1 while a reclaim pass runs', () => (job.isRunning ? 1 : 0));
    counterFrom(metrics, 'kvstore_key_rewrite_reclaim_scanned_total', 'Names examined by reclaim passes', () => job.totals.scanned);
    counterFrom(metrics, 'kvstore_key_rewrite_reclaim_unlinked_total', 'Dead names unlinked by reclaim passes', () => job.totals.unlinked);
  },
  async stop() {
    await admin?.reclaim.stop();
  },
});
