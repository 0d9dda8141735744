/**
 * The primary's single source of truth for the topology. Every change goes through `update`:
 * the epoch is bumped, the new snapshot is written to `stateDir/topology.json` atomically
 * (temp file, fsync, rename, fsync dir) and only then announced ('change' event), so no worker
 * ever acts on a topology that a restart would forget.
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import type { KvstoreConfig } from '../config/types';
import { TopologyError } from '../errors';
import { evenSlotRanges } from './slots';
import type { TopologySnapshot } from './types';

export const TOPOLOGY_FILE = 'topology.json';

export function initialTopology(config: KvstoreConfig): TopologySnapshot {
  const ranges = evenSlotRanges(config.shards.length);
  return {
    epoch: 1,
    mode: config.mode,
    hash: config.hash,
    shards: config.shards.map((s, i) => ({ name: s.name, master: s.master, replicas: [...s.replicas], state: 'up', slots: [ranges[i]] })),
    migrations: [],
    keyRewrite: [],
  };
}

/** Write `file` whole or not at all (temp file, fsync, rename); `mode` for files holding secrets (0o600). */
export function writeFileAtomic(file: string, data: string, mode?: number): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = fs.openSync(tmp, 'w', mode);
  try {
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  const dirFd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(dirFd);
  } finally {
    fs.closeSync(dirFd);
  }
}

export class TopologyStore extends EventEmitter {
  private current: TopologySnapshot;
  readonly file: string;

  /** Loads the persisted topology when there is one (it wins over the config's shard list). */
  constructor(stateDir: string, fallback: TopologySnapshot) {
    super();
    this.file = path.join(stateDir, TOPOLOGY_FILE);
    if (fs.existsSync(this.file)) {
      try {
        this.current = JSON.parse(fs.readFileSync(this.file, 'utf8')) as TopologySnapshot;
      } catch (err) {
        throw new TopologyError(`cannot read ${this.file}: ${(err as Error).message}; fix or remove it to start from the config`);
      }
    } else {
      this.current = fallback;
      writeFileAtomic(this.file, JSON.stringify(this.current, null, 2));
    }
  }

  get snapshot(): TopologySnapshot {
    return this.current;
  }

  /**
   * Take a snapshot made elsewhere (a fleet's topology in etcd) as it is, epoch included:
   * persisted, then 'change' is emitted.
   */
  replace(snapshot: TopologySnapshot): void {
    writeFileAtomic(this.file, JSON.stringify(snapshot, null, 2));
    this.current = snapshot;
    this.emit('change', snapshot);
  }

  /**
   * Apply a change: `mutate` gets a deep copy and returns it (or a new one). The epoch is bumped,
   * the result persisted, then 'change' is emitted with the new snapshot.
   */
  update(mutate: (draft: TopologySnapshot) => TopologySnapshot | void): TopologySnapshot {
    const draft = structuredClone(this.current);
    const next = mutate(draft) ?? draft;
    next.epoch = this.current.epoch + 1;
    writeFileAtomic(this.file, JSON.stringify(next, null, 2));
    this.current = next;
    this.emit('change', next);
    return next;
  }
}
