/**
 * Slot → shard → backend connection. The slot table is one Uint16Array(16384) that the hot path
 * also reads (split groups keys by it); a topology change overwrites it in place, so the binding
 * stays valid and no request ever sees half a table (the worker is single-threaded).
 */
import type { KvstoreConfig } from '../config/types';
import type { Logger } from '../log';
import { FENCED_SHARD, NO_SHARD, routingTable } from '../topology/slots';
import { SLOT_COUNT, TopologySnapshot } from '../topology/types';
import { BackendConnection, BackendOptions } from './BackendConnection';
import { DataPathIo, systemIo } from './DataPathIo';
import type { HotPathBinding } from './HotPathBinding';
import { ReadableShard, ReplicaReads } from './ReplicaReads';
import type { BackendHealthSummary } from '../supervisor/messages';
import { errorReply } from './Resp';
import { FENCED_REPLY, FENCED_SLOT_REPLY, FenceSpec } from './LeaseFence';

/**
 * The backend connections of one shard: the RESP2 pool every client starts on, and a second
 * pool that spoke `HELLO 3`, opened on the first RESP3 client (so RESP3 clients get the shard's
 * own RESP3 replies untouched, and RESP2 clients pay nothing for them).
 */
export class ShardPools {
  resp3: BackendConnection[] | null = null;
  constructor(
    readonly resp2: BackendConnection[],
    private readonly create3: () => BackendConnection[],
  ) {}

  get all(): BackendConnection[] {
    return this.resp3 ? [...this.resp2, ...this.resp3] : this.resp2;
  }

  openResp3(): BackendConnection[] {
    return (this.resp3 ??= this.create3());
  }
}

export class ShardRoute implements ReadableShard {
  /** Set when the shard cannot serve at all (state 'down'): requests fail fast with it. */
  downReply: Buffer | null = null;
  /** Pools of the replicas that may serve reads now (ReplicaReads.ts). */
  readPools: BackendConnection[][] = [];
  noReplicaReply: Buffer | null = null;
  constructor(
    readonly index: number,
    readonly name: string,
    readonly address: string,
    readonly pools: ShardPools,
    readonly replicas: readonly string[] = [],
  ) {}

  /** The RESP2 pool (stats, health). */
  get pool(): BackendConnection[] {
    return this.pools.resp2;
  }

  /** The pool connection a client is pinned to (keeps that client's order on this shard). */
  backend(poolIndex: number): BackendConnection {
    const pool = this.pools.resp2;
    return pool[poolIndex % pool.length];
  }

  /** The same for a client that switched to RESP3 (HELLO 3). */
  backend3(poolIndex: number): BackendConnection {
    const pool = this.pools.openResp3();
    return pool[poolIndex % pool.length];
  }

  /**
   * A READONLY client's read: a readable replica, the same one for a client while the set does
   * not change (spread over replicas by client); null when none may serve.
   */
  readBackend(poolIndex: number): BackendConnection | null {
    const n = this.readPools.length;
    if (n === 0) return null;
    const pool = this.readPools[poolIndex % n];
    return pool[poolIndex % pool.length];
  }
}

export class Router {
  readonly slotTable = new Uint16Array(SLOT_COUNT).fill(NO_SHARD);
  /** 1 where a slot is being migrated (resharding seam; see proxy/Hooks.ts). */
  readonly migrating = new Uint8Array(SLOT_COUNT);
  migrationsActive = false;
  private migrations: TopologySnapshot['migrations'] = [];
  shards: ShardRoute[] = [];
  epoch = -1;
  /** Where keyless commands go: the first shard that is not down. */
  keylessShard = 0;
  private config: KvstoreConfig;
  readonly replicaReads = new ReplicaReads((name, address) => this.createPool(name, address, 2));
  /** What a fleet proxy out of its lease refuses (LeaseFence); null: serving. */
  private fence: FenceSpec | null = null;
  /** The shards' own down replies, kept while every shard is fenced. */
  private unfencedDown: Array<Buffer | null> = [];
  /** The routing table of the topology in force (slotTable is it, but for fenced slots). */
  private table: Uint16Array = new Uint16Array(SLOT_COUNT).fill(NO_SHARD);
  readonly fencedSlotReply = FENCED_SLOT_REPLY;

  constructor(
    config: KvstoreConfig,
    private readonly binding: HotPathBinding,
    private readonly log: Logger,
    /** Backends use the addon's sockets (src/proxy/io). */
    private readonly nativeIo = false,
    /** How backend streams are opened, and the clock (fakes in unit tests). */
    private readonly io: DataPathIo = systemIo,
  ) {
    this.config = config;
  }

  /**
   * Replace the routing whole. Pools are kept for shards whose name and master address are
   * unchanged; the others are retired, failing their in-flight requests with a clear -ERR.
   */
  apply(snapshot: TopologySnapshot): void {
    const table = routingTable(snapshot);
    const old = new Map(this.shards.map((s) => [`${s.name}@${s.address}`, s]));
    const next: ShardRoute[] = snapshot.shards.map((info, index) => {
      const key = `${info.name}@${info.master}`;
      const reused = old.get(key);
      old.delete(key);
      const pools = reused ? reused.pools : this.createPools(info.name, info.master);
      const route = new ShardRoute(index, info.name, info.master, pools, info.replicas ?? []);
      // Redis Cluster's word for "this slot cannot be served now"; names the shard for the operator.
      if (info.state === 'down') {
        route.downReply = errorReply(`CLUSTERDOWN The cluster is down: shard '${info.name}' (${info.master}) has no reachable master`);
        // Requests already waiting on it (a hung server) fail now, not at the request timeout.
        if (reused && !reused.downReply) for (const b of pools.all) b.abort('was marked down by the health checks');
      }
      return route;
    });
    for (const gone of old.values()) {
      const successor = snapshot.shards.find((s) => s.name === gone.name);
      const reason = successor
        ? `master changed to ${successor.master}: request aborted, retry`
        : 'was removed from the topology: request aborted, retry';
      for (const backend of gone.pools.all) backend.retire(reason);
    }
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      const s = table[slot];
      if (s !== NO_SHARD && s >= next.length) throw new Error(`routing table points slot ${slot} at shard ${s}, but there are ${next.length} shards`);
    }
    this.shards = next;
    this.refreshReads();
    this.keylessShard = Math.max(0, next.findIndex((s) => s.downReply === null));
    this.table = table;
    this.slotTable.set(table);
    this.migrating.fill(0);
    for (const m of snapshot.migrations) this.migrating.fill(1, m.first, m.last + 1);
    this.migrationsActive = snapshot.migrations.length > 0;
    this.migrations = snapshot.migrations;
    this.epoch = snapshot.epoch;
    if (this.fence) this.installFence(this.fence);
    this.binding.useSlotTable(this.slotTable);
    this.log.info({ epoch: snapshot.epoch, shards: next.length }, 'topology applied');
  }

  /**
   * Fence (see LeaseFence) or unfence (null) the routing: every shard answers -TRYAGAIN, or only
   * the fenced slots do (pointed at FENCED_SHARD, and no longer seen as migrating, so the
   * migration seam cannot reach a shard for them); writes are refused by the dispatcher (LeaseFence.gate).
   */
  setFence(spec: FenceSpec | null): void {
    if (this.fence) this.removeFence();
    this.fence = spec;
    if (spec) this.installFence(spec);
    this.log.warn(
      { fenced: spec === null ? false : spec.all ? 'all' : { slots: spec.slots.length, writes: spec.writes }, epoch: this.epoch },
      spec === null ? 'fleet lease renewed: serving' : spec.all ? 'fleet lease expired: refusing commands until caught up' : 'cut off from etcd: refusing the slots whose owner changed' + (spec.writes ? ' and every write' : ''),
    );
  }

  private installFence(spec: FenceSpec): void {
    if (spec.all) {
      this.unfencedDown = this.shards.map((s) => s.downReply);
      for (const s of this.shards) s.downReply = FENCED_REPLY;
      return;
    }
    for (const [first, last] of spec.slots) {
      this.slotTable.fill(FENCED_SHARD, first, last + 1);
      this.migrating.fill(0, first, last + 1);
    }
  }

  private removeFence(): void {
    const spec = this.fence!;
    if (spec.all) {
      this.shards.forEach((s, i) => (s.downReply = this.unfencedDown[i] ?? null));
      this.unfencedDown = [];
    } else {
      this.slotTable.set(this.table);
      for (const m of this.migrations) this.migrating.fill(1, m.first, m.last + 1);
    }
    this.fence = null;
  }

  /** The migration a slot is part of, as shard names (null when the slot is not moving). */
  migrationOf(slot: number): { from: string; to: string } | null {
    if (this.migrating[slot] === 0) return null;
    const m = this.migrations.find((x) => slot >= x.first && slot <= x.last);
    return m ? { from: m.from, to: m.to } : null;
  }

  applyConfig(config: KvstoreConfig): void {
    this.config = config;
    for (const shard of this.shards) {
      for (const b of shard.pools.resp2) b.updateOptions(this.backendOptions(shard.name, shard.address, 2));
      for (const b of shard.pools.resp3 ?? []) b.updateOptions(this.backendOptions(shard.name, shard.address, 3));
    }
    for (const b of this.replicaReads.allBackends()) b.updateOptions(this.backendOptions(b.shard, b.address, 2));
    this.refreshReads();
  }

  /** The primary's health and lag of every backend: which replicas may serve reads. */
  setBackendHealth(backends: readonly BackendHealthSummary[]): void {
    this.replicaReads.setHealth(backends);
    this.refreshReads();
  }

  private refreshReads(): void {
    this.replicaReads.refresh(this.shards, this.config.readFrom ?? 'master', this.config.maxReplicaLagMs ?? 1000);
  }

  private createPools(name: string, address: string): ShardPools {
    return new ShardPools(this.createPool(name, address, 2), () => this.createPool(name, address, 3));
  }

  private createPool(name: string, address: string, proto: 2 | 3): BackendConnection[] {
    const size = Math.max(1, this.config.backend.poolSize);
    return Array.from({ length: size }, () => new BackendConnection(this.backendOptions(name, address, proto), this.binding, this.log, this.io));
  }

  private backendOptions(shard: string, address: string, proto: 2 | 3): BackendOptions {
    const c = this.config;
    return {
      shard,
      address,
      username: c.backend.username,
      password: c.backend.password,
      connectMs: c.timeouts.connectMs,
      requestMs: c.timeouts.requestMs,
      highWater: c.limits.backendHighWater,
      nativeIo: this.nativeIo,
      proto,
    };
  }

  allBackends(): BackendConnection[] {
    return [...this.shards.flatMap((s) => s.pools.all), ...this.replicaReads.allBackends()];
  }

  async close(drainMs: number): Promise<void> {
    await Promise.all(this.allBackends().map((b) => b.drainAndClose(drainMs)));
  }
}
