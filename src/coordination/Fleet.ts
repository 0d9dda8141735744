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
 * With etcd unreachable, changes fail with a CoordinationError and leadership (so automatic
 * failover) lapses with the election lease. Whether the proxy keeps serving is decided at once,
 * before its lease deadline: if its peers do not reach etcd either, etcd is down for everyone and
 * it serves its last topology with no deadline; if some peer does, it is cut off alone and, past
 * the deadline, refuses what may have changed without it (src/coordination/CutOff.ts).
 */
import type { KvstoreConfig } from '../config/types';
import type { Logger } from '../log';
import type { EpochBarrier } from '../supervisor/EpochBarrier';
import type { PrimaryPlugin } from '../supervisor/plugins';
import type { TopologyPersistence } from '../supervisor/TopologyPublisher';
import type { TopologyStore } from '../topology/TopologyStore';
import type { TopologySnapshot } from '../topology/types';
import { FENCE_ALL, FenceSpec } from '../proxy/LeaseFence';
import { askPeers, fenceFor, judge, Verdict } from './CutOff';
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
  /** The lease deadline of the workers and what they refuse past it (src/proxy/LeaseFence.ts). */
  broadcastToWorkers(message: { type: 'fleet-lease'; validUntil: number | null; fence: FenceSpec }): void;
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
  /**
   * With etcd unreachable, what the peers said: `everyone` (none reaches it: serving the last
   * topology), `alone` (some peer reaches it: fenced past the lease deadline), `unknown` (no peer
   * answered: fenced); `no` while etcd is reachable.
   */
  cutOff: 'no' | Verdict['kind'];
}

let running: Fleet | undefined;

/** The workers' deadline ends this long before the lease can expire in etcd. */
const DEADLINE_MARGIN_MS = 300;
/** A probe of etcd (a linearizable read, every endpoint tried) gives up after this long. */
const PROBE_TIMEOUT_MS = 1500;
/** Peers answer after their own probe: they get this long. */
const PEER_TIMEOUT_MS = PROBE_TIMEOUT_MS + 500;
/**
 * While etcd is unreachable the decision is taken again this often (etcd may be back for the
 * others): cut off alone, to follow the slots that change; down for everyone, less often.
 */
const RECHECK_MS = 500;
const RECHECK_EVERYONE_MS = 1000;
/** How often the keepalives are checked for being late (one is due every TTL/3). */
const WATCHDOG_MS = 200;
/** A probe answer is shared by the peers asking within this long. */
const REPORT_REUSE_MS = 250;
/**
 * A peer cut off alone that stops asking is no longer waited for after this long: longer than
 * its longest round (RECHECK_MS + PROBE_TIMEOUT_MS + PEER_TIMEOUT_MS), after which, reaching no
 * peer, it refuses everything (verdict `unknown`).
 */
const DEPENDENT_TTL_MS = 5000;

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
  /** Deciding whether etcd is unreachable and for whom (after a broken stream, a failed call, a late keepalive). */
  private deciding = false;
  private recheck: NodeJS.Timeout | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private cutOff: FleetStatus['cutOff'] = 'no';
  /** What the workers refuse past their deadline: everything, unless peers told us what changed. */
  private fence: FenceSpec = FENCE_ALL;
  /** The last probe, shared by peers asking at about the same time (GET /fleet/etcd). */
  private sharedProbe: { at: number; result: Promise<boolean> } | null = null;
  /**
   * Peers cut off from etcd alone that ask this proxy (GET /fleet/etcd?id=&seen=): the epoch
   * whose changes their workers refuse. This proxy acknowledges no later epoch than theirs, so the
   * fleet's barrier waits until they know what changed before data moves.
   */
  private readonly dependents = new Map<string, { seen: number; at: number }>();
  /** Cut off alone: the epoch of the topology the fence was computed from (reported to the peers). */
  private fencedAt: number | null = null;
  private lastError: string | null = null;
  /** When etcd last answered (a keepalive, the watch, a call, a probe): newer than a probe's failure, it wins. */
  private lastOkAt = 0;
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
      // Out of the barrier now: unless etcd was found down for everyone (no deadline: nobody can
      // change the topology), refuse what may change without us until re-registered and caught up.
      if (this.workerDeadline !== null) this.sendDeadline(1);
      this.decide(new Error('membership lease lost'));
    });
    // Back in the fleet after a lost lease: catch up with the topology before serving again.
    this.membership.on('registered', () => void this.catchUp());
    this.host.onWorkerReady(() => {
      if (this.workerDeadline !== 0) this.host.broadcastToWorkers({ type: 'fleet-lease', validUntil: this.workerDeadline, fence: this.fence });
    });
    await this.membership.register();
    this.caughtUp = true; // connect() read the topology; the workers started on it
    this.renewDeadline();
    this.watchdog = setInterval(() => this.checkKeepalives(), WATCHDOG_MS);
    this.watchdog.unref();
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
      cutOff: this.cutOff,
    };
  }

  /**
   * GET /fleet/etcd, what a peer cut off from etcd asks: does this proxy reach etcd right now
   * (a fresh probe, shared by peers asking together), and the topology it serves.
   */
  async etcdReport(asker?: { id: string; seen: number }): Promise<{ id: string; etcd: 'ok' | 'unreachable'; topology: TopologySnapshot }> {
    const now = Date.now();
    if (asker && asker.id !== this.id && Number.isSafeInteger(asker.seen)) {
      const before = this.dependents.get(asker.id)?.seen;
      this.dependents.set(asker.id, { seen: asker.seen, at: now });
      if (before !== asker.seen) void this.membership.publish();
    }
    if (!this.sharedProbe || now - this.sharedProbe.at > REPORT_REUSE_MS) this.sharedProbe = { at: now, result: this.probe().then((r) => r === true || this.lastOkAt >= now) };
    const ok = await this.sharedProbe.result;
    return { id: this.id, etcd: ok ? 'ok' : 'unreachable', topology: this.local.snapshot };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.recheck) clearTimeout(this.recheck);
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
    // (peers cut off alone that ask this proxy: not acknowledged past what they refuse, see etcdReport)
    const epochs = [...ready.map((w) => w.epoch), ...[...this.dependents.values()].map((d) => d.seen)];
    const epoch = ready.length === 0 ? 0 : Math.min(...epochs);
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
      this.fence = FENCE_ALL;
      this.renewDeadline();
      await this.membership.publish();
      this.log.info({ epoch: this.local.snapshot.epoch }, 'back in the fleet: re-registered and caught up with the topology');
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cannot catch up with the topology after re-registering; retrying');
      setTimeout(() => void this.catchUp(), 250).unref();
    }
  }

  /** The lease lives at least until the keepalive behind its last renewal was sent (or the grant) + TTL. */
  private leaseDeadline(): number {
    return this.membership.renewedFiredAt + this.ttlMs - DEADLINE_MARGIN_MS;
  }

  private renewDeadline(): void {
    this.sendDeadline(this.leaseDeadline());
  }

  /** Tell the workers until when they may serve, and what they refuse past it (see src/proxy/LeaseFence.ts). */
  private sendDeadline(validUntil: number | null): void {
    if (this.stopped) return;
    this.workerDeadline = validUntil;
    this.host.broadcastToWorkers({ type: 'fleet-lease', validUntil, fence: this.fence });
  }

  /** `ok`: etcd answered. Not ok: a stream broke or a call failed — decide what it means. */
  private markEtcd(ok: boolean, err?: Error): void {
    if (ok) {
      this.lastOkAt = Date.now();
      this.setEtcd(true);
      this.backInReach();
      return;
    }
    this.decide(err);
  }

  /**
   * A keepalive is due every TTL/3: when the deadline comes within TTL/3 without a renewal,
   * something is wrong (etcd gone without the stream breaking, or a stalled loop) — decide now,
   * while the lease still holds, rather than find out at the deadline.
   */
  private checkKeepalives(): void {
    const now = Date.now();
    let dropped = false;
    for (const [id, d] of this.dependents) {
      if (now - d.at <= DEPENDENT_TTL_MS) continue;
      this.dependents.delete(id);
      dropped = true;
      this.log.warn({ peer: id }, 'a peer cut off from etcd stopped asking: no longer waited for');
    }
    if (dropped) void this.membership.publish();
    const d = this.workerDeadline;
    if (typeof d === 'number' && d > 0 && this.caughtUp && d - Date.now() < this.ttlMs / 3) this.decide(new Error('keepalive overdue'));
  }

  /**
   * Is etcd unreachable, and for whom? A probe (a linearizable read, every endpoint tried) first:
   * when it answers, only a member went away (etcd3 moves to another) and nothing changes. When
   * it does not, the peers are asked (src/coordination/CutOff.ts): down for everyone → serve the
   * last topology with no deadline (a newer one from a peer first); cut off alone → the workers
   * keep the lease deadline (the barrier waits for this proxy until then) and past it refuse the
   * slots whose owner changed (every write in store mode), or everything when nobody answered.
   * Taken again every RECHECK_MS (RECHECK_EVERYONE_MS) while etcd stays unreachable.
   */
  private decide(err?: Error): void {
    if (this.deciding || this.stopped) return;
    this.deciding = true;
    void this.decideOnce(err)
      .catch((e: Error) => this.log.error({ err: e.message }, 'deciding whether etcd is unreachable failed'))
      .finally(() => {
        this.deciding = false;
        if (!this.etcdOk && !this.stopped && !this.recheck) {
          this.recheck = setTimeout(() => {
            this.recheck = null;
            if (!this.etcdOk) this.decide();
          }, this.cutOff === 'everyone' ? RECHECK_EVERYONE_MS : RECHECK_MS);
          this.recheck.unref();
        }
      });
  }

  private async decideOnce(err?: Error): Promise<void> {
    const startedAt = Date.now();
    const probed = await this.probe();
    // (a keepalive that went through meanwhile — only one member was lost — beats a slow probe)
    if (probed === true || this.lastOkAt >= startedAt) {
      this.lastOkAt = Math.max(this.lastOkAt, startedAt);
      this.setEtcd(true);
      this.backInReach();
      return;
    }
    if (this.stopped) return;
    this.setEtcd(false, err ?? probed);
    const peers = this.members.list().filter((m) => m.id !== this.id);
    const asker = this.cutOff === 'alone' && this.fencedAt !== null ? { id: this.id, seen: this.fencedAt } : undefined;
    const reports = await askPeers(peers.map((m) => m.admin), PEER_TIMEOUT_MS, asker);
    if (this.stopped || this.lastOkAt >= startedAt) return; // etcd answered meanwhile (a keepalive)
    let verdict = judge(peers.length, reports);
    const was = this.cutOff;
    // Found down for everyone, it stays so until a peer says it reaches etcd: peers slow to answer
    // (a loaded host) are no reason to stop serving a topology nobody can change.
    if (verdict.kind === 'unknown' && was === 'everyone') verdict = { kind: 'everyone', newest: null };
    this.cutOff = verdict.kind;
    if (verdict.kind === 'everyone') {
      if (verdict.newest && verdict.newest.epoch > this.local.snapshot.epoch) {
        // a peer saw a change this proxy missed before etcd went away: serve that one
        this.adopt(verdict.newest);
        await this.host.waitForWorkers(this.local.snapshot.epoch);
      }
      this.fence = FENCE_ALL;
      this.fencedAt = null;
      if (this.workerDeadline !== null) this.sendDeadline(null);
    } else {
      const fence = fenceFor(verdict, this.local.snapshot, this.config.mode === 'store');
      const deadline = typeof this.workerDeadline === 'number' && this.workerDeadline > 0 ? this.workerDeadline : this.leaseDeadline();
      if (JSON.stringify(fence) !== JSON.stringify(this.fence) || deadline !== this.workerDeadline) {
        this.fence = fence;
        this.sendDeadline(deadline);
      }
      this.fencedAt = verdict.kind === 'alone' ? verdict.current.epoch : null;
    }
    if (was !== verdict.kind) {
      const peersSaid = reports.map((r) => `${r.id}: ${r.etcd}`).join(', ') || 'no peer answered';
      if (verdict.kind === 'everyone') this.log.warn({ peers: peersSaid, epoch: this.local.snapshot.epoch }, 'etcd is unreachable for the whole fleet: serving the last topology with no deadline');
      else this.log.error({ peers: peersSaid, fence: this.fence.all ? 'all' : { slots: this.fence.slots.length, writes: this.fence.writes } }, verdict.kind === 'alone' ? 'this proxy alone is cut off from etcd: past its lease it refuses what changed without it' : 'etcd unreachable and no peer answers: past its lease this proxy refuses every command');
    }
  }

  /** etcd answered again: decisions taken while it was unreachable end. */
  private backInReach(): void {
    if (this.recheck) clearTimeout(this.recheck);
    this.recheck = null;
    if (this.cutOff === 'no') return;
    this.cutOff = 'no';
    this.fencedAt = null;
    // (not caught up: what the peers said stays refused until it is; then the deadline covers it)
    if (this.caughtUp) this.fence = FENCE_ALL;
    // Serving with no deadline (etcd was down for everyone): back to what the lease guarantees.
    // If it expired meanwhile the workers refuse everything until re-registered and caught up.
    if (this.workerDeadline === null) this.sendDeadline(this.caughtUp ? this.leaseDeadline() : 1);
    else if (this.workerDeadline !== 0) this.sendDeadline(this.workerDeadline);
  }

  /** true when etcd answered a linearizable read within PROBE_TIMEOUT_MS, else the error. */
  private probe(): Promise<true | Error> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Error>((resolve) => {
      timer = setTimeout(() => resolve(new CoordinationError(`etcd (${this.etcd.endpoints.join(', ')}) did not answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
    });
    const read = this.topology.refresh().then(
      () => true as const,
      (e: Error) => e,
    );
    return Promise.race([read, timeout]).finally(() => clearTimeout(timer));
  }

  private setEtcd(ok: boolean, err?: Error): void {
    if (ok === this.etcdOk) return;
    this.etcdOk = ok;
    if (ok) this.log.info('etcd reachable again: fleet coordination resumed');
    else {
      this.lastError = err?.message ?? 'unreachable';
      this.log.error({ err: this.lastError }, 'etcd unreachable: topology changes and automatic failover are suspended');
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
