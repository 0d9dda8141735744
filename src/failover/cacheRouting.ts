/**
 * Cache mode: where the slots of down shards are served. The result depends only on the
 * snapshot's owners (`shards[].slots`) and which shards are 'down', never on any earlier
 * routing table, so every worker and every future proxy computes the same table from the same
 * topology, whatever order the failures happened in.
 */
import { NO_SHARD, encodeRoutingTable, ownerTable } from '../topology/slots';
import type { TopologySnapshot } from '../topology/types';

/**
 * The routing table for `snapshot`: each down shard's slots (ascending) are cut into as many
 * contiguous, equal (±1) runs as there are healthy shards, handed out in shard order. Returns
 * undefined when nothing needs rerouting (route by the owners). With no healthy shard at all,
 * the down shards keep their slots: there is nowhere better, and the proxy answers CLUSTERDOWN.
 */
export function cacheRoutingTable(snapshot: TopologySnapshot): Uint16Array | undefined {
  const down = new Set<number>();
  const healthy: number[] = [];
  snapshot.shards.forEach((shard, i) => {
    if (shard.state === 'down') down.add(i);
    else if (shard.state === 'up') healthy.push(i);
  });
  if (down.size === 0 || healthy.length === 0) return undefined;
  const table = ownerTable(snapshot);
  const displaced: number[] = [];
  for (let slot = 0; slot < table.length; slot++) if (table[slot] !== NO_SHARD && down.has(table[slot])) displaced.push(slot);
  const n = displaced.length;
  healthy.forEach((shardIndex, k) => {
    const first = Math.floor((k * n) / healthy.length);
    const end = Math.floor(((k + 1) * n) / healthy.length);
    for (let j = first; j < end; j++) table[displaced[j]] = shardIndex;
  });
  return table;
}

/** Set (or clear) `snapshot.routing` from the shards' states; mutates and returns `snapshot`. */
export function applyCacheRouting(snapshot: TopologySnapshot): TopologySnapshot {
  const table = cacheRoutingTable(snapshot);
  if (table) snapshot.routing = encodeRoutingTable(table);
  else delete snapshot.routing;
  return snapshot;
}
