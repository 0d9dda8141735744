/**
 * Store mode failover, done by Kvstore itself (no Sentinel configured).
 *
 * - Master down: point the shard's other replicas at the healthy replica with the highest
 *   replication offset, promote it (`REPLICAOF NO ONE`), then switch the topology
 *   (epoch+1, persisted before workers hear of it). The old master moves to the replicas list.
 * - No healthy replica: the shard is marked 'down'; the proxy answers its slots with
 *   `-CLUSTERDOWN` naming the shard, until the master or a replica is back.
 * - Every address listed as a replica that is reachable but is a master, or replicates from
 *   someone else (e.g. the old master restarted), is repointed at the current master: the
 *   topology never has two masters for one shard, and the servers converge to it.
 * - Planned switchover: pause writes on the master, wait until the chosen replica has the
 *   master's offset, make the old master its replica (still paused), promote it, repoint the
 *   others, switch the topology (resolves once workers route by it), unpause. Writes held by the pause then fail with -READONLY on the old master
 *   (never acknowledged), so no acknowledged write is lost.
 *
 * Decisions are level-triggered (every `intervalMs` and on each health change) and run one at a
 * time, so a restart of the primary mid-failover converges: a replica already promoted is
 * found as the candidate with role master and adopted.
 */
import type { HealthConfig } from '../config/types';
import { TopologyError } from '../errors';
import { createLogger } from '../log';
import type { ShardInfo } from '../topology/types';
import type { HealthChecker } from './HealthChecker';
import { startReconcileLoop } from './reconcileLoop';
import { EventLog, SerialQueue, TopologyPublisher } from './publisher';
import { ControlOptions, ReplicationInfo, isReplicaOf, promote, replicate, replicationInfo, withClient } from './replication';

const log = createLogger('failover-store');

export interface StoreFailoverOptions {
  health: HealthConfig;
  backend?: { username?: string; password?: string };
  /** Planned switchover: the longest writes stay paused waiting for the replica to catch up. */
  switchoverTimeoutMs?: number;
  /** How often replicas are checked for pointing at the right master (besides health events). */
  repointCheckMs?: number;
  /**
   * A fleet of proxies: before promoting, enough of the other proxies must see the master down
   * too (src/coordination/HealthWitness.ts), so one proxy cut off from one master cannot fail it
   * over for everyone. Resolves false to wait (the next pass asks again).
   */
  confirmDown?: (address: string) => Promise<boolean>;
}

export interface SwitchoverResult {
  shard: string;
  from: string;
  to: string;
  epoch: number;
  /** How long writes to the shard were paused, ms. */
  pausedMs: number;
  offset: number;
}

export class StoreFailover {
  private stopLoop: (() => void) | null = null;
  private readonly queue = new SerialQueue();
  private lastRepointCheck = 0;
  private repointSoon = true;
  private readonly onHealth = (address: string, h: { state: string }) => {
    if (h.state === 'up') this.repointSoon = true;
    void this.reconcile();
  };

  constructor(
    private readonly topology: TopologyPublisher,
    private readonly health: HealthChecker,
    private readonly options: StoreFailoverOptions,
    readonly events = new EventLog(),
  ) {}

  private get conn(): ControlOptions {
    return { timeoutMs: this.options.health.timeoutMs, ...this.options.backend };
  }

  start(): void {
    this.stopLoop ??= startReconcileLoop(this.health, this.options.health.intervalMs, () => void this.reconcile(), this.onHealth);
  }

  stop(): void {
    this.stopLoop?.();
    this.stopLoop = null;
  }

  reconcile(): Promise<void> {
    return this.queue.run(async () => {
      const repoint = this.repointSoon || Date.now() - this.lastRepointCheck >= (this.options.repointCheckMs ?? 5000);
      if (repoint) {
        this.repointSoon = false;
        this.lastRepointCheck = Date.now();
      }
      for (const shard of this.topology.snapshot.shards) {
        try {
          if (this.health.state(shard.master) === 'down') {
            if (!this.options.confirmDown || (await this.options.confirmDown(shard.master))) await this.failover(shard);
          }
          else if (shard.state === 'down') await this.markUp(shard);
          else if (repoint) await this.repointReplicas(shard);
        } catch (err) {
          log.error({ shard: shard.name, err: (err as Error).message }, `shard ${shard.name}: failover pass failed`);
        }
      }
    });
  }

  /** Planned switchover of `shardName` to its most advanced replica (or `target`). */
  switchover(shardName: string, target?: string): Promise<SwitchoverResult> {
    return this.queue.run(() => this.doSwitchover(shardName, target));
  }

  private async candidates(shard: ShardInfo): Promise<ReplicationInfo[]> {
    const healthy = shard.replicas.filter((r) => this.health.state(r) === 'up');
    const results = await Promise.allSettled(healthy.map((r) => replicationInfo(r, this.conn)));
    const infos: ReplicationInfo[] = [];
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') infos.push(r.value);
      else log.warn({ shard: shard.name, replica: healthy[i], err: (r.reason as Error).message }, 'replica did not answer INFO');
    });
    return infos;
  }

  /** Highest offset wins; ties go to the replica listed first (stable across runs). */
  private static best(infos: ReplicationInfo[]): ReplicationInfo | undefined {
    let best: ReplicationInfo | undefined;
    for (const info of infos) if (!best || info.offset > best.offset) best = info;
    return best;
  }

  private async failover(shard: ShardInfo): Promise<void> {
    const infos = await this.candidates(shard);
    const chosen = StoreFailover.best(infos);
    if (!chosen) {
      if (shard.state !== 'down') {
        const next = await this.topology.update((d) => {
          const s = d.shards.find((x) => x.name === shard.name);
          if (s) s.state = 'down';
        });
        const error = this.health.get(shard.master)?.lastError;
        log.error({ shard: shard.name, master: shard.master, epoch: next.epoch }, `shard ${shard.name} is down: master unreachable and no healthy replica`);
        this.events.push({ shard: shard.name, kind: 'shard-down', from: shard.master, epoch: next.epoch, detail: error ?? undefined });
      }
      return;
    }
    const started = Date.now();
    // The others become replicas of the chosen one first (chained under it until it is promoted),
    // so at no moment is more than one of them a master.
    const others = infos.filter((i) => i.address !== chosen.address);
    await this.repointAll(others.map((o) => o.address), chosen.address, shard.name);
    await promote(chosen.address, this.conn);
    const next = await this.topology.update((d) => {
      const s = d.shards.find((x) => x.name === shard.name);
      if (!s) return;
      s.replicas = [...s.replicas.filter((r) => r !== chosen.address), s.master];
      s.master = chosen.address;
      s.state = 'up';
    });
    log.warn({ shard: shard.name, from: shard.master, to: chosen.address, offset: chosen.offset, epoch: next.epoch, ms: Date.now() - started },
      `shard ${shard.name}: promoted ${chosen.address} (offset ${chosen.offset}) after master ${shard.master} failed`);
    this.events.push({ shard: shard.name, kind: 'promote', from: shard.master, to: chosen.address, epoch: next.epoch, detail: `offset ${chosen.offset}` });
  }

  private async markUp(shard: ShardInfo): Promise<void> {
    const info = await replicationInfo(shard.master, this.conn);
    if (info.role !== 'master') {
      log.error({ shard: shard.name, master: shard.master }, `shard ${shard.name}: listed master ${shard.master} is a replica; leaving the shard down`);
      return;
    }
    const next = await this.topology.update((d) => {
      const s = d.shards.find((x) => x.name === shard.name);
      if (s && s.master === shard.master) s.state = 'up';
    });
    log.info({ shard: shard.name, master: shard.master, epoch: next.epoch }, `shard ${shard.name} is up again`);
    this.events.push({ shard: shard.name, kind: 'shard-up', to: shard.master, epoch: next.epoch });
  }

  /** Make every reachable listed replica replicate from the current master. */
  private async repointReplicas(shard: ShardInfo): Promise<void> {
    if (shard.replicas.length === 0) return;
    // A master being judged (silent: hung or busy) would hold this pass, and with it a failover, for a timeout.
    if (this.health.isSilent(shard.master)) {
      this.repointSoon = true;
      return;
    }
    const master = await replicationInfo(shard.master, this.conn);
    // Never fight someone else's promotion (an operator, Sentinel): only repoint under a real master.
    if (master.role !== 'master') {
      log.error({ shard: shard.name, master: shard.master }, `shard ${shard.name}: listed master ${shard.master} is a replica; not repointing replicas`);
      return;
    }
    const infos = await this.candidates(shard);
    const wrong = infos.filter((i) => !isReplicaOf(i, shard.master));
    for (const w of wrong) {
      log.warn({ shard: shard.name, replica: w.address, role: w.role, master: shard.master }, `shard ${shard.name}: ${w.address} (${w.role}) now replicates ${shard.master}`);
      if (w.role === 'master') this.events.push({ shard: shard.name, kind: 'demote', from: w.address, to: shard.master });
    }
    await this.repointAll(wrong.map((w) => w.address), shard.master, shard.name);
  }

  private async repointAll(addresses: string[], master: string, shardName: string): Promise<void> {
    const results = await Promise.allSettled(addresses.map((a) => replicate(a, master, this.conn)));
    results.forEach((r, i) => {
      if (r.status === 'rejected') log.warn({ shard: shardName, replica: addresses[i], err: (r.reason as Error).message }, 'REPLICAOF failed; will retry');
    });
  }

  private async doSwitchover(shardName: string, target?: string): Promise<SwitchoverResult> {
    const shard = this.topology.snapshot.shards.find((s) => s.name === shardName);
    if (!shard) throw new TopologyError(`unknown shard "${shardName}"`);
    if (shard.state !== 'up' || this.health.state(shard.master) !== 'up') throw new TopologyError(`shard ${shardName} is not up (master ${shard.master}); nothing to switch over from`);
    if (target && !shard.replicas.includes(target)) throw new TopologyError(`${target} is not a replica of shard ${shardName}`);
    const masterInfo = await replicationInfo(shard.master, this.conn);
    if (masterInfo.role !== 'master') throw new TopologyError(`shard ${shardName}: ${shard.master} is not a master`);
    const infos = (await this.candidates(shard)).filter((i) => isReplicaOf(i, shard.master) && i.masterLinkUp && (!target || i.address === target));
    const chosen = StoreFailover.best(infos);
    if (!chosen) throw new TopologyError(`shard ${shardName} has no healthy replica in sync with ${shard.master} to switch over to`);

    const timeoutMs = this.options.switchoverTimeoutMs ?? 5000;
    const conn = { ...this.conn, timeoutMs: Math.max(this.conn.timeoutMs, 2000) };
    return withClient(shard.master, conn, async (old) => {
      // The pause carries its own expiry, so a crash here can never leave writes paused for good.
      await old.command(['CLIENT', 'PAUSE', timeoutMs + 5000, 'WRITE']);
      const pausedAt = Date.now();
      let demoted = false;
      try {
        const offset = (await replicationInfo(shard.master, conn)).offset;
        for (;;) {
          const info = await replicationInfo(chosen.address, conn);
          if (info.offset >= offset) break;
          if (Date.now() - pausedAt > timeoutMs) {
            throw new TopologyError(`shard ${shardName}: ${chosen.address} did not catch up with ${shard.master} (offset ${info.offset} < ${offset}) within ${timeoutMs} ms; switchover abandoned`);
          }
          await new Promise((r) => setTimeout(r, 5));
        }
        // Demote first, still paused (held writes then fail with -READONLY), then promote: the
        // shard never has two masters. If the demotion fails nothing has changed yet.
        await replicate(shard.master, chosen.address, conn);
        demoted = true;
        try {
          await promote(chosen.address, conn);
        } catch (err) {
          await promote(shard.master, conn).catch(() => undefined);
          throw err;
        }
        const others = shard.replicas.filter((r) => r !== chosen.address && this.health.state(r) === 'up');
        await this.repointAll(others, chosen.address, shardName);
        let next;
        try {
          next = await this.topology.update((d) => {
            const s = d.shards.find((x) => x.name === shardName);
            if (!s) return;
            s.replicas = [...s.replicas.filter((r) => r !== chosen.address), s.master];
            s.master = chosen.address;
            s.state = 'up';
          });
        } catch (err) {
          // Not persisted (the topology still names the old master): put the servers back the way
          // it says. If it was persisted but a worker was slow to acknowledge, keep the switch.
          if (this.topology.snapshot.shards.find((x) => x.name === shardName)?.master === shard.master) {
            await replicate(chosen.address, shard.master, conn).catch(() => undefined);
            await promote(shard.master, conn).catch(() => undefined);
          }
          throw err;
        }
        const pausedMs = Date.now() - pausedAt;
        log.warn({ shard: shardName, from: shard.master, to: chosen.address, epoch: next.epoch, pausedMs }, `shard ${shardName}: switched over to ${chosen.address}`);
        this.events.push({ shard: shardName, kind: 'switchover', from: shard.master, to: chosen.address, epoch: next.epoch, detail: `writes paused ${pausedMs} ms` });
        return { shard: shardName, from: shard.master, to: chosen.address, epoch: next.epoch, pausedMs, offset };
      } finally {
        await old.command(['CLIENT', 'UNPAUSE']).catch((err) => {
          log.warn({ shard: shardName, err: (err as Error).message, demoted }, 'CLIENT UNPAUSE failed (the pause expires by itself)');
        });
      }
    });
  }
}
