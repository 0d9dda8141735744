/**
 * This proxy's membership: `members/<id>` = {id, address, admin, epoch} under a lease that etcd3
 * keeps alive (a third of the TTL). The epoch is the proxy's acknowledgement: the epoch every
 * one of its workers routes by. When the lease is lost (etcd gone past the TTL, or this process
 * stalled), 'lost' is emitted and a new lease is granted as soon as etcd answers; the supervisor
 * catches up with the topology before the epoch is published again.
 */
import { EventEmitter } from 'node:events';
import type { Lease } from 'etcd3';
import type { Logger } from '../log';
import { EtcdHandle, etcdFailure } from './etcdClient';
import { memberKey } from './keys';

export interface MemberInfo {
  id: string;
  /** Where clients connect ("host:port"). */
  address: string;
  /** The admin API ("host:port"). */
  admin: string;
  /** The topology epoch every worker of this proxy routes by. */
  epoch: number;
}

const REGISTER_RETRY_MS = 250;

export class Membership extends EventEmitter {
  private lease: Lease | null = null;
  private registered = false;
  private stopped = false;
  private writing: Promise<void> = Promise.resolve();
  private published: MemberInfo | null = null;
  /** When the lease was last renewed (ms, this process's clock). */
  lastRenewedAt = 0;
  /**
   * When the keepalive behind the last renewal was sent: etcd renewed the lease after this, so
   * the lease lives at least until renewedFiredAt + TTL (what the workers' deadline is based on).
   */
  renewedFiredAt = 0;
  /** Send times of the keepalives not answered yet on the current stream (answers come in order). */
  private unanswered: number[] = [];

  constructor(
    private readonly etcd: EtcdHandle,
    private readonly ttlSeconds: number,
    private readonly self: () => MemberInfo,
    private readonly log: Logger,
  ) {
    super();
  }

  get isRegistered(): boolean {
    return this.registered;
  }

  /** Grant a lease and write the member key; retried until it works or `stop()`. */
  async register(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      try {
        await this.registerOnce();
        return;
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'cannot register this proxy in etcd; retrying');
        await new Promise((r) => setTimeout(r, REGISTER_RETRY_MS).unref());
      }
    }
  }

  private async registerOnce(): Promise<void> {
    const sentAt = Date.now(); // (the grant is sent as the lease is made)
    const lease = this.etcd.ns.lease(this.ttlSeconds, { autoKeepAlive: true });
    lease.on('keepaliveSucceeded', () => {
      this.lastRenewedAt = Date.now();
      this.renewedFiredAt = this.unanswered.shift() ?? this.renewedFiredAt;
      this.emit('renewed');
    });
    lease.on('keepaliveFailed', (err) => this.emit('keepaliveFailed', err));
    // (a fire on a broken stream is never answered: a new stream starts a new list)
    lease.on('keepaliveEstablished', () => (this.unanswered = []));
    lease.on('keepaliveFired', () => this.unanswered.push(Date.now()));
    lease.on('lost', (err) => {
      if (this.lease !== lease) return;
      this.lease = null;
      this.registered = false;
      this.published = null;
      this.log.warn({ err: err.message }, 'membership lease lost: this proxy left the fleet; re-registering');
      this.emit('lost');
      if (!this.stopped) void this.register().then(() => this.emit('registered'));
    });
    try {
      await lease.grant();
      this.renewedFiredAt = sentAt;
      this.lastRenewedAt = Date.now();
      const info = this.self();
      await lease.put(memberKey(info.id)).value(JSON.stringify(info));
      this.lease = lease;
      this.published = info;
      this.registered = true;
    } catch (err) {
      lease.release();
      throw etcdFailure(this.etcd.endpoints, 'register this proxy', err);
    }
  }

  /** Publish the current `self()` (its epoch) when it changed; writes are serialized. */
  publish(): Promise<void> {
    this.writing = this.writing.then(async () => {
      const lease = this.lease;
      if (!lease || this.stopped) return;
      const info = this.self();
      if (this.published && JSON.stringify(info) === JSON.stringify(this.published)) return;
      try {
        await lease.put(memberKey(info.id)).value(JSON.stringify(info));
        this.published = info;
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'cannot publish this proxy\'s epoch to etcd');
      }
    });
    return this.writing;
  }

  /** Write another key under this proxy's lease (it goes with the membership); false when not registered. */
  async putOwned(key: string, value: string): Promise<boolean> {
    const lease = this.lease;
    if (!lease || this.stopped) return false;
    try {
      await lease.put(key).value(value);
      return true;
    } catch (err) {
      this.log.warn({ err: (err as Error).message, key }, 'cannot write to etcd under the membership lease');
      return false;
    }
  }

  /** Leave the fleet (revoke the lease: the member key goes at once). */
  async stop(): Promise<void> {
    this.stopped = true;
    const lease = this.lease;
    this.lease = null;
    this.registered = false;
    if (lease) await lease.revoke().catch(() => lease.release());
  }
}
