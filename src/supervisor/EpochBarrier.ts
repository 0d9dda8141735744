/**
 * The epoch barrier: a topology change returns to its caller (an admin call, failover, a
 * migration step) only once everything that routes requests routes by the new epoch. Today that
 * is this host's workers; a fleet of proxies adds its own barrier (e.g. every node's ack in
 * etcd) with `TopologyPublisher.addBarrier`, and the publisher waits for all of them.
 */
import { TopologyError } from '../errors';
import type { WorkerPoolView, WorkerSlot } from './WorkerPool';

export interface EpochBarrier {
  /** Resolve when everyone this barrier stands for routes by `epoch` (or a later one); reject on timeout. */
  wait(epoch: number, timeoutMs: number): Promise<void>;
}

/** Every ready worker acknowledged the epoch; workers that die or are not ready yet are not waited for (they get the current topology at `ready`). */
export class WorkerEpochBarrier implements EpochBarrier {
  constructor(private readonly pool: WorkerPoolView) {}

  wait(epoch: number, timeoutMs: number): Promise<void> {
    const behind = () => this.pool.slots.filter((s: WorkerSlot) => s.ready && s.worker && s.ackedEpoch < epoch);
    return new Promise((resolve, reject) => {
      const check = () => {
        if (behind().length === 0) {
          cleanup();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        const late = behind().map((s) => `worker ${s.id} (pid ${s.pid}) at epoch ${s.ackedEpoch}`);
        reject(new TopologyError(`not every worker acknowledged topology epoch ${epoch} within ${timeoutMs} ms: ${late.join(', ')}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.pool.off('ack', check);
        this.pool.off('exit', check);
      };
      this.pool.on('ack', check);
      this.pool.on('exit', check);
      check();
    });
  }
}
