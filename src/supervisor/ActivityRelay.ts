/**
 * The health checks' question to the workers (src/failover/HealthChecker.ts): what do you have in
 * flight on these backends? Sent to every ready worker as `activity-request`; the answers
 * (`activity`, src/proxy/BackendActivity.ts) are concatenated. A worker that does not answer
 * within the timeout is left out and the answer marked incomplete; if none answers, it is null.
 */
import type { ActivityAnswers, BackendActivity, PrimaryToWorker } from './messages';
import type { WorkerSlot } from './WorkerPool';

export interface ActivityPool {
  ready(): WorkerSlot[];
  send(slot: WorkerSlot, message: PrimaryToWorker): void;
  on(event: 'activity', listener: (slot: WorkerSlot, message: { requestId: number; backends: BackendActivity[] }) => void): unknown;
}

interface Open {
  waiting: Set<number>;
  answered: number;
  got: BackendActivity[];
  done: () => void;
}

export class ActivityRelay {
  private nextId = 1;
  private readonly open = new Map<number, Open>();

  constructor(private readonly pool: ActivityPool) {
    pool.on('activity', (slot, message) => {
      const q = this.open.get(message.requestId);
      if (!q || !q.waiting.delete(slot.id)) return;
      q.answered++;
      q.got.push(...message.backends);
      if (q.waiting.size === 0) q.done();
    });
  }

  /** Every ready worker's entries for `addresses` (one per worker that has something on one); null if no worker answered. */
  query(addresses: string[], timeoutMs: number): Promise<ActivityAnswers | null> {
    const targets = this.pool.ready();
    if (targets.length === 0) return Promise.resolve(null);
    const requestId = this.nextId++;
    return new Promise((resolve) => {
      const q: Open = {
        waiting: new Set(targets.map((t) => t.id)),
        answered: 0,
        got: [],
        done: () => {
          clearTimeout(timer);
          this.open.delete(requestId);
          resolve(q.answered > 0 ? { backends: q.got, complete: q.waiting.size === 0 } : null);
        },
      };
      const timer = setTimeout(q.done, timeoutMs);
      this.open.set(requestId, q);
      for (const t of targets) this.pool.send(t, { type: 'activity-request', requestId, addresses });
    });
  }
}
