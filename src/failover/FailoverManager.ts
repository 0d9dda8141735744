/**
 * The primary's failover entry point: health checks for every backend in the topology plus the
 * engine the config asks for — cache ejection (mode cache), Kvstore promotion (mode store), or
 * following Redis Sentinel (mode store with `sentinels`). The supervisor creates one, starts it,
 * and exposes `status()` (for /topology, /stats, /metrics, INFO) and `switchover()`
 * (POST /failover, `kvstore ctl failover`).
 */
import { backendTlsOptions } from '../security/tls';
import type { KvstoreConfig } from '../config/types';
import { TopologyError } from '../errors';
import type { BackendHealthSummary } from '../supervisor/messages';
import type { TopologySnapshot } from '../topology/types';
import { CacheFailover } from './CacheFailover';
import { BackendHealth, HealthChecker } from './HealthChecker';
import { EventLog, FailoverEvent, TopologyPublisher } from './publisher';
import { withClient } from './replication';
import { SentinelWatcher } from './SentinelWatcher';
import { workerExplainer } from './WorkerActivity';
import { StoreFailover, SwitchoverResult } from './StoreFailover';

export type FailoverEngine = 'cache-eject' | 'kvstore' | 'sentinel';

export interface BackendStatus extends BackendHealth {
  shard: string | null;
  role: 'master' | 'replica' | null;
}

export interface FailoverStatus {
  engine: FailoverEngine;
  backends: BackendStatus[];
  events: FailoverEvent[];
  /** Every failover action since start, by kind. */
  eventCounts: Record<string, number>;
  sentinels?: ReturnType<SentinelWatcher['status']>;
  /** Cache mode: the last orphan sweep (after a rejoin). */
  lastSweep?: CacheFailover['lastSweep'];
}

export type FailoverConfig = Pick<KvstoreConfig, 'mode' | 'hash' | 'murmurSeed' | 'health' | 'sentinels' | 'sentinelMasterPrefix'> & { backend?: KvstoreConfig['backend'] };

export function backendAddresses(snapshot: TopologySnapshot): string[] {
  return [...new Set(snapshot.shards.flatMap((s) => [s.master, ...s.replicas]))];
}

export class FailoverManager {
  readonly health: HealthChecker;
  readonly events = new EventLog();
  readonly engine: FailoverEngine;
  private cache?: CacheFailover;
  private store?: StoreFailover;
  private sentinel?: SentinelWatcher;
  private readonly onTopology = (snapshot: TopologySnapshot) => this.health.setAddresses(backendAddresses(snapshot));

  constructor(
    private readonly config: FailoverConfig,
    private readonly topology: TopologyPublisher,
    /** Where topology changes are announced (TopologyStore's 'change'), to keep checking the right backends. */
    private readonly changes?: { on(event: 'change', fn: (s: TopologySnapshot) => void): unknown; off(event: 'change', fn: (s: TopologySnapshot) => void): unknown },
    /** Store mode in a fleet: the other proxies' confirmation that a master is down. */
    confirmDown?: (address: string) => Promise<boolean>,
  ) {
    const backendTls = config.backend?.tls?.enabled ? (backendTlsOptions(config.backend.tls, '') ?? undefined) : undefined;
    const backend = config.backend ? { username: config.backend.username || undefined, password: config.backend.password || undefined, tls: backendTls } : undefined;
    this.health = new HealthChecker({ health: config.health, backend, explain: workerExplainer });
    if (config.mode === 'cache') {
      this.engine = 'cache-eject';
      this.cache = new CacheFailover(topology, this.health, { health: config.health, backend, hash: { hash: config.hash, murmurSeed: config.murmurSeed } }, this.events);
    } else if (config.sentinels.length > 0) {
      this.engine = 'sentinel';
      this.sentinel = new SentinelWatcher(topology, { sentinels: config.sentinels, prefix: config.sentinelMasterPrefix, timeoutMs: config.health.timeoutMs }, this.events);
    } else {
      this.engine = 'kvstore';
      this.store = new StoreFailover(topology, this.health, { health: config.health, backend, confirmDown }, this.events);
    }
  }

  async start(): Promise<void> {
    this.health.setAddresses(backendAddresses(this.topology.snapshot));
    this.changes?.on('change', this.onTopology);
    this.cache?.start();
    this.store?.start();
    await this.sentinel?.start();
  }

  stop(): void {
    this.changes?.off('change', this.onTopology);
    this.cache?.stop();
    this.store?.stop();
    this.sentinel?.stop();
    this.health.stop();
  }

  /** Resolves when background work (cache-mode orphan sweep) is done. */
  async idle(): Promise<void> {
    await this.cache?.idle();
  }

  /** Call after any topology change made elsewhere if no `changes` emitter was given. */
  topologyChanged(snapshot: TopologySnapshot = this.topology.snapshot): void {
    this.onTopology(snapshot);
  }

  status(): FailoverStatus {
    const roles = new Map<string, { shard: string; role: 'master' | 'replica' }>();
    for (const s of this.topology.snapshot.shards) {
      roles.set(s.master, { shard: s.name, role: 'master' });
      for (const r of s.replicas) roles.set(r, { shard: s.name, role: 'replica' });
    }
    return {
      engine: this.engine,
      backends: this.health.report().map((h) => ({ ...h, shard: roles.get(h.address)?.shard ?? null, role: roles.get(h.address)?.role ?? null })),
      events: this.events.list(),
      eventCounts: { ...this.events.counts },
      ...(this.sentinel ? { sentinels: this.sentinel.status() } : {}),
      ...(this.cache ? { lastSweep: this.cache.lastSweep } : {}),
    };
  }

  /** The short form workers show in INFO. */
  healthSummary(): BackendHealthSummary[] {
    return this.status().backends.map((b) => ({ address: b.address, shard: b.shard, role: b.role, state: b.state, lastError: b.lastError }));
  }

  /**
   * Planned switchover (store mode). With Sentinel, asks Sentinel to fail over (`SENTINEL
   * FAILOVER`) and returns once the topology follows it.
   */
  async switchover(shard: string, target?: string): Promise<SwitchoverResult> {
    if (this.store) return this.store.switchover(shard, target);
    if (this.sentinel) return this.sentinelSwitchover(shard);
    throw new TopologyError('failover is for store mode; in cache mode a failed shard is ejected and re-admitted automatically');
  }

  private async sentinelSwitchover(shardName: string): Promise<SwitchoverResult> {
    const shard = this.topology.snapshot.shards.find((s) => s.name === shardName);
    if (!shard) throw new TopologyError(`unknown shard "${shardName}"`);
    const from = shard.master;
    const name = this.config.sentinelMasterPrefix + shardName;
    let lastErr: Error | undefined;
    for (const s of this.config.sentinels) {
      try {
        await withClient(s, { timeoutMs: this.config.health.timeoutMs }, (c) => c.command(['SENTINEL', 'FAILOVER', name]));
        lastErr = undefined;
        break;
      } catch (err) {
        lastErr = err as Error;
      }
    }
    if (lastErr) throw new TopologyError(`Sentinel refused to fail over ${name}: ${lastErr.message}`);
    const started = Date.now();
    while (Date.now() - started < 30_000) {
      await this.sentinel!.resync();
      const now = this.topology.snapshot.shards.find((s) => s.name === shardName)!;
      if (now.master !== from) return { shard: shardName, from, to: now.master, epoch: this.topology.snapshot.epoch, pausedMs: 0, offset: 0 };
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new TopologyError(`Sentinel accepted the failover of ${name} but no new master appeared within 30 s`);
  }
}
