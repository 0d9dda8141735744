/**
 * Replication lag of every replica in milliseconds, for reads from replicas (`readFrom`).
 *
 * Redis reports lag in bytes (offsets) and, on the master, in whole seconds since the replica's
 * last ACK (which says nothing about data). Time is what `maxReplicaLagMs` means, so the
 * primary samples each master's `master_repl_offset` every `intervalMs` and keeps the history:
 * a replica that has processed up to offset R lacks every write after R, and the first sample
 * that showed the master beyond R is when we first saw such a write. Lag = now − that sample's
 * time (0 when R has reached the master's latest sample). The granularity is the sampling
 * interval. A replica whose link to its master is down, or that cannot be asked, has no lag
 * figure (null): it is never read from.
 *
 * Runs only while `readFrom` is not `master` (no INFO traffic otherwise). Emits 'change' when a
 * replica crosses `maxReplicaLagMs` either way (or appears, disappears, loses its figure), so the
 * workers learn it at once, not at the next periodic push.
 */
import { EventEmitter } from 'node:events';
import type { KvstoreConfig } from '../config/types';
import { parseInfo, RespClient } from '../resp';
import type { TopologySnapshot } from '../topology/types';

interface Sample {
  t: number;
  offset: number;
}

/** One master's offsets over time (the last `keep` samples). */
export class OffsetHistory {
  private readonly samples: Sample[] = [];
  constructor(private readonly keep = 600) {}

  add(t: number, offset: number): void {
    this.samples.push({ t, offset });
    if (this.samples.length > this.keep) this.samples.shift();
  }

  /** How long the master has held writes a replica at `replicaOffset` lacks (ms). */
  lagMs(replicaOffset: number, now: number): number {
    const s = this.samples;
    if (s.length === 0 || replicaOffset >= s[s.length - 1].offset) return 0;
    // The oldest sample already beyond the replica: binary search (offsets never decrease
    // within one history; a master restart starts a new one).
    let lo = 0;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (s[mid].offset > replicaOffset) hi = mid;
      else lo = mid + 1;
    }
    return Math.max(0, now - s[lo].t);
  }
}

export interface ReplicaLagOptions {
  topology: () => TopologySnapshot;
  config: () => Pick<KvstoreConfig, 'readFrom' | 'maxReplicaLagMs' | 'health' | 'backend'>;
  now?: () => number;
}

export class ReplicaLagMonitor extends EventEmitter {
  private readonly histories = new Map<string, { replid: string; history: OffsetHistory }>();
  private readonly lags = new Map<string, number | null>();
  private readonly clients = new Map<string, RespClient>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly options: ReplicaLagOptions) {
    super();
  }

  start(): void {
    const interval = this.options.config().health.intervalMs;
    this.timer = setInterval(() => void this.tick(), interval);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  /** The replica's lag in ms; null when unknown (link down, not asked yet, not reachable). */
  lagOf(address: string): number | null {
    return this.lags.get(address) ?? null;
  }

  /** One round: every master's offset, then its replicas'. */
  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const config = this.options.config();
      if (config.readFrom === 'master') {
        if (this.lags.size) {
          this.lags.clear();
          this.emit('change');
        }
        return;
      }
      const before = this.verdicts(config.maxReplicaLagMs);
      const seen = new Set<string>();
      await Promise.all(this.options.topology().shards.map(async (shard) => {
        const master = await this.info(shard.master);
        const now = (this.options.now ?? Date.now)();
        let entry = this.histories.get(shard.master);
        if (master && master.role === 'master') {
          const replid = master.master_replid ?? '';
          if (!entry || entry.replid !== replid) {
            entry = { replid, history: new OffsetHistory() };
            this.histories.set(shard.master, entry);
          }
          entry.history.add(now, Number(master.master_repl_offset));
        }
        await Promise.all(shard.replicas.map(async (replica) => {
          seen.add(replica);
          const info = await this.info(replica);
          const linked = info && info.role === 'slave' && info.master_link_status === 'up' && entry && master?.role === 'master' && info.master_replid === entry.replid;
          this.lags.set(replica, linked ? entry!.history.lagMs(Number(info!.slave_repl_offset), (this.options.now ?? Date.now)()) : null);
        }));
      }));
      for (const address of [...this.lags.keys()]) if (!seen.has(address)) this.lags.delete(address);
      // Servers no longer in the topology: their connections and histories go.
      const masters = new Set(this.options.topology().shards.map((sh) => sh.master));
      for (const [address, client] of this.clients) {
        if (seen.has(address) || masters.has(address)) continue;
        client.close();
        this.clients.delete(address);
      }
      for (const address of [...this.histories.keys()]) if (!masters.has(address)) this.histories.delete(address);
      const after = this.verdicts(config.maxReplicaLagMs);
      if (before !== after) this.emit('change');
    } finally {
      this.running = false;
    }
  }

  /** Which replicas are within the limit, as one comparable string. */
  private verdicts(maxLagMs: number): string {
    return [...this.lags].map(([a, lag]) => `${a}=${lag !== null && lag <= maxLagMs ? 1 : 0}`).sort().join(',');
  }

  private async info(address: string): Promise<Record<string, string> | null> {
    const config = this.options.config();
    let client = this.clients.get(address);
    if (!client) {
      client = new RespClient(address, {
        strings: true,
        connectTimeoutMs: config.health.timeoutMs,
        commandTimeoutMs: config.health.timeoutMs,
        username: config.backend.username || undefined,
        password: config.backend.password || undefined,
      });
      this.clients.set(address, client);
    }
    try {
      return parseInfo(String(await client.command(['INFO', 'replication'])));
    } catch {
      return null;
    }
  }
}
