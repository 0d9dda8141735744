/**
 * Store mode with Redis Sentinel: Sentinel decides and performs failovers; Kvstore only follows.
 * Each shard is the Sentinel master named `sentinelMasterPrefix + shard.name`. The watcher asks
 * `SENTINEL get-master-addr-by-name` at start and every `resyncMs` (a missed event cannot leave
 * us behind), and subscribes to `+switch-master` on every sentinel to switch the topology at once.
 * The topology changes only when a sentinel names a different master; the old master moves to
 * the replicas list (Sentinel reconfigures it as a replica when it comes back).
 */
import { createLogger } from '../log';
import { EventLog, SerialQueue, TopologyPublisher } from './publisher';
import { parseAddress, RespClient } from '../resp';
import { connectControl, withClient } from './replication';

const log = createLogger('failover-sentinel');

export interface SentinelWatcherOptions {
  sentinels: string[];
  prefix: string;
  timeoutMs: number;
  /** How often masters are re-read from Sentinel, besides the events. */
  resyncMs?: number;
  /** Wait between reconnect attempts to a sentinel. */
  reconnectMs?: number;
}

function normalize(address: string): string {
  const { host, port } = parseAddress(address);
  return `${host === 'localhost' || host === '::1' ? '127.0.0.1' : host}:${port}`;
}

export class SentinelWatcher {
  private readonly queue = new SerialQueue();
  private readonly subscribers = new Map<string, RespClient>();
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  /** Last time a sentinel answered (for status). */
  lastContact: Record<string, number> = {};
  lastError: Record<string, string> = {};

  constructor(private readonly topology: TopologyPublisher, private readonly options: SentinelWatcherOptions, readonly events = new EventLog()) {}

  async start(): Promise<void> {
    for (const s of this.options.sentinels) this.subscribe(s);
    const t = setInterval(() => void this.resync(), this.options.resyncMs ?? 5000);
    t.unref?.();
    this.timers.push(t);
    await this.resync();
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    for (const c of this.subscribers.values()) c.close();
    this.subscribers.clear();
  }

  status(): { sentinel: string; subscribed: boolean; lastContact: number | null; lastError: string | null }[] {
    return this.options.sentinels.map((s) => ({
      sentinel: s,
      subscribed: !!this.subscribers.get(s) && !this.subscribers.get(s)!.isClosed,
      lastContact: this.lastContact[s] ?? null,
      lastError: this.lastError[s] ?? null,
    }));
  }

  /** Ask the sentinels (first that answers) for every shard's master and follow any change. */
  resync(): Promise<void> {
    return this.queue.run(async () => {
      for (const shard of this.topology.snapshot.shards) {
        const name = this.options.prefix + shard.name;
        for (const sentinel of this.options.sentinels) {
          try {
            const reply = await withClient(sentinel, { timeoutMs: this.options.timeoutMs }, (c) => c.command(['SENTINEL', 'get-master-addr-by-name', name]));
            this.lastContact[sentinel] = Date.now();
            if (Array.isArray(reply) && typeof reply[0] === 'string' && reply[1] !== undefined) {
              await this.follow(shard.name, `${reply[0]}:${reply[1]}`, 'resync');
            } else {
              log.warn({ sentinel, name }, `sentinel ${sentinel} does not know master "${name}"`);
              continue;
            }
            break;
          } catch (err) {
            this.lastError[sentinel] = (err as Error).message;
            log.warn({ sentinel, err: (err as Error).message }, `sentinel ${sentinel} did not answer`);
          }
        }
      }
    });
  }

  private subscribe(sentinel: string): void {
    if (this.stopped) return;
    const retry = () => {
      if (this.stopped) return;
      const t = setTimeout(() => this.subscribe(sentinel), this.options.reconnectMs ?? 1000);
      t.unref?.();
    };
    connectControl(sentinel, { timeoutMs: this.options.timeoutMs }).then(
      async (client) => {
        this.subscribers.set(sentinel, client);
        client.once('close', () => {
          this.subscribers.delete(sentinel);
          retry();
          // Events may have been missed while disconnected.
          if (!this.stopped) void this.resync();
        });
        try {
          await client.subscribe(['+switch-master'], (_channel, payload) => this.onSwitch(sentinel, payload));
          this.lastContact[sentinel] = Date.now();
        } catch (err) {
          this.lastError[sentinel] = (err as Error).message;
          client.close();
        }
      },
      (err) => {
        this.lastError[sentinel] = (err as Error).message;
        retry();
      },
    );
  }

  /** `+switch-master <name> <old-ip> <old-port> <new-ip> <new-port>` */
  private onSwitch(sentinel: string, payload: string): void {
    this.lastContact[sentinel] = Date.now();
    const [name, , , newIp, newPort] = payload.split(' ');
    if (!name?.startsWith(this.options.prefix) || !newIp || !newPort) return;
    const shard = name.slice(this.options.prefix.length);
    log.warn({ sentinel, payload }, `sentinel ${sentinel}: +switch-master ${payload}`);
    void this.queue.run(() => this.follow(shard, `${newIp}:${newPort}`, `+switch-master from ${sentinel}`));
  }

  private async follow(shardName: string, master: string, why: string): Promise<void> {
    const shard = this.topology.snapshot.shards.find((s) => s.name === shardName);
    if (!shard || normalize(shard.master) === normalize(master)) return;
    const from = shard.master;
    const next = await this.topology.update((d) => {
      const s = d.shards.find((x) => x.name === shardName);
      if (!s) return;
      // Keep the address spelling the config used when the new master is a listed replica.
      const listed = s.replicas.find((r) => normalize(r) === normalize(master)) ?? master;
      s.replicas = [...s.replicas.filter((r) => r !== listed), s.master];
      s.master = listed;
      s.state = 'up';
    });
    log.warn({ shard: shardName, from, to: master, epoch: next.epoch, why }, `shard ${shardName}: following Sentinel to ${master}`);
    this.events.push({ shard: shardName, kind: 'sentinel-switch', from, to: master, epoch: next.epoch, detail: why });
  }
}
