/**
 * The fleet's topology in etcd: one key holding the whole TopologySnapshot as JSON. A change is
 * a compare-and-swap on the key's mod revision (and, for the leader, on its campaign key still
 * existing, so a deposed leader's write can never land); every proxy watches the key and hands
 * each newer snapshot to its supervisor, which pushes it to its workers.
 */
import { EventEmitter } from 'node:events';
import type { IKeyValue, Watcher } from 'etcd3';
import type { Logger } from '../log';
import { TopologyError } from '../errors';
import type { TopologySnapshot } from '../topology/types';
import { EtcdHandle, etcdFailure } from './etcdClient';
import { CoordinationError } from './errors';
import { TOPOLOGY_KEY } from './keys';

/** CAS attempts before giving up (each conflict means another writer just succeeded). */
const MAX_CAS_ATTEMPTS = 20;

export type TopologyMutation = (draft: TopologySnapshot) => TopologySnapshot | void;

export class EtcdTopology extends EventEmitter {
  private current: TopologySnapshot | null = null;
  /** Mod revision of `current` in etcd. */
  private revision = '0';
  private watcher: Watcher | null = null;
  private readonly fullKey: string;

  constructor(private readonly etcd: EtcdHandle, private readonly prefix: string, private readonly log: Logger) {
    super();
    this.fullKey = prefix + TOPOLOGY_KEY;
  }

  get snapshot(): TopologySnapshot | null {
    return this.current;
  }

  /** Read the topology; when etcd holds none yet, store `seed` (only if still none). */
  async loadOrSeed(seed: TopologySnapshot): Promise<{ snapshot: TopologySnapshot; seeded: boolean }> {
    try {
      const r = await this.etcd.client
        .if(this.fullKey, 'Create', '==', 0)
        .then(this.etcd.client.put(this.fullKey).value(JSON.stringify(seed)))
        .else(this.etcd.client.get(this.fullKey))
        .commit();
      if (r.succeeded) {
        this.accept(seed, r.header.revision);
        return { snapshot: seed, seeded: true };
      }
      const kv = r.responses[0].response_range.kvs[0];
      this.accept(parse(kv), kv.mod_revision);
      return { snapshot: this.current!, seeded: false };
    } catch (err) {
      throw etcdFailure(this.etcd.endpoints, 'read the topology', err);
    }
  }

  /**
   * Apply `mutate` to the latest topology with compare-and-swap: on a conflict the latest is
   * read again and `mutate` runs again on it. `guardKey` (the leader's campaign key) must exist
   * for the write to land.
   */
  async update(mutate: TopologyMutation, guardKey?: string): Promise<TopologySnapshot> {
    for (let attempt = 1; attempt <= MAX_CAS_ATTEMPTS; attempt++) {
      if (!this.current) await this.refresh();
      const base = this.current!;
      const draft = structuredClone(base);
      const next = mutate(draft) ?? draft;
      next.epoch = base.epoch + 1;
      let txn = this.etcd.client.if(this.fullKey, 'Mod', '==', this.revision);
      if (guardKey) txn = txn.and(guardKey, 'Create', '>', 0);
      let r;
      try {
        r = await txn.then(this.etcd.client.put(this.fullKey).value(JSON.stringify(next))).commit();
      } catch (err) {
        throw etcdFailure(this.etcd.endpoints, 'change the topology', err);
      }
      if (r.succeeded) {
        this.accept(next, r.header.revision);
        return next;
      }
      if (guardKey && !(await this.exists(guardKey))) throw new CoordinationError('this proxy is no longer the fleet leader; the change was not made (retry: it goes to the new leader)');
      await this.refresh();
      this.log.debug({ attempt, epoch: this.current?.epoch }, 'topology changed under us; retrying the compare-and-swap');
    }
    throw new TopologyError(`the topology kept changing under ${MAX_CAS_ATTEMPTS} compare-and-swap attempts; retry`);
  }

  /** Watch the key from the revision we hold; every newer snapshot is emitted as 'change'. */
  async watch(): Promise<void> {
    const next = (BigInt(this.revision) + 1n).toString();
    this.watcher = await this.etcd.client.watch().key(this.fullKey).startRevision(next).create();
    this.watcher.on('put', (kv) => {
      try {
        this.accept(parse(kv), kv.mod_revision);
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'unreadable topology in etcd; keeping the current one');
      }
    });
    this.watcher.on('disconnected', (err) => this.emit('disconnected', err));
    this.watcher.on('connected', () => this.emit('connected'));
    this.watcher.on('error', (err) => this.log.warn({ err: (err as Error).message }, 'topology watch error'));
  }

  async close(): Promise<void> {
    await this.watcher?.cancel().catch(() => undefined);
    this.watcher = null;
  }

  /** Read the latest topology (after a conflict, or to catch up after a lost lease). */
  async refresh(): Promise<TopologySnapshot> {
    let kv: IKeyValue | undefined;
    try {
      kv = (await this.etcd.client.get(this.fullKey).exec()).kvs[0];
    } catch (err) {
      throw etcdFailure(this.etcd.endpoints, 'read the topology', err);
    }
    if (!kv) throw new CoordinationError(`etcd holds no topology under ${this.fullKey} (deleted?); restart a proxy to seed it again`);
    this.accept(parse(kv), kv.mod_revision);
    return this.current!;
  }

  private async exists(key: string): Promise<boolean> {
    try {
      return (await this.etcd.client.get(key).exec()).kvs.length > 0;
    } catch (err) {
      throw etcdFailure(this.etcd.endpoints, 'check the leadership', err);
    }
  }

  /** Keep the newest (by mod revision); emit 'change' when it is new. */
  private accept(snapshot: TopologySnapshot, revision: string): void {
    if (BigInt(revision) <= BigInt(this.revision)) return;
    this.revision = revision;
    this.current = snapshot;
    this.emit('change', snapshot);
  }
}

function parse(kv: IKeyValue): TopologySnapshot {
  const s = JSON.parse(kv.value.toString('utf8')) as TopologySnapshot;
  if (!s || typeof s.epoch !== 'number' || !Array.isArray(s.shards)) throw new CoordinationError('the topology in etcd is not a Kvstore topology');
  return s;
}
