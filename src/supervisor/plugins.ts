/**
 * Primary plugins: features that run in the primary next to the supervisor (health checks and
 * failover, resharding jobs, key rewrite). A feature adds one file, `src/<folder>/primary-plugin.ts`,
 * that calls `registerPrimaryPlugin(...)`; every such file is loaded when the primary starts, so
 * no shared file has to change. `start` gets a PrimaryContext (./context.ts), not the supervisor:
 * a plugin typically adds admin routes (`ctx.admin.route(...)`), metrics (`ctx.metrics`) and
 * changes the topology with `await ctx.updateTopology(...)`, which returns once all workers route by it.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { KvstoreConfig } from '../config/types';
import type { Logger } from '../log';
import type { PrimaryContext } from './context';

export interface PrimaryPlugin {
  name: string;
  /**
   * In a fleet (coordination), run only on the elected leader: started when this proxy is
   * elected, stopped when it is deposed (so start/stop may run several times).
   */
  leaderOnly?: boolean;
  /** Called before the admin API listens and the workers start. */
  start(ctx: PrimaryContext): void | Promise<void>;
  /** After a reload was applied (the new effective config). */
  onConfig?(config: KvstoreConfig): void | Promise<void>;
  /** On shutdown, before the workers drain. */
  stop?(): void | Promise<void>;
}

const registered: PrimaryPlugin[] = [];

export function registerPrimaryPlugin(plugin: PrimaryPlugin): void {
  if (!registered.some((p) => p.name === plugin.name)) registered.push(plugin);
}

export const PLUGIN_FILE = 'primary-plugin.js';

/** Load every dist/src/<folder>/primary-plugin.js and return the registered plugins. */
export function loadPrimaryPlugins(logger?: Logger): PrimaryPlugin[] {
  const srcDir = path.join(__dirname, '..');
  for (const entry of fs.readdirSync(srcDir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isDirectory()) continue;
    const file = path.join(srcDir, entry.name, PLUGIN_FILE);
    if (fs.existsSync(file)) {
      require(file);
      logger?.debug({ file }, 'loaded primary plugin');
    }
  }
  return [...registered];
}
