/**
 * A proxy's part in a fleet coordinated through etcd (`coordination.etcd.endpoints` set). The
 * supervisor keeps its local TopologyStore (the last topology, also for a restart while etcd is
 * down) and hands four things to the fleet:
 *   - the source of truth: the topology is read (or seeded) from etcd at start, every change is a
 *     compare-and-swap there (leader only), and every proxy follows it with a watch;
 *   - the barrier: a change resolves once every live proxy's workers route by its epoch
 *     (`MemberView.waitForEpoch`, `coordination.barrierTimeoutMs`);
 *   - membership: `members/<id>` under a lease, with the epoch its workers acknowledged;
 *   - the leader-only plugins (failover, resharding, key rewrite): started when this proxy is
 *     elected, stopped when it is deposed; other proxies hand their admin calls to the leader.
 * With etcd unreachable the proxy keeps serving its last topology, changes fail with a
 * CoordinationError, and leadership (so automatic failover) lapses with the election lease.
 */
import type { KvstoreConfig } from '../config/types';
import type { Logger } from '../log';
import type { EpochBarrier } from '../supervisor/EpochBarrier';
import type { PrimaryPlugin } from '../supervisor/plugins';
import type { TopologyPersistence } from '../supervisor/TopologyPublisher';
import type { TopologyStore } from '../topology/TopologyStore';
import type { TopologySnapshot } from '../topology/types';
import { connectEtcd, EtcdHandle, etcdFailure } from './etcdClient';
import { CoordinationError } from './errors';
import { EtcdJobStore, JobListStore } from './JobStore';
import { EtcdTopology, TopologyMutation } from './EtcdTopology';
import { HealthWitness } from './HealthWitness';
import { Leadership } from './Leadership';
import { MemberInfo, Membership } from './Membership';
import { LiveMember, MemberView } from './MemberView';

/** What the fleet needs from the supervisor (kept narrow on purpose). */
export interface FleetHost {
  readonly config: KvstoreConfig;
  readonly clientAddress?: { host: string; port: number };
  readonly adminAddress?: { host: string; port: number };
  workerInfo(): Array<{ ready: boolean; epoch: number }>;
  /** Resolve when every ready worker of this proxy routes by `epoch` (this proxy only). */
  waitForWorkers(epoch: number): Promise<void>;
  /** The lease deadline of the workers (src/proxy/LeaseFence.ts). */
  broadcastToWorkers(message: { type: 'fleet-lease'; validUntil: number | null }): void;
  /** Worker events: an epoch acknowledged, a worker ready, a worker gone. */
  onWorkers(listener: () => void): void;
  onWorkerReady(listener: () => void): void;
  startPlugin(plugin: PrimaryPlugin): Promise<void>;
  stopPlugin(plugin: PrimaryPlugin): Promise<void>;
}

export interface ProxyEntry {
  id: string;
  address: string;
  admin: string;
  epoch: number;
  leader: boolean;
  leaseAgeMs: number | null;
}

export interface FleetStatus {
  id: string;
  etcd: 'ok' | 'unreachable';
  endpoints: string[];
  registered: boolean;
  leader: string | null;
  isLeader: boolean;
  /** Automatic failover runs on the leader only, and not while etcd is unreachable. */
  failover: 'active' | 'suspended' | 'follower';
  proxies: number;
  lastError: string | null;
  /** Until when this proxy's workers serve without hearing from etcd again (null: etcd unreachable, no deadline). */
  servingUntil: string | null;
  caughtUp: boolean;
}

let running: Fleet | undefined;

/** The workers' deadline ends this long before the lease can expire in etcd. */
const DEADLINE_MARGIN_MS = 300;

/** The fleet of this process, when coordination is on (for plugins: e.g. the job store). */
export function runningFleet(): Fleet | undefined {
  return running;
}

export function fleetEnabled(config: KvstoreConfig): boolean {
  return config.coordination.etcd.endpoints.length > 0;
}

export function proxyIdOf(config: KvstoreConfig): string {
  return config.proxyId || `${config.listen.host}:${config.listen.port}`;
}

export class Fleet {
  readonly id: string;
  readonly etcd: EtcdHandle;
  readonly topology: EtcdTopology;
  readonly members: MemberView;
  readonly leadership: Leadership;
  readonly jobs: EtcdJobStore;
  private readonly membership: Membership;
  /** Store mode (without Sentinel): this proxy's view of the masters, for the leader's confirmation. */
  witness?: HealthWitness;
  private readonly leaderPlugins: PrimaryPlugin[] = [];
  private pluginsRunning = false;
  private transitions: Promise<void> = Promise.resolve();
  private etcdOk = true;
  /** A probe of etcd is running (after a broken stream or a failed call). */
  private probing = false;
  private lastError: string | null = null;
  private stopped = false;
  /** Topology changes seen by the watch (metrics). */
  changesSeen = 0;
  /** The workers' deadline last sent: a time, null (etcd unreachable: no deadline) or 0 (none yet). */
  private workerDeadline: number | null = 0;
  /** The topology was read from etcd since this proxy (re)registered, and the workers route by it. */
  private caughtUp = false;
  private readonly ttlMs: number;

  private hostRef: FleetHost | null = null;

  /**
   * `local` is this proxy's own copy (stateDir/topology.json): replaced by every snapshot from
   * etcd, and the seed when etcd holds none.
   */
  constructor(private readonly config: KvstoreConfig, readonly local: TopologyStore, private readonly log: Logger) {
    const cfg = config.coordination;
    this.id = proxyIdOf(config);
    this.etcd = connectEtcd(cfg.etcd);
    const ttlSeconds = Math.max(1, Math.ceil(cfg.etcd.leaseTtlMs / 1000));
    this.ttlMs = ttlSeconds * 1000;
    this.topology = new EtcdTopology(this.etcd, cfg.etcd.prefix, log);
    this.members = new MemberView(this.etcd, cfg.etcd.prefix, log);
    this.leadership = new Leadership(this.etcd, this.id, ttlSeconds, log);
    this.jobs = new EtcdJobStore(this.etcd, log);
    this.membership = new Membership(this.etcd, ttlSeconds, () => this.selfInfo(), log);
    running = this;
  }

  /** The supervisor side, once it exists (before `connect`). */
  bind(host: FleetHost): void {
    this.hostRef = host;
  }

  private get host(): FleetHost {
    if (!this.hostRef) throw new Error('Fleet used before bind()');
    return this.hostRef;
  }

  /**
   * The supervisor's TopologyPersistence in a fleet: reads are the local copy, a change is a
   * compare-and-swap in etcd (leader only), and changes from etcd arrive as 'change' events.
   */
  persistence(): TopologyPersistence {
    const fleet = this;
    return {
      get snapshot() {
        return fleet.local.snapshot;
      },
      get file() {
        return fleet.local.file;
      },
      update: (mutate) => fleet.update(mutate),
      on: (event, listener) => fleet.local.on(event, listener),
      off: (event, listener) => fleet.local.off(event, listener),
    };
  }

  /** The fleet-wide epoch barrier: every live proxy routes by the epoch. */
  epochBarrier(): EpochBarrier {
    return { wait: (epoch, timeoutMs) => this.barrier(epoch, timeoutMs) };
  }

  /** The job list store the resharding plugin uses in a fleet. */
  jobStore(): JobListStore {
    return this.jobs;
  }

  /**
   * Before the workers start: read the topology from etcd (seeding it with the local one when
   * etcd has none) and follow it. The local copy is replaced, so workers start on etcd's.
   */
  async connect(): Promise<void> {
    const { snapshot, seeded } = await this.topology.loadOrSeed(this.local.snapshot);
    if (snapshot.hash !== this.config.hash) {
      throw new CoordinationError(`hash: this proxy's config says ${this.config.hash} but the fleet's topology in etcd uses ${snapshot.hash}; every proxy of a fleet must use the same hash`);
    }
    this.log.info({ epoch: snapshot.epoch, seeded }, seeded ? 'seeded the fleet topology in etcd from this proxy' : 'loaded the fleet topology from etcd');
    this.adopt(snapshot);
    this.topology.on('change', (s: TopologySnapshot) => {
      this.changesSeen++;
      this.adopt(s);
    });
    this.topology.on('disconnected', (err: Error) => this.markEtcd(false, err));
    this.topology.on('connected', () => this.markEtcd(true));
    await this.topology.watch();
    await this.members.start();
  }

  /** Once the workers are ready: register (with their epoch), then campaign for leadership. */
  async join(leaderOnly: PrimaryPlugin[]): Promise<void> {
    this.leaderPlugins.push(...leaderOnly);
    this.host.onWorkers(() => void this.membership.publish());
    this.membership.on('renewed', () => {
      this.markEtcd(true);
      if (this.caughtUp) this.renewDeadline();
    });
    this.membership.on('keepaliveFailed', (err: Error) => this.markEtcd(false, err));
    this.membership.on('lost', () => {
      this.caughtUp = false;
      // Out of the barrier now: unless etcd was already found down for everyone (no deadline:
      // nobody can change the topology), stop serving until re-registered and caught up.
      if (this.workerDeadline !== null) this.sendDeadline(1);
      this.probeEtcd(new Error('membership lease lost'));
    });
    // Back in the fleet after a lost lease: catch up with the topology before serving again.
    this.membership.on('registered', () => void this.catchUp());
    this.host.onWorkerReady(() => {
      if (this.workerDeadline !== 0) this.host.broadcastToWorkers({ type: 'fleet-lease', validUntil: this.workerDeadline });
    });
    await this.membership.register();
    this.caughtUp = true; // connect() read the topology; the workers started on it
    this.renewDeadline();
    if (this.config.mode === 'store' && this.config.sentinels.length === 0) {
      this.witness = new HealthWitness(this.id, this.etcd, this.config.coordination.etcd.prefix, this.config, this.local, this.membership, this.members, this.log);
      this.witness.start();
    }
    this.leadership.on('elected', () => this.transition(true));
    this.leadership.on('deposed', () => this.transition(false));
    await this.leadership.start();
  }

  /** Leader only: compare-and-swap the topology in etcd; the local copy follows at once. */
  async update(mutate: TopologyMutation): Promise<TopologySnapshot> {
    if (!this.etcdOk) throw this.unreachableError();
    const guard = this.leadership.guardKey;
    if (!guard) {
      const leader = this.leadership.leaderId;
      throw new CoordinationError(`only the fleet leader changes the topology; this proxy (${this.id}) is not it (leader: ${leader ?? 'none right now'})`);
    }
    try {
      const next = await this.topology.update(mutate, guard);
      this.markEtcd(true);
      this.adopt(next);
      return next;
    } catch (err) {
      if (err instanceof CoordinationError) this.markEtcd(false, err);
      throw err;
    }
  }

  /** What a topology change gets while etcd is unreachable. */
  unreachableError(): CoordinationError {
    return new CoordinationError(
      `etcd unreachable (${this.etcd.endpoints.join(', ')}): topology changes are refused until it is back; ` +
        `this proxy keeps serving epoch ${this.local.snapshot.epoch} and automatic failover is suspended (last error: ${this.lastError ?? 'none'})`,
    );
  }

  /** Resolve when every live proxy acknowledges `epoch` (this one included). */
  barrier(epoch: number, timeoutMs?: number): Promise<void> {
    return this.members.waitForEpoch(epoch, Math.max(timeoutMs ?? 0, this.config.coordination.barrierTimeoutMs));
  }

  /** Every live proxy with its leadership and lease age (GET /proxies). */
  async proxies(): Promise<ProxyEntry[]> {
    const leader = this.leadership.leaderId;
    const list = this.members.list();
    const ages = await Promise.all(list.map((m) => this.leaseAgeMs(m)));
    return list.map((m, i) => ({ id: m.id, address: m.address, admin: m.admin, epoch: m.epoch, leader: m.id === leader, leaseAgeMs: ages[i] }));
  }

  /** The admin address of the leader, when it is another proxy. */
  leaderAdmin(): string | null {
    const leader = this.leadership.leaderId;
    if (!leader || leader === this.id) return null;
    return this.members.list().find((m) => m.id === leader)?.admin ?? null;
  }

  get isLeader(): boolean {
    return this.leadership.isLeader;
  }

  status(): FleetStatus {
    const isLeader = this.leadership.isLeader;
    return {
      id: this.id,
      etcd: this.etcdOk ? 'ok' : 'unreachable',
      endpoints: this.etcd.endpoints,
      registered: this.membership.isRegistered,
      leader: this.leadership.leaderId,
      isLeader,
      failover: !this.etcdOk ? 'suspended' : isLeader ? 'active' : 'follower',
      proxies: this.members.list().length,
      lastError: this.lastError,
      servingUntil: typeof this.workerDeadline === 'number' && this.workerDeadline > 0 ? new Date(this.workerDeadline).toISOString() : null,
      caughtUp: this.caughtUp,
    };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.leadership.stop();
    await this.transitions;
    this.witness?.stop();
    await this.jobs.flushed();
    await this.membership.stop();
    await this.topology.close();
    await this.members.close();
    this.etcd.close();
    if (running === this) running = undefined;
  }

  private selfInfo(): MemberInfo {
    const cfg = this.config;
    const listen = this.hostRef?.clientAddress ?? cfg.listen;
    const admin = this.hostRef?.adminAddress ?? cfg.admin;
    const ready = (this.hostRef?.workerInfo() ?? []).filter((w) => w.ready);
    const epoch = ready.length === 0 ? 0 : Math.min(...ready.map((w) => w.epoch));
    return { id: this.id, address: `${listen.host}:${listen.port}`, admin: `${admin.host}:${admin.port}`, epoch };
  }

  /** A newer snapshot from etcd becomes the local one (persisted, pushed to the workers). */
  private adopt(snapshot: TopologySnapshot): void {
    if (snapshot.epoch === this.local.snapshot.epoch && JSON.stringify(snapshot) === JSON.stringify(this.local.snapshot)) return;
    this.local.replace(snapshot);
  }

  /** Read the topology again, let the workers route by it, then acknowledge it (after a lost lease). */
  private async catchUp(): Promise<void> {
    try {
      const s = await this.topology.refresh();
      this.adopt(s);
      await this.host.waitForWorkers(this.local.snapshot.epoch);
      this.caughtUp = true;
      this.renewDeadline();
      await this.membership.publish();
      this.log.info({ epoch: this.local.snapshot.epoch }, 'back in the fleet: re-registered and caught up with the topology');
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cannot catch up with the topology after re-registering; retrying');
      setTimeout(() => void this.catchUp(), 250).unref();
    }
  }

  /** The lease lives at least until the last keepalive sent (or the grant) + TTL. */
  private renewDeadline(): void {
    this.sendDeadline(this.membership.lastFiredAt + this.ttlMs - DEADLINE_MARGIN_MS);
  }

  /** Tell the workers until when they may serve (see src/proxy/LeaseFence.ts). */
  private sendDeadline(validUntil: number | null): void {
    if (this.stopped) return;
    this.workerDeadline = validUntil;
    this.host.broadcastToWorkers({ type: 'fleet-lease', validUntil });
  }

  /**
   * `ok`: etcd answered. Not ok: a stream broke or a call failed — maybe only one member went
   * away (etcd3 moves to another), so a probe (a linearizable read, tried on every endpoint)
   * decides before the fleet is reported unreachable.
   */
  private markEtcd(ok: boolean, err?: Error): void {
    if (ok) return this.setEtcd(true);
    // etcd failing while our lease is still valid: it is etcd, not this proxy; with etcd down
    // nobody can change the topology, so the workers keep serving the last one (no deadline).
    // Past the deadline (this process stalled) the workers stay fenced until caught up.
    if (typeof this.workerDeadline === 'number' && this.workerDeadline > 0 && Date.now() < this.workerDeadline) this.sendDeadline(null);
    this.probeEtcd(err);
  }

  /** A probe (a linearizable read, tried on every endpoint) decides whether etcd is unreachable. */
  private probeEtcd(err?: Error): void {
    if (this.probing || this.stopped) return;
    this.probing = true;
    this.topology.refresh().then(
      () => {
        this.probing = false;
        this.setEtcd(true);
        // only a member was lost: back to a deadline (renewed with every keepalive)
        if (this.workerDeadline === null && this.caughtUp && this.membership.isRegistered) this.renewDeadline();
      },
      (probeErr: Error) => {
        this.probing = false;
        this.setEtcd(false, err ?? probeErr);
      },
    );
  }

  private setEtcd(ok: boolean, err?: Error): void {
    if (ok === this.etcdOk) return;
    this.etcdOk = ok;
    if (ok) this.log.info('etcd reachable again: fleet coordination resumed');
    else {
      this.lastError = err?.message ?? 'unreachable';
      this.log.error({ err: this.lastError }, 'etcd unreachable: serving the last topology; topology changes and automatic failover are suspended');
    }
  }

  /** Start or stop the leader-only plugins, one transition at a time. */
  private transition(leading: boolean): void {
    this.transitions = this.transitions.then(async () => {
      if (leading && !this.pluginsRunning && !this.stopped && this.leadership.isLeader) {
        try {
          await this.jobs.fetch();
        } catch (err) {
          this.log.warn({ err: etcdFailure(this.etcd.endpoints, 'read the job list', err).message }, 'starting with an empty job list');
        }
        this.pluginsRunning = true;
        for (const p of this.leaderPlugins) {
          try {
            await this.host.startPlugin(p);
          } catch (err) {
            this.log.error({ err: (err as Error).message, plugin: p.name }, 'leader plugin failed to start');
          }
        }
        this.log.info({ plugins: this.leaderPlugins.map((p) => p.name) }, 'leader: failover, resharding and key-rewrite reclaim run here');
      } else if (!leading && this.pluginsRunning) {
        this.pluginsRunning = false;
        for (const p of [...this.leaderPlugins].reverse()) {
          try {
            await this.host.stopPlugin(p);
          } catch (err) {
            this.log.error({ err: (err as Error).message, plugin: p.name }, 'leader plugin failed to stop');
          }
        }
        await this.jobs.flushed();
        this.log.warn('no longer the leader: leader-only plugins stopped');
      }
    });
  }

  private async leaseAgeMs(m: LiveMember): Promise<number | null> {
    try {
      const r = await this.etcd.client.leaseClient.leaseTimeToLive({ ID: m.lease });
      const granted = Number(r.grantedTTL);
      const left = Number(r.TTL);
      if (!(granted > 0) || left < 0) return null;
      return (granted - left) * 1000;
    } catch {
      return null;
    }
  }
}
