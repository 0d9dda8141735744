/**
 * Bringing the config's shard list into the persisted topology (at start and on reload) without
 * undoing what the running system decided:
 * - a shard only in the config is added with no slots (`kvstore ctl rebalance` or `move-slots`
 *   gives it some);
 * - a shard whose set of addresses changed in the config gets the config's master and replicas;
 *   when only the roles differ (a failover promoted a replica), the topology's roles are kept;
 * - a shard only in the topology is kept (it may own slots or have been added with
 *   `ctl add-shard`); removing one is `kvstore ctl remove-shard`.
 */
import type { KvstoreConfig } from '../config/types';
import type { TopologySnapshot } from '../topology/types';

export interface Reconciled {
  changed: boolean;
  snapshot: TopologySnapshot;
  applied: string[];
  warnings: string[];
}

export function reconcileShards(current: TopologySnapshot, config: KvstoreConfig): Reconciled {
  const snapshot = structuredClone(current);
  const applied: string[] = [];
  const warnings: string[] = [];
  const byName = new Map(snapshot.shards.map((s) => [s.name, s]));
  const configured = new Set(config.shards.map((s) => s.name));

  for (const want of config.shards) {
    const have = byName.get(want.name);
    if (!have) {
      snapshot.shards.push({ name: want.name, master: want.master, replicas: [...want.replicas], state: 'up', slots: [] });
      applied.push(`shards: added ${want.name} (no slots yet; give it some with kvstore ctl rebalance or move-slots)`);
      continue;
    }
    const wantSet = [want.master, ...want.replicas].sort().join(',');
    const haveSet = [have.master, ...have.replicas].sort().join(',');
    if (wantSet !== haveSet) {
      have.master = want.master;
      have.replicas = [...want.replicas];
      applied.push(`shards: ${want.name} now master ${want.master}${want.replicas.length ? `, replicas ${want.replicas.join(',')}` : ''}`);
    } else if (have.master !== want.master) {
      warnings.push(`shards: ${want.name}: the config names ${want.master} as master but ${have.master} is master now (after a failover); keeping ${have.master}`);
    }
  }
  for (const s of snapshot.shards) {
    if (!configured.has(s.name)) warnings.push(`shards: ${s.name} is in the topology but not in the config; it stays (use kvstore ctl remove-shard to remove it)`);
  }
  return { changed: applied.length > 0, snapshot, applied, warnings };
}
