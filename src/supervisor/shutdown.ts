/**
 * Orderly stop of the primary (SIGTERM/SIGINT, or a failed start): no more restarts or stats
 * sampling, plugins stop in reverse start order (their timers, running jobs), the workers drain
 * in-flight requests (bounded by timeouts.shutdownDrainMs, then SIGKILL), and the admin API
 * closes last so that it answers while the workers drain.
 */
import type { Logger } from '../log';
import type { PrimaryPlugin } from './plugins';
import type { StatsCollector } from './StatsCollector';
import type { WorkerPool } from './WorkerPool';

export interface ShutdownParts {
  logger: Logger;
  pool: WorkerPool;
  stats: StatsCollector;
  plugins: PrimaryPlugin[];
  admin: { close(): Promise<void> };
  drainMs: number;
  /** Last step (e.g. remove the port file). */
  finally?: () => void;
}

export async function shutdownPrimary(parts: ShutdownParts): Promise<void> {
  const { logger, pool, stats, plugins } = parts;
  logger.info('shutting down: draining workers');
  stats.stop();
  pool.stop();
  for (const plugin of [...plugins].reverse()) {
    try {
      await plugin.stop?.();
    } catch (err) {
      logger.error({ err, plugin: plugin.name }, 'plugin stop failed');
    }
  }
  await pool.drain(parts.drainMs);
  await parts.admin.close();
  pool.close();
  parts.finally?.();
  logger.info('stopped');
}
