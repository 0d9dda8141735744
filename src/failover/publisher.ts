/**
 * How failover changes the topology. The supervisor provides a publisher whose `update`
 * persists the change (epoch+1, atomic write, via TopologyStore) and resolves only once every
 * worker acknowledged the new epoch, so a switchover can resume writes knowing no worker still
 * routes to the old master. `storePublisher` is the plain TopologyStore version (no workers).
 */
import type { TopologyStore } from '../topology/TopologyStore';
import type { TopologySnapshot } from '../topology/types';

export type TopologyMutation = (draft: TopologySnapshot) => TopologySnapshot | void;

export interface TopologyPublisher {
  readonly snapshot: TopologySnapshot;
  update(mutate: TopologyMutation): Promise<TopologySnapshot>;
}

export function storePublisher(store: TopologyStore): TopologyPublisher {
  return {
    get snapshot() {
      return store.snapshot;
    },
    update: async (mutate) => store.update(mutate),
  };
}

/** One thing failover did, kept for /stats and logs. */
export interface FailoverEvent {
  at: number; // epoch ms
  shard: string;
  kind: 'eject' | 'rejoin' | 'promote' | 'switchover' | 'shard-down' | 'shard-up' | 'demote' | 'sentinel-switch';
  from?: string;
  to?: string;
  epoch?: number;
  detail?: string;
}

export class EventLog {
  private readonly events: FailoverEvent[] = [];
  /** Every event ever pushed, by kind (the list itself keeps only the last `max`). */
  readonly counts: Record<string, number> = {};
  constructor(private readonly max = 50) {}
  push(event: Omit<FailoverEvent, 'at'>): FailoverEvent {
    const full = { at: Date.now(), ...event };
    this.counts[event.kind] = (this.counts[event.kind] ?? 0) + 1;
    this.events.push(full);
    if (this.events.length > this.max) this.events.shift();
    return full;
  }
  list(): FailoverEvent[] {
    return [...this.events];
  }
}

/** Runs async jobs one at a time: topology decisions never interleave. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(job: () => Promise<T>): Promise<T> {
    const result = this.tail.then(job, job);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
