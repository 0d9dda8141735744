/**
 * Every live proxy as etcd sees it: `members/*` read once and then followed with a watch (a
 * member whose lease expires is deleted by etcd, so it leaves the view and every barrier). The
 * fleet-wide epoch barrier waits on this view: it resolves when every live member acknowledges
 * the epoch.
 */
import { EventEmitter } from 'node:events';
import type { Watcher } from 'etcd3';
import type { Logger } from '../log';
import { EtcdHandle, etcdFailure } from './etcdClient';
import { BarrierTimeoutError } from './errors';
import { MEMBERS_PREFIX } from './keys';
import type { MemberInfo } from './Membership';

export interface LiveMember extends MemberInfo {
  /** The member's etcd lease (hex). */
  lease: string;
}

export class MemberView extends EventEmitter {
  private readonly members = new Map<string, LiveMember>();
  private watcher: Watcher | null = null;
  private readonly fullPrefix: string;

  constructor(private readonly etcd: EtcdHandle, prefix: string, private readonly log: Logger) {
    super();
    this.fullPrefix = prefix + MEMBERS_PREFIX;
    this.setMaxListeners(0);
  }

  list(): LiveMember[] {
    return [...this.members.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  async start(): Promise<void> {
    let revision: string;
    try {
      const r = await this.etcd.client.getAll().prefix(this.fullPrefix).exec();
      revision = r.header.revision;
      for (const kv of r.kvs) this.set(kv.key.toString(), kv.value.toString(), kv.lease);
    } catch (err) {
      throw etcdFailure(this.etcd.endpoints, 'list the proxies', err);
    }
    this.watcher = await this.etcd.client.watch().prefix(this.fullPrefix).startRevision((BigInt(revision) + 1n).toString()).create();
    this.watcher.on('put', (kv) => this.set(kv.key.toString(), kv.value.toString(), kv.lease));
    this.watcher.on('delete', (kv) => {
      const id = kv.key.toString().slice(this.fullPrefix.length);
      if (this.members.delete(id)) this.emit('change');
    });
    this.watcher.on('error', (err) => this.log.warn({ err: (err as Error).message }, 'members watch error'));
  }

  async close(): Promise<void> {
    await this.watcher?.cancel().catch(() => undefined);
    this.watcher = null;
  }

  /**
   * Resolve when every live member routes by `epoch` or later; members that leave (lease
   * expired) stop counting. Rejects after `timeoutMs` naming the proxies behind.
   */
  waitForEpoch(epoch: number, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.list().every((m) => m.epoch >= epoch)) {
          cleanup();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        const behind = this.list().filter((m) => m.epoch < epoch).map((m) => `${m.id} at epoch ${m.epoch}`);
        reject(new BarrierTimeoutError(`not every proxy acknowledged topology epoch ${epoch} within ${timeoutMs} ms: ${behind.join(', ')}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.off('change', check);
      };
      this.on('change', check);
      check();
    });
  }

  private set(key: string, value: string, lease: string): void {
    const id = key.slice(this.fullPrefix.length);
    try {
      const info = JSON.parse(value) as MemberInfo;
      this.members.set(id, { id, address: String(info.address), admin: String(info.admin), epoch: Number(info.epoch) || 0, lease });
      this.emit('change');
    } catch {
      this.log.warn({ key }, 'unreadable member entry in etcd; ignored');
    }
  }
}
