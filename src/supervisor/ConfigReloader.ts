/**
 * Config reload (SIGHUP, POST /reload, `kvstore ctl reload`): re-read the file, refuse it whole
 * if it is invalid (ConfigError, the running config stays), keep the keys that only take effect
 * on restart (reported as warnings), push the rest to the workers, bring the shard list into the
 * topology (./reconcile.ts) and tell the plugins. One reload at a time.
 */
import { loadConfigFile } from '../config/load';
import type { KvstoreConfig } from '../config/types';
import type { Logger } from '../log';
import type { ReloadResult } from './context';
import type { PrimaryPlugin } from './plugins';
import { reconcileShards } from './reconcile';
import type { TopologyPublisher } from './TopologyPublisher';
import type { WorkerPool } from './WorkerPool';

/** Keys that only take effect on restart; reload reports them instead of applying them. */
export const RESTART_ONLY: ReadonlyArray<keyof KvstoreConfig> = ['listen', 'admin', 'workers', 'mode', 'hash', 'murmurSeed', 'stateDir', 'proxyId', 'coordination'];

export type { ReloadResult } from './context';

export interface ConfigReloaderOptions {
  configFile: string;
  /** The running config and its setter (the supervisor owns it). */
  current: () => KvstoreConfig;
  replace: (config: KvstoreConfig) => void;
  pool: WorkerPool;
  topology: TopologyPublisher;
  plugins: PrimaryPlugin[];
  logger: Logger;
  /** The topology is shared (a fleet, in etcd): the config's shard list only seeded it. */
  sharedTopology?: boolean;
}

export class ConfigReloader {
  private reloading: Promise<ReloadResult> | null = null;

  constructor(private readonly options: ConfigReloaderOptions) {}

  /** Re-read the config file and apply what can change live; refuses (ConfigError) a bad file. */
  reload(): Promise<ReloadResult> {
    // one reload at a time; a second caller waits for the same result
    if (!this.reloading) this.reloading = this.doReload().finally(() => (this.reloading = null));
    return this.reloading;
  }

  private async doReload(): Promise<ReloadResult> {
    const { configFile, pool, topology, plugins, logger } = this.options;
    const next = loadConfigFile(configFile);
    const old = this.options.current();
    const applied: string[] = [];
    const warnings: string[] = [];
    for (const key of RESTART_ONLY) {
      if (JSON.stringify(next[key]) !== JSON.stringify(old[key])) warnings.push(`${key} changed; it takes effect on restart only (kept ${JSON.stringify(old[key])})`);
    }
    const effective: KvstoreConfig = { ...next };
    for (const key of RESTART_ONLY) (effective as unknown as Record<string, unknown>)[key] = old[key];
    for (const key of Object.keys(effective) as Array<keyof KvstoreConfig>) {
      if (key !== 'shards' && !RESTART_ONLY.includes(key) && JSON.stringify(effective[key]) !== JSON.stringify(old[key])) applied.push(key);
    }
    this.options.replace(effective);
    pool.broadcast({ type: 'config', config: effective });

    const reconciled = this.options.sharedTopology ? { changed: false, warnings: [], applied: [], snapshot: topology.snapshot } : reconcileShards(topology.snapshot, effective);
    warnings.push(...reconciled.warnings);
    if (this.options.sharedTopology && JSON.stringify(next.shards) !== JSON.stringify(old.shards)) {
      warnings.push('shards: in a fleet the topology lives in etcd (the config only seeded it); change shards with kvstore ctl add-shard / remove-shard');
    }
    if (reconciled.changed) {
      await topology.update(() => reconciled.snapshot);
      applied.push(...reconciled.applied);
    }
    for (const plugin of plugins) await plugin.onConfig?.(effective);
    logger.info({ applied, warnings, epoch: topology.snapshot.epoch }, 'config reloaded');
    return { epoch: topology.snapshot.epoch, applied, warnings };
  }
}
