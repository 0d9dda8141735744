/**
 * Topology changes in the primary: persist (the store bumps the epoch and writes it before
 * announcing it), push the snapshot to every worker, then wait at the epoch barriers. Failover,
 * resharding and key rewrite change the topology only through `update` (via PrimaryContext).
 *
 * Both ends are small interfaces so that another implementation can be plugged in (a fleet of
 * proxies coordinating through etcd): `TopologyPersistence` (TopologyStore is the local file
 * one; `SupervisorOptions.topologyStore`) and `EpochBarrier` (./EpochBarrier.ts; the workers'
 * barrier is always there, others join with `addBarrier` / `PrimaryContext.addEpochBarrier`).
 * A persistence whose topology can change from elsewhere (another proxy of the fleet wrote it)
 * emits 'change' for those changes too: the workers get them the same way.
 */
import type { TopologySnapshot } from '../topology/types';
import type { EpochBarrier } from './EpochBarrier';
import type { WorkerPoolView, WorkerSlot } from './WorkerPool';

export type TopologyMutation = (draft: TopologySnapshot) => TopologySnapshot | void;

/** Prepares what a change will route to before it is committed (see `beforeChange`). */
export type PreCommitHook = (current: TopologySnapshot, next: TopologySnapshot) => Promise<void>;

/** Where the topology lives and is persisted (src/topology/TopologyStore.ts: stateDir/topology.json). */
export interface TopologyPersistence {
  readonly snapshot: TopologySnapshot;
  /**
   * Apply `mutate` to a copy, bump the epoch, persist, then emit 'change' with the result.
   * Asynchronous where the topology is shared (a fleet: compare-and-swap in etcd).
   */
  update(mutate: TopologyMutation): TopologySnapshot | Promise<TopologySnapshot>;
  on(event: 'change', listener: (snapshot: TopologySnapshot) => void): unknown;
  off(event: 'change', listener: (snapshot: TopologySnapshot) => void): unknown;
  /** Where it is persisted, for messages. */
  readonly file?: string;
}

export const DEFAULT_BARRIER_TIMEOUT_MS = 10_000;

export class TopologyPublisher {
  private readonly barriers: EpochBarrier[] = [];
  private readonly preCommit: PreCommitHook[] = [];

  constructor(
    readonly store: TopologyPersistence,
    private readonly pool: WorkerPoolView,
    workers: EpochBarrier,
  ) {
    this.barriers.push(workers);
    store.on('change', (snapshot) => pool.broadcast({ type: 'topology', snapshot }));
    // the topology may have changed between a worker's init and its ready
    pool.on('ready', (slot: WorkerSlot) => {
      if (slot.ackedEpoch < store.snapshot.epoch) pool.send(slot, { type: 'topology', snapshot: store.snapshot });
    });
  }

  get snapshot(): TopologySnapshot {
    return this.store.snapshot;
  }

  /** One more barrier every change waits for (e.g. the other proxies of a fleet). */
  addBarrier(barrier: EpochBarrier): void {
    this.barriers.push(barrier);
  }

  /**
   * Hooks run before each change is committed: the mutation is applied to a copy first and the
   * hooks see (current, result), e.g. to load scripts on a master the change starts routing to
   * (src/scripts/). Mutations are pure functions of their draft, so the dry run and the commit
   * agree; the hooks are idempotent, so a change committed in between costs a repeat at most.
   */
  beforeChange(hook: PreCommitHook): void {
    this.preCommit.push(hook);
  }

  /** Change the topology; resolves once every barrier passed the new epoch. */
  async update(mutate: TopologyMutation, timeoutMs = DEFAULT_BARRIER_TIMEOUT_MS): Promise<TopologySnapshot> {
    if (this.preCommit.length > 0) {
      const current = this.store.snapshot;
      const draft = structuredClone(current);
      const dry = mutate(draft) ?? draft;
      for (const hook of this.preCommit) await hook(current, dry);
    }
    const next = await this.store.update(mutate); // persisted, and broadcast by the 'change' listener
    await this.waitForEpoch(next.epoch, timeoutMs);
    return next;
  }

  /** Push the current topology (again) to all workers and wait at the barriers. */
  async publish(timeoutMs = DEFAULT_BARRIER_TIMEOUT_MS): Promise<TopologySnapshot> {
    const snapshot = this.store.snapshot;
    this.pool.broadcast({ type: 'topology', snapshot });
    await this.waitForEpoch(snapshot.epoch, timeoutMs);
    return snapshot;
  }

  async waitForEpoch(epoch: number, timeoutMs = DEFAULT_BARRIER_TIMEOUT_MS): Promise<void> {
    await Promise.all(this.barriers.map((b) => b.wait(epoch, timeoutMs)));
  }
}
