/**
 * Store mode in a fleet: every proxy checks the shards' masters itself (the failover health
 * checker, src/failover/HealthChecker.ts) and publishes the ones it cannot reach in
 * `health/<id>`, under its membership lease. Before promoting a replica, the leader asks
 * `confirmDown(master)`: at least `coordination.failoverConfirmShare` of the live proxies (the
 * leader included) must list it, so one proxy cut off from one master cannot fail it over for
 * everyone. The answer is waited for up to one health interval (the others detect a killed
 * master as fast as the leader does); without it the leader's next pass asks again.
 *
 * A silent master is hung or busy, and only the proxy whose client sent the long command (a
 * script, KEYS) knows it is busy: the others' workers have nothing explaining the silence and
 * they vote it down. So each proxy also publishes the masters it sees silent *with* such a
 * command in flight (`slow`), and one such entry vetoes the failover. Since that proxy may see
 * the silence later than the others (its PINGs have their own phase), a vote that is not
 * unanimous waits the whole health interval for a veto before it counts.
 */
import type { KvstoreConfig } from '../config/types';
import { HealthChecker } from '../failover/HealthChecker';
import { workerExplainer } from '../failover/WorkerActivity';
import type { Logger } from '../log';
import type { TopologyStore } from '../topology/TopologyStore';
import type { TopologySnapshot } from '../topology/types';
import type { EtcdHandle } from './etcdClient';
import { HEALTH_PREFIX, healthKey } from './keys';
import type { Membership } from './Membership';
import type { MemberView } from './MemberView';

const POLL_MS = 50;
/** Log "not confirmed" for one master at most this often. */
const LOG_EVERY_MS = 5000;

function masters(snapshot: TopologySnapshot): string[] {
  return snapshot.shards.map((s) => s.master);
}

export class HealthWitness {
  readonly checker: HealthChecker;
  private published: string | null = null;
  private readonly lastLogged = new Map<string, number>();
  private readonly onTopology = (s: TopologySnapshot) => this.checker.setAddresses(masters(s));

  constructor(
    private readonly id: string,
    private readonly etcd: EtcdHandle,
    private readonly prefix: string,
    private readonly config: KvstoreConfig,
    private readonly local: TopologyStore,
    private readonly membership: Membership,
    private readonly members: MemberView,
    private readonly log: Logger,
  ) {
    const b = config.backend;
    this.checker = new HealthChecker({ health: config.health, backend: { username: b.username || undefined, password: b.password || undefined }, explain: workerExplainer });
  }

  start(): void {
    this.checker.on('change', () => void this.publish());
    this.checker.on('slow', () => void this.publish());
    this.membership.on('registered', () => {
      this.published = null;
      void this.publish();
    });
    this.local.on('change', this.onTopology);
    this.checker.setAddresses(masters(this.local.snapshot));
    void this.publish();
  }

  stop(): void {
    this.local.off('change', this.onTopology);
    this.checker.stop();
  }

  /** The masters this proxy cannot reach. */
  down(): string[] {
    return this.checker.report().filter((h) => h.state === 'down').map((h) => h.address);
  }

  /** The masters this proxy sees silent with a long command of its clients in flight (busy, not hung). */
  slow(): string[] {
    return this.checker.report().filter((h) => h.state === 'up' && h.slow !== null).map((h) => h.address);
  }

  private async publish(): Promise<void> {
    const value = JSON.stringify({ down: this.down(), slow: this.slow() });
    if (value === this.published) return;
    if (await this.membership.putOwned(healthKey(this.id), value)) this.published = value;
  }

  /** Proxies (live members) that list `address` as unreachable, and those that see it busy (`slow`: a veto). */
  async votes(address: string): Promise<{ votes: number; live: number; slow: string[] }> {
    const live = new Set(this.members.list().map((m) => m.id));
    const r = await this.etcd.client.getAll().prefix(this.prefix + HEALTH_PREFIX).strings();
    let votes = 0;
    const slow: string[] = [];
    for (const [key, value] of Object.entries(r)) {
      const id = key.slice((this.prefix + HEALTH_PREFIX).length);
      if (!live.has(id)) continue;
      try {
        const entry = JSON.parse(value) as { down?: string[]; slow?: string[] };
        if (entry.down?.includes(address)) votes++;
        if (entry.slow?.includes(address)) slow.push(id);
      } catch {
        /* unreadable entry: no vote */
      }
    }
    return { votes, live: live.size, slow };
  }

  /** Enough live proxies see `address` down (waits up to one health interval for them). */
  async confirmDown(address: string): Promise<boolean> {
    const deadline = Date.now() + this.config.health.intervalMs;
    const share = this.config.coordination.failoverConfirmShare;
    for (;;) {
      let seen: { votes: number; live: number; slow: string[] } = { votes: 0, live: 0, slow: [] };
      try {
        await this.publish(); // our own view first
        seen = await this.votes(address);
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'cannot read the proxies\' health from etcd; failover waits');
        return false;
      }
      if (seen.slow.length > 0) {
        this.logOnce(address, { master: address, busyAt: seen.slow }, `master ${address} is silent but busy with a long command from proxy ${seen.slow.join(', ')}: no failover`);
        return false;
      }
      const need = Math.max(1, Math.ceil(share * seen.live));
      // Unanimous, or enough votes and no veto within the interval (see the header).
      if (seen.votes >= need && (seen.votes >= seen.live || Date.now() >= deadline)) {
        this.log.warn({ master: address, votes: seen.votes, proxies: seen.live }, `master ${address} unreachable from ${seen.votes} of ${seen.live} proxies: failing over`);
        return true;
      }
      if (Date.now() >= deadline) {
        this.logOnce(address, { master: address, votes: seen.votes, need, proxies: seen.live }, `master ${address} unreachable from here but only ${seen.votes} of ${seen.live} proxies confirm (need ${need}): no failover`);
        return false;
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** Log a refusal for `address` at most every LOG_EVERY_MS. */
  private logOnce(address: string, fields: Record<string, unknown>, msg: string): void {
    const last = this.lastLogged.get(address) ?? 0;
    if (Date.now() - last <= LOG_EVERY_MS) return;
    this.lastLogged.set(address, Date.now());
    this.log.warn(fields, msg);
  }
}
