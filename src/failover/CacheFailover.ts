/**
 * Cache mode failover: eject a shard whose master is down (its slots are served by the healthy
 * shards, see cacheRouting.ts) and give its slots back once it has been healthy for
 * `rejoinAfterMs`.
 *
 * Before a shard rejoins it is flushed (FLUSHALL ASYNC). Why: while it was out, its keys were
 * written on other shards; if it came back with its old contents, a read would return the old
 * value and shadow the newer one written elsewhere (a stale read, worse than a miss for a
 * cache). A flushed shard can only miss; the cache refills. The flush happens while no slot is
 * routed to the shard, so no client write can land between the flush and the rejoin.
 *
 * Decisions are level-triggered: every `intervalMs` (and at once on a health event) the
 * topology is compared with the health states, so a missed event or a restart of the primary
 * in the middle of an outage converges to the right table.
 */
import type { HealthConfig } from '../config/types';
import { createLogger } from '../log';
import { applyCacheRouting } from './cacheRouting';
import type { HealthChecker } from './HealthChecker';
import { startReconcileLoop } from './reconcileLoop';
import { EventLog, SerialQueue, TopologyPublisher } from './publisher';
import { connectControl } from './replication';
import { SweepResult, sweepOrphans } from './orphanSweep';

const log = createLogger('failover-cache');

export interface CacheFailoverOptions {
  health: HealthConfig;
  backend?: { username?: string; password?: string };
  /** For the orphan sweep: the slot hash of the keys. */
  hash: { hash: 'crc16' | 'murmur'; murmurSeed: number };
}

export class CacheFailover {
  private stopLoop: (() => void) | null = null;
  private readonly queue = new SerialQueue();
  /** The running orphan sweep (after a rejoin); an ejection waits for it. */
  private sweeping: Promise<void> = Promise.resolve();
  /** Results of the last sweep, for status. */
  lastSweep: { at: number; results: SweepResult[]; errors: string[] } | null = null;

  constructor(
    private readonly topology: TopologyPublisher,
    private readonly health: HealthChecker,
    private readonly options: CacheFailoverOptions,
    readonly events = new EventLog(),
  ) {}

  start(): void {
    this.stopLoop ??= startReconcileLoop(this.health, this.options.health.intervalMs, () => void this.reconcile());
  }

  stop(): void {
    this.stopLoop?.();
    this.stopLoop = null;
  }

  /** One pass: eject shards whose master is down, re-admit those healthy for long enough. */
  reconcile(): Promise<void> {
    return this.queue.run(async () => {
      try {
        await this.ejectDown();
        await this.rejoinRecovered();
        await this.fixRouting();
      } catch (err) {
        log.error({ err }, 'cache failover pass failed');
      }
    });
  }

  private async ejectDown(): Promise<void> {
    const failed = this.topology.snapshot.shards.filter((s) => s.state === 'up' && this.health.state(s.master) === 'down').map((s) => s.name);
    if (failed.length === 0) return;
    // Slots must not go back to a shard that may still hold old values for them.
    await this.sweeping;
    const next = await this.topology.update((draft) => {
      for (const shard of draft.shards) if (failed.includes(shard.name)) shard.state = 'down';
      return applyCacheRouting(draft);
    });
    for (const name of failed) {
      const master = next.shards.find((s) => s.name === name)?.master;
      const error = master ? this.health.get(master)?.lastError : undefined;
      log.warn({ shard: name, master, epoch: next.epoch, error }, `shard ${name} ejected: its slots are served by the healthy shards`);
      this.events.push({ shard: name, kind: 'eject', from: master, epoch: next.epoch, detail: error ?? undefined });
    }
  }

  private async rejoinRecovered(): Promise<void> {
    const { rejoinAfterMs, upAfter } = this.options.health;
    const now = Date.now();
    for (const shard of this.topology.snapshot.shards) {
      if (shard.state !== 'down') continue;
      const h = this.health.get(shard.master);
      if (!h || h.state !== 'up' || h.okSince === null || h.consecutiveSuccesses < upAfter || now - h.okSince < rejoinAfterMs) continue;
      // No slot routes to the shard now, so nothing can write to it between the flush and the rejoin.
      try {
        await this.flush(shard.master);
      } catch (err) {
        log.warn({ shard: shard.name, err: (err as Error).message }, `shard ${shard.name}: flush before rejoin failed; retrying later`);
        continue;
      }
      const next = await this.topology.update((draft) => {
        const s = draft.shards.find((x) => x.name === shard.name);
        if (s && s.master === shard.master) s.state = 'up';
        return applyCacheRouting(draft);
      });
      log.info({ shard: shard.name, epoch: next.epoch }, `shard ${shard.name} flushed and rejoined`);
      this.events.push({ shard: shard.name, kind: 'rejoin', to: shard.master, epoch: next.epoch });
      this.startSweep(shard.name);
    }
  }

  /** Sweep the other up shards of keys for slots no longer routed to them (see orphanSweep.ts). */
  private startSweep(rejoined: string): void {
    const targets = this.topology.snapshot.shards.filter((s) => s.state === 'up' && s.name !== rejoined).map((s) => s.name);
    const run = async () => {
      const started = Date.now();
      const settled = await Promise.allSettled(targets.map((name) => sweepOrphans(name, () => this.topology.snapshot, this.options.hash, {
        timeoutMs: Math.max(this.options.health.timeoutMs, 5000), ...this.options.backend,
      })));
      const results: SweepResult[] = [];
      const errors: string[] = [];
      settled.forEach((r, i) => (r.status === 'fulfilled' ? results.push(r.value) : errors.push(`${targets[i]}: ${(r.reason as Error).message}`)));
      this.lastSweep = { at: Date.now(), results, errors };
      // A shard that failed to sweep is either down (it is flushed before it rejoins) or will be swept after the next rejoin.
      log.info({ rejoined, results, errors, ms: Date.now() - started }, `orphan sweep after ${rejoined} rejoined`);
    };
    this.sweeping = this.sweeping.then(run, run);
  }

  /** Resolves when no orphan sweep is running (for tests and shutdown). */
  idle(): Promise<void> {
    return this.sweeping;
  }

  /**
   * Another change (resharding moving slots, a shard added or removed) may have left `routing`
   * computed from old owners or shard indexes: recompute it from the current snapshot.
   */
  private async fixRouting(): Promise<void> {
    const current = this.topology.snapshot;
    const wanted = applyCacheRouting(structuredClone(current)).routing;
    if (wanted === current.routing) return;
    const next = await this.topology.update((draft) => applyCacheRouting(draft));
    log.warn({ epoch: next.epoch }, 'routing table recomputed after a topology change');
  }

  private async flush(address: string): Promise<void> {
    const client = await connectControl(address, { timeoutMs: this.options.health.timeoutMs, ...this.options.backend });
    try {
      // ASYNC: the keyspace is empty at once; memory is freed in the background without blocking.
      await client.command(['FLUSHALL', 'ASYNC'], Math.max(this.options.health.timeoutMs, 5000));
    } finally {
      client.close();
    }
  }
}
