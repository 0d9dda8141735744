/**
 * Resharding in the primary: the job manager, its admin routes and metrics, and the resume of a
 * migration a previous run left unfinished (once every worker routes by the current topology).
 */
import { registerPrimaryPlugin } from '../supervisor/plugins';
import type { PrimaryContext } from '../supervisor/context';
import { counterFrom, gaugeFrom } from '../admin/metrics';
import { createLogger } from '../log';
import { runningFleet } from '../coordination/Fleet';
import { registerReshardRoutes } from './adminRoutes';
import { JobManager } from './JobManager';
import { createSlotFilter } from './slotFilter';

const log = createLogger('reshard');
let manager: JobManager | undefined;
let stopped = false;

/** Resume only when every worker is ready: a worker still starting would route by an older epoch. */
async function resumeWhenReady(ctx: PrimaryContext, jobs: JobManager): Promise<void> {
  for (;;) {
    if (stopped) return;
    const workers = ctx.workerInfo();
    if (workers.length > 0 && workers.every((w) => w.ready)) break;
    await new Promise((r) => setTimeout(r, 100).unref());
  }
  await ctx.publishTopology();
  const job = jobs.resume();
  if (job) log.info({ job: job.id, kind: job.kind }, 'resuming an unfinished migration');
}

registerPrimaryPlugin({
  leaderOnly: true,
  name: 'reshard',
  start(ctx) {
    stopped = false; // in a fleet the plugin starts again each time this proxy is elected
    const jobs = new JobManager({
      snapshot: () => ctx.topology,
      apply: (mutate) => ctx.updateTopology(mutate),
      filter: createSlotFilter(ctx.config),
      settings: () => ({ ...ctx.config.migration, backend: ctx.config.backend, migrateTimeoutMs: Math.max(5000, ctx.config.timeouts.requestMs) }),
      stateDir: ctx.config.stateDir,
      jobStore: runningFleet()?.jobStore(),
      log,
    });
    manager = jobs;
    registerReshardRoutes(ctx.admin, jobs);
    const running = () => jobs.list().filter((j) => j.state === 'running');
    const metrics = ctx.metrics;
    gaugeFrom(metrics, 'kvstore_reshard_jobs_running', 'Resharding jobs running', () => running().length);
    gaugeFrom(metrics, 'kvstore_migrating_slots', 'Slots migrating right now', () => ctx.topology.migrations.reduce((n, m) => n + m.last - m.first + 1, 0));
    gaugeFrom(metrics, 'kvstore_reshard_keys_per_second', 'Keys per second of the running job', () => running()[0]?.keysPerSecond ?? 0);
    counterFrom(metrics, 'kvstore_reshard_keys_moved_total', 'Keys moved by the migrator since start', () => jobs.totals.keysMoved);
    counterFrom(metrics, 'kvstore_reshard_stale_deleted_total', 'Stale copies deleted (BUSYKEY, destination purge, no-copy cleanup) since start', () => jobs.totals.staleDeleted);
    counterFrom(metrics, 'kvstore_reshard_jobs_done_total', 'Resharding jobs finished since start', () => jobs.totals.jobsDone);
    counterFrom(metrics, 'kvstore_reshard_jobs_failed_total', 'Resharding jobs failed since start', () => jobs.totals.jobsFailed);
    void resumeWhenReady(ctx, jobs).catch((err) => log.error({ err: (err as Error).message }, 'cannot resume the unfinished migration'));
  },
  async stop() {
    stopped = true;
    await manager?.stop();
  },
});
