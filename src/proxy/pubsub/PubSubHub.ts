/**
 * The worker's pub/sub: which of its clients listen to which channel, pattern and shard channel,
 * and the one subscriber connection per shard (opened on first use) that listens for all of them.
 *
 * Placement (plain redis-servers do not broadcast PUBLISH, so the proxy places channels):
 *   channel, shard channel → the shard owning the CRC16 slot of its name (hash tags honoured),
 *     where PUBLISH / SPUBLISH go too;
 *   pattern, and channels/patterns under `__keyspace@0__:` / `__keyevent@0__:` → every shard
 *     (a pattern may match a channel of any shard; keyspace events are raised where the key is).
 *
 * Per name a set of local clients: the first client subscribes the worker's connection, the last
 * one leaving unsubscribes it. A message is looked up once and its frame (the shard's bytes,
 * byte-equal to what a direct redis-server sends) copied into each subscriber's output.
 * `reconcile` moves subscriptions whose shard changed (topology applied, connection lost).
 */
import calculateSlot from 'cluster-key-slot';
import type { KvstoreConfig } from '../../config/types';
import type { Logger } from '../../log';
import type { TimerHandle } from '../Clock';
import type { DataPathIo } from '../DataPathIo';
import type { Router } from '../Router';
import type { PubSubStats } from '../../supervisor/messages';
import { asPush, PubSubKind, subscribeFrame, unsubscribeFrame } from './frames';
import { MessageSink, SubscriberConnection } from './SubscriberConnection';

/** A client's own subscriptions; allocated on its first SUBSCRIBE, dropped when it has none. */
export class ClientSubscriptions {
  readonly channel = new Set<string>();
  readonly pattern = new Set<string>();
  readonly shard = new Set<string>();
  /** When its output first stayed above the soft limit (0 = below). */
  softSince = 0;
  /**
   * The id of the last command it sent while subscribed (CLIENT LIST `cmd`): messages take reply
   * slots with id -1 too, so the reply ring's last entry would hide it.
   */
  lastCommand = -1;

  /** Redis's count in a confirmation: channels + patterns, or shard channels. */
  countFor(kind: PubSubKind): number {
    return kind === 'shard' ? this.shard.size : this.channel.size + this.pattern.size;
  }

  get total(): number {
    return this.channel.size + this.pattern.size + this.shard.size;
  }
}

/** What the hub needs of a client connection. */
export interface PubSubClient {
  readonly id: number;
  /** RESP2, or RESP3 after HELLO 3 (push frames). */
  readonly proto: 2 | 3;
  pubsub: ClientSubscriptions | null;
  reserve(id: number): number;
  onReply(seq: number, reply: Buffer): void;
  readonly stream: { readonly queued: number };
  readonly isClosed: boolean;
  destroy(): void;
}

interface Entry {
  readonly clients: Set<PubSubClient>;
  /** The connections it is subscribed on now. */
  conns: SubscriberConnection[];
}

const KEYSPACE_PREFIXES = ['__keyspace@', '__keyevent@'];
const SUB_COMMAND: Record<PubSubKind, string> = { channel: 'SUBSCRIBE', pattern: 'PSUBSCRIBE', shard: 'SSUBSCRIBE' };
const UNSUB_COMMAND: Record<PubSubKind, string> = { channel: 'UNSUBSCRIBE', pattern: 'PUNSUBSCRIBE', shard: 'SUNSUBSCRIBE' };
const KINDS: PubSubKind[] = ['channel', 'pattern', 'shard'];
const RECONNECT_MS = 250;

/** Slot of a channel name as Redis Cluster computes it (CRC16, hash tags honoured). */
export function channelSlot(name: Buffer): number {
  return calculateSlot(name);
}

/** Channels (and patterns) of keyspace notifications live on every shard. */
export function isKeyspaceName(name: string): boolean {
  return name.startsWith(KEYSPACE_PREFIXES[0]) || name.startsWith(KEYSPACE_PREFIXES[1]);
}

export class PubSubHub implements MessageSink {
  private readonly entries: Record<PubSubKind, Map<string, Entry>> = { channel: new Map(), pattern: new Map(), shard: new Map() };
  /** By shard index of the routing in force; null until used. */
  private conns: Array<SubscriberConnection | null> = [];
  private reconnectTimer: TimerHandle | null = null;
  private closed = false;
  /** Subscribed clients disconnected for a full output (for INFO / tests). */
  slowClientsCut = 0;
  /** The most output one subscribed client had left after a write (what the limits bound; stats). */
  peakClientOutput = 0;

  constructor(
    private config: KvstoreConfig,
    private readonly router: Router,
    private readonly log: Logger,
    private readonly nativeIo: boolean,
    private readonly io: DataPathIo,
  ) {}

  /** Local subscribers of `name` (PUBSUB NUMSUB). */
  localCount(kind: PubSubKind, name: string): number {
    return this.entries[kind].get(name)?.clients.size ?? 0;
  }

  /** Whether this worker's connection to shard `index` is subscribed to `name`. */
  subscribedOn(kind: PubSubKind, name: string, index: number): boolean {
    const conn = this.conns[index];
    const entry = this.entries[kind].get(name);
    return conn != null && entry !== undefined && entry.conns.includes(conn);
  }

  /** Open subscriber connections (tests, CLIENT LIST accounting). */
  get connectionCount(): number {
    return this.conns.filter((c) => c !== null && c.open).length;
  }

  /** The shard(s) where `name` of `kind` lives, as indices of the routing in force. */
  placement(kind: PubSubKind, name: string): number[] {
    const shards = this.router.shards;
    if (kind === 'pattern' || (kind === 'channel' && isKeyspaceName(name))) return shards.map((s) => s.index);
    const shard = this.router.slotTable[channelSlot(Buffer.from(name, 'latin1'))];
    return shard < shards.length ? [shard] : [];
  }

  /**
   * SUBSCRIBE / PSUBSCRIBE / SSUBSCRIBE `names` for `client`; its confirmation (one frame per name,
   * with its own counts) answers slot `seq` once the shards have the subscriptions.
   */
  subscribe(client: PubSubClient, kind: PubSubKind, names: Buffer[], seq: number): void {
    const subs = (client.pubsub ??= new ClientSubscriptions());
    const own = subs[kind];
    const frames: Buffer[] = [];
    const touched = new Set<SubscriberConnection>();
    for (const raw of names) {
      const name = raw.toString('latin1');
      if (!own.has(name)) {
        own.add(name);
        let entry = this.entries[kind].get(name);
        if (entry === undefined) {
          entry = { clients: new Set(), conns: [] };
          this.entries[kind].set(name, entry);
          entry.conns = this.placement(kind, name).map((i) => this.connection(i));
          for (const conn of entry.conns) conn.send(SUB_COMMAND[kind], [name]);
        }
        entry.clients.add(client);
        for (const conn of entry.conns) touched.add(conn);
      }
      frames.push(subscribeFrame(kind, raw, subs.countFor(kind), client.proto));
    }
    const reply = Buffer.concat(frames);
    let waiting = touched.size + 1;
    const done = () => {
      if (--waiting === 0) client.onReply(seq, reply);
    };
    for (const conn of touched) conn.barrier(done);
    done();
  }

  /** UNSUBSCRIBE / PUNSUBSCRIBE / SUNSUBSCRIBE `names` (none = all of this kind) for `client`. */
  unsubscribe(client: PubSubClient, kind: PubSubKind, names: Buffer[], seq: number): void {
    const subs = client.pubsub;
    const own = subs?.[kind];
    if (names.length === 0) {
      if (subs == null || own!.size === 0) return client.onReply(seq, unsubscribeFrame(kind, null, subs?.countFor(kind) ?? 0, client.proto));
      names = [...own!].map((n) => Buffer.from(n, 'latin1'));
    }
    const frames: Buffer[] = [];
    for (const raw of names) {
      const name = raw.toString('latin1');
      if (own?.delete(name)) this.release(client, kind, name);
      frames.push(unsubscribeFrame(kind, raw, subs?.countFor(kind) ?? 0, client.proto));
    }
    if (subs != null && subs.total === 0) client.pubsub = null;
    client.onReply(seq, Buffer.concat(frames));
  }

  /** The client is gone or RESET: every subscription of it ends. */
  dropClient(client: PubSubClient): void {
    const subs = client.pubsub;
    if (subs === null) return;
    client.pubsub = null;
    for (const kind of KINDS) for (const name of subs[kind]) this.release(client, kind, name);
  }

  private release(client: PubSubClient, kind: PubSubKind, name: string): void {
    const entry = this.entries[kind].get(name);
    if (entry === undefined || !entry.clients.delete(client) || entry.clients.size > 0) return;
    this.entries[kind].delete(name);
    for (const conn of entry.conns) conn.send(UNSUB_COMMAND[kind], [name]);
  }

  /* ---------- messages ---------- */

  onMessage(kind: PubSubKind, name: string, buf: Buffer, start: number, end: number): void {
    const entry = this.entries[kind].get(name);
    if (entry === undefined) return;
    const frame = buf.subarray(start, end);
    let push: Buffer | null = null; // the RESP3 form, made once per message when a RESP3 client listens
    for (const client of entry.clients) {
      if (client.isClosed) continue;
      client.onReply(client.reserve(-1), client.proto === 2 ? frame : (push ??= asPush(frame)));
    }
  }

  /**
   * Redis's client-output-buffer-limit pubsub: a hard limit, and a soft limit held for a time.
   * Called after each write to a subscribed client with what the kernel did not take (so the
   * output of one turn is not mistaken for a slow reader); over a limit, the client is closed
   * (returns true).
   */
  checkOutput(client: PubSubClient, queued: number): boolean {
    const subs = client.pubsub;
    if (subs === null) return false;
    if (queued > this.peakClientOutput) this.peakClientOutput = queued;
    const limits = this.config.limits;
    let cut = queued > limits.pubsubOutputHardBytes;
    if (!cut && limits.pubsubOutputSoftBytes > 0 && queued > limits.pubsubOutputSoftBytes) {
      const now = this.io.clock.now();
      if (subs.softSince === 0) subs.softSince = now;
      else cut = now - subs.softSince >= limits.pubsubOutputSoftSeconds * 1000;
    } else subs.softSince = 0;
    if (!cut) return false;
    this.slowClientsCut++;
    this.log.warn({ client: client.id, queued }, 'subscribed client disconnected: output buffer over the pub/sub limit');
    this.dropClient(client);
    client.destroy();
    return true;
  }

  stats(): PubSubStats {
    return { subscriberConnections: this.connectionCount, slowClientsCut: this.slowClientsCut, peakClientOutput: this.peakClientOutput };
  }

  /* ---------- connections and topology ---------- */

  private connection(index: number): SubscriberConnection {
    const existing = this.conns[index];
    if (existing != null && existing.open) return existing;
    const shard = this.router.shards[index];
    const c = this.config;
    const conn = new SubscriberConnection(
      index,
      { shard: shard.name, address: shard.address, username: c.backend.username, password: c.backend.password, connectMs: c.timeouts.connectMs, nativeIo: this.nativeIo },
      this,
      this.log,
      this.io,
    );
    this.conns[index] = conn;
    return conn;
  }

  onSubscriberClosed(conn: SubscriberConnection): void {
    if (this.conns[conn.index] === conn) this.conns[conn.index] = null;
    if (!this.closed && this.reconnectTimer === null && this.hasEntries()) {
      this.reconnectTimer = this.io.clock.setTimeout(() => {
        this.reconnectTimer = null;
        this.reconcile();
      }, RECONNECT_MS);
    }
  }

  private hasEntries(): boolean {
    return KINDS.some((k) => this.entries[k].size > 0);
  }

  /**
   * A new routing is in force (Router.apply ran): connections to shards whose name or master
   * changed are closed, and every subscription whose placement changed is moved. Messages
   * published between the slot move and the new SUBSCRIBE taking effect are not seen.
   */
  applyTopology(): void {
    const shards = this.router.shards;
    const old = this.conns;
    const next: Array<SubscriberConnection | null> = shards.map(() => null);
    for (const conn of old) {
      if (conn == null || !conn.open) continue;
      const i = shards.findIndex((s) => s.name === conn.options.shard && s.address === conn.options.address);
      if (i >= 0 && next[i] === null) {
        conn.index = i;
        next[i] = conn;
      } else conn.close();
    }
    this.conns = next;
    this.reconcile();
  }

  /** Subscribe every name where it should be and is not (and unsubscribe where it no longer should be). */
  reconcile(): void {
    if (this.closed) return;
    for (const kind of KINDS) {
      for (const [name, entry] of this.entries[kind]) {
        const target = this.placement(kind, name).map((i) => this.connection(i));
        for (const conn of entry.conns) if (conn.open && !target.includes(conn)) conn.send(UNSUB_COMMAND[kind], [name]);
        for (const conn of target) if (!entry.conns.includes(conn)) conn.send(SUB_COMMAND[kind], [name]);
        entry.conns = target;
      }
    }
  }

  applyConfig(config: KvstoreConfig): void {
    this.config = config;
  }

  close(): void {
    this.closed = true;
    if (this.reconnectTimer) this.io.clock.clearTimer(this.reconnectTimer);
    for (const conn of this.conns) conn?.close();
    this.conns = [];
  }
}
