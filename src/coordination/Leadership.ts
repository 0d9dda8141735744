/**
 * The fleet leader, by etcd's election recipe (etcd3 `Election`): every proxy campaigns with its
 * id; the oldest campaign key leads; its lease dies with the proxy. 'elected' and 'deposed'
 * drive the leader-only plugins (failover, resharding, key-rewrite reclaim). `guardKey` is the
 * campaign key: topology writes of the leader are conditional on it, so a leader that was
 * deposed while stalled cannot write anymore.
 */
import { EventEmitter } from 'node:events';
import type { Campaign, Election, ElectionObserver } from 'etcd3';
import type { Logger } from '../log';
import type { EtcdHandle } from './etcdClient';
import { ELECTION_NAME } from './keys';

const RETRY_MS = 250;

export class Leadership extends EventEmitter {
  private readonly election: Election;
  private campaign: Campaign | null = null;
  private observer: ElectionObserver | null = null;
  private stopped = false;
  private leading = false;
  private campaignKey: string | null = null;
  /** The id of the current leader, as observed. */
  leaderId: string | null = null;

  constructor(etcd: EtcdHandle, private readonly id: string, ttlSeconds: number, private readonly log: Logger) {
    super();
    this.election = etcd.ns.election(ELECTION_NAME, ttlSeconds);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  get guardKey(): string | null {
    return this.leading ? this.campaignKey : null;
  }

  async start(): Promise<void> {
    this.campaignNow();
    this.observeNow();
  }

  private campaignNow(): void {
    if (this.stopped) return;
    const campaign = this.election.campaign(this.id);
    this.campaign = campaign;
    campaign.on('elected', () => {
      if (this.campaign !== campaign) return;
      void campaign.getCampaignKey().then((key) => {
        if (this.campaign !== campaign || this.stopped) return;
        this.campaignKey = key;
        this.leading = true;
        this.leaderId = this.id;
        this.log.info({ id: this.id }, 'this proxy is the fleet leader');
        this.emit('elected');
      });
    });
    campaign.on('error', (err) => {
      if (this.campaign !== campaign) return;
      this.campaign = null;
      const was = this.leading;
      this.leading = false;
      this.campaignKey = null;
      if (was) {
        this.log.warn({ err: err.message }, 'lost the fleet leadership');
        this.emit('deposed');
      } else this.log.debug({ err: err.message }, 'campaign failed; retrying');
      setTimeout(() => this.campaignNow(), RETRY_MS).unref();
    });
  }

  private observeNow(): void {
    if (this.stopped) return;
    this.election
      .observe()
      .then((observer) => {
        this.observer = observer;
        this.leaderId = observer.leader() ?? null;
        this.emit('leader', this.leaderId);
        observer.on('change', (value) => {
          this.leaderId = value ?? null;
          this.emit('leader', this.leaderId);
        });
        observer.on('error', () => {
          observer.cancel().catch(() => undefined);
          if (this.observer === observer) this.observer = null;
          setTimeout(() => this.observeNow(), RETRY_MS).unref();
        });
      })
      .catch(() => setTimeout(() => this.observeNow(), RETRY_MS).unref());
  }

  /** Step down (shutdown): the next proxy is elected at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    const campaign = this.campaign;
    this.campaign = null;
    const was = this.leading;
    this.leading = false;
    if (was) this.emit('deposed');
    await campaign?.resign().catch(() => undefined);
    await this.observer?.cancel().catch(() => undefined);
  }
}
