/**
 * Reads from replicas (`readFrom`, READONLY clients): which replicas of each shard may serve
 * reads right now, and their backend pools.
 *
 * The primary decides health: its checks (up/down) and its lag measurement (src/failover/
 * ReplicaLag.ts) arrive with every `backend-health` push. A replica is readable when it is up,
 * has a lag figure, and that lag is within `maxReplicaLagMs`; anything unknown is not readable
 * (a worker that has not heard from the primary yet reads from masters). The readable pools of
 * a shard are recomputed only on a push, a topology or a config change, so choosing a replica
 * per command is two array reads.
 *
 * Pools to replicas are opened on first use and kept while the replica is in the topology, so a
 * replica that dips over the lag limit and back costs no reconnect.
 */
import type { BackendConnection } from './BackendConnection';
import { errorReply } from './ErrorReply';
import type { BackendHealthSummary } from '../supervisor/messages';

export type ReadFrom = 'master' | 'replica' | 'replica-preferred';

/** What a shard needs for reads: its replicas' pools that may serve now. */
export interface ReadableShard {
  readonly name: string;
  readonly replicas: readonly string[];
  /** Pools of the readable replicas (empty: none). */
  readPools: BackendConnection[][];
  /** readFrom: replica with no readable replica: the reply. */
  noReplicaReply: Buffer | null;
}

export class ReplicaReads {
  private readonly health = new Map<string, { up: boolean; lagMs: number | null }>();
  private readonly pools = new Map<string, BackendConnection[]>();

  constructor(private readonly createPool: (shard: string, address: string) => BackendConnection[]) {}

  /** The primary's latest view of every backend. */
  setHealth(backends: readonly BackendHealthSummary[]): void {
    this.health.clear();
    for (const b of backends) {
      if (b.role === 'replica') this.health.set(b.address, { up: b.state === 'up', lagMs: b.lagMs ?? null });
    }
  }

  readable(address: string, maxLagMs: number): boolean {
    const h = this.health.get(address);
    return !!h && h.up && h.lagMs !== null && h.lagMs <= maxLagMs;
  }

  /** Recompute every shard's readable pools (after a push, a topology or a config change). */
  refresh(shards: readonly ReadableShard[], readFrom: ReadFrom, maxLagMs: number): void {
    const listed = new Set<string>();
    for (const shard of shards) {
      for (const r of shard.replicas) listed.add(r);
      if (readFrom === 'master') {
        shard.readPools = [];
        shard.noReplicaReply = null;
        continue;
      }
      shard.readPools = shard.replicas.filter((r) => this.readable(r, maxLagMs)).map((r) => this.poolFor(shard.name, r));
      shard.noReplicaReply =
        readFrom === 'replica' && shard.readPools.length === 0
          ? errorReply(`CLUSTERDOWN The cluster is down: shard '${shard.name}' has no replica that is up and within maxReplicaLagMs (readFrom: replica)`)
          : null;
    }
    // Replicas gone from the topology: their connections close.
    for (const [address, pool] of this.pools) {
      if (listed.has(address)) continue;
      for (const b of pool) b.retire('was removed from the topology: request aborted, retry');
      this.pools.delete(address);
    }
  }

  allBackends(): BackendConnection[] {
    return [...this.pools.values()].flat();
  }

  private poolFor(shard: string, address: string): BackendConnection[] {
    let pool = this.pools.get(address);
    if (!pool) {
      pool = this.createPool(shard, address);
      this.pools.set(address, pool);
    }
    return pool;
  }
}
