/**
 * The worker's dedicated backend connections: a few pre-connected idle ones per shard master
 * (so entering a transaction or a blocking command costs no connect), handed to one client at a
 * time, given back clean or closed.
 *
 * Idle connections: at least `dedicated.idlePerShard` per shard are kept connected. Under load
 * more are leased at once; those come back to the idle list too (a busy shard would otherwise
 * connect and close one per transaction), and every TRIM_MS the ones no lease needed during the
 * whole period (the list's low-water mark above idlePerShard) are closed.
 *
 * RESP3: a RESP3 client's connections must speak RESP3 (its replies pass through byte for byte),
 * so idle connections are kept per protocol: the RESP3 ones opened with `HELLO 3`, pre-connected
 * like the RESP2 ones from the worker's first RESP3 lease on (a worker with RESP2 clients only
 * never opens one). A connection whose client switched protocol while holding it comes back
 * under the protocol it speaks then (DedicatedConnection.proto), never under the other.
 *
 * Rules (see docs/ARCHITECTURE.md, "Dedicated connections"):
 * - at most `dedicated.maxConnections` leased per worker and `dedicated.maxPerClient` per client;
 *   past them `acquire` returns an -ERR reply at once (a client never waits for another's);
 * - a connection comes back only when its owner knows it is clean (no MULTI, no WATCH, nothing
 *   blocked or pending); anything else is closed, so a blocked command ends on the server too;
 * - a topology change closes idle connections to masters that are gone and fails leased ones
 *   whose shard went down or changed master; sessions are told so they can end blocked or
 *   transactional states on moved slots.
 */
import type { ConnectionActivity } from '../BackendActivity';
import type { KvstoreConfig } from '../../config/types';
import type { Logger } from '../../log';
import type { Clock, TimerHandle } from '../Clock';
import { DataPathIo, systemIo } from '../DataPathIo';
import { errorReply } from '../Resp';
import type { ShardRoute } from '../Router';
import type { UnblockTarget } from './types';
import { DedicatedConnection, DedicatedOptions } from './DedicatedConnection';

/** Whoever holds dedicated connections (a client's session): counted against maxPerClient. */
export interface DedicatedHolder {
  dedicatedHeld: number;
  /** The routing changed: end states on slots that moved (called for holders with leases). */
  topologyChanged(): void;
}

/** How often idle connections beyond idlePerShard that no lease needed are closed. */
const TRIM_MS = 10_000;

/** The idle list of a master for a protocol: RESP2 under the address itself, RESP3 apart. */
function idleKey(address: string, proto: 2 | 3): string {
  return proto === 2 ? address : `resp3 ${address}`;
}

export class DedicatedPool {
  /** Idle connections per master and protocol (idleKey). */
  private readonly idle = new Map<string, DedicatedConnection[]>();
  /** The protocols kept pre-connected: RESP2, and RESP3 once a RESP3 client leased one. */
  private readonly protos: Array<2 | 3> = [2];
  /** Per idle list (idleKey): the fewest idle connections seen since the last trim. */
  private readonly lowWater = new Map<string, number>();
  private trimTimer: TimerHandle | null = null;
  private readonly leased = new Map<DedicatedConnection, DedicatedHolder>();
  /** Active sessions by client id (CLIENT UNBLOCK finds its target here). */
  private readonly sessions = new Map<number, UnblockTarget>();
  private config: KvstoreConfig;
  private shards: ShardRoute[] = [];
  private closed = false;
  /** Counters for INFO / stats. */
  totalAcquired = 0;
  totalRefused = 0;
  totalClosedDirty = 0;

  constructor(
    config: KvstoreConfig,
    private readonly log: Logger,
    private readonly nativeIo: boolean,
    /** How streams are opened and timers set (fakes in unit tests). */
    private readonly io: DataPathIo = systemIo,
  ) {
    this.config = config;
  }

  /** The data path's clock (timers of sessions and WAIT). */
  get clock(): Clock {
    return this.io.clock;
  }

  /** The leased connections' requests in flight (health checks, src/proxy/BackendActivity.ts). */
  activity(): ConnectionActivity[] {
    return [...this.leased.keys()].map((c) => c.activity());
  }

  get leasedCount(): number {
    return this.leased.size;
  }

  get idleCount(): number {
    let n = 0;
    for (const list of this.idle.values()) n += list.length;
    return n;
  }

  register(clientId: number, session: UnblockTarget): void {
    this.sessions.set(clientId, session);
  }

  unregister(clientId: number): void {
    this.sessions.delete(clientId);
  }

  sessionOf(clientId: number): UnblockTarget | undefined {
    return this.sessions.get(clientId);
  }

  /** CLIENT UNBLOCK from another worker of this worker's client: true when it was unblocked. */
  unblockHere(clientId: number, mode: string): Promise<boolean> {
    return this.sessions.get(clientId)?.unblockFromElsewhere(mode) ?? Promise.resolve(false);
  }

  applyConfig(config: KvstoreConfig): void {
    this.config = config;
    this.refill();
  }

  /**
   * A connection to `shard`'s master for `holder` speaking `proto` (the client's), or an -ERR
   * reply (limit reached, shard down). The connection may still be connecting: commands sent
   * meanwhile go out once it is up.
   */
  acquire(shard: ShardRoute, holder: DedicatedHolder, proto: 2 | 3 = 2): DedicatedConnection | Buffer {
    const limits = this.config.dedicated;
    if (shard.downReply !== null) return shard.downReply;
    if (this.closed) return errorReply('ERR Kvstore is shutting down');
    if (this.leased.size >= limits.maxConnections) {
      this.totalRefused++;
      return errorReply(`ERR Kvstore: every dedicated backend connection of this worker is in use (dedicated.maxConnections = ${limits.maxConnections}); retry later`);
    }
    if (holder.dedicatedHeld >= limits.maxPerClient) {
      this.totalRefused++;
      return errorReply(`ERR Kvstore: this client already holds ${holder.dedicatedHeld} dedicated backend connections (dedicated.maxPerClient = ${limits.maxPerClient})`);
    }
    if (proto === 3) this.keepResp3();
    const key = idleKey(shard.address, proto);
    const list = this.idle.get(key);
    let conn: DedicatedConnection | undefined;
    while (list && list.length > 0 && conn === undefined) {
      const c = list.pop()!;
      if (c.open) conn = c;
    }
    if (list) this.lowWater.set(key, Math.min(this.lowWater.get(key) ?? list.length, list.length));
    if (conn === undefined) conn = this.connect(shard, proto);
    conn.onClosed = (c) => this.onLeasedClosed(c);
    this.leased.set(conn, holder);
    holder.dedicatedHeld++;
    this.totalAcquired++;
    this.refillSoon();
    return conn;
  }

  /**
   * Give `conn` back. `clean` = its owner knows the server holds no state for it (no MULTI, no
   * WATCH, no command pending): it may serve another client. Otherwise it is closed.
   */
  release(conn: DedicatedConnection, clean: boolean): void {
    const holder = this.leased.get(conn);
    if (holder === undefined) return;
    this.leased.delete(conn);
    holder.dedicatedHeld--;
    conn.onClosed = null;
    if (conn.proto === 3) this.keepResp3();
    // Filed under the protocol it speaks now: a RESP3 client's connection never serves a RESP2 one.
    const list = this.idle.get(idleKey(conn.address, conn.proto));
    const current = this.shards.some((s) => s.address === conn.address && s.downReply === null);
    if (clean && conn.open && conn.pending === 0 && current && !this.closed && list !== undefined) {
      conn.onClosed = (c) => this.dropIdle(c);
      list.push(conn);
      this.armTrim();
      return;
    }
    if (!clean) this.totalClosedDirty++;
    conn.close(clean ? 'returned to a full pool' : 'closed by the proxy: its state on the server is unknown');
  }

  /** From the first RESP3 lease on, RESP3 connections are kept pre-connected too. */
  private keepResp3(): void {
    if (this.protos.includes(3)) return;
    this.protos.push(3);
    this.openIdleLists();
  }

  /** An idle list for every live master and kept protocol. */
  private openIdleLists(): void {
    for (const s of this.shards) {
      if (s.downReply !== null) continue;
      for (const proto of this.protos) {
        const key = idleKey(s.address, proto);
        if (!this.idle.has(key)) this.idle.set(key, []);
      }
    }
  }

  /** Apply the routing of a new topology (called right after Router.apply). */
  applyTopology(shards: ShardRoute[]): void {
    this.shards = shards;
    const live = new Set(shards.filter((s) => s.downReply === null).map((s) => s.address));
    const liveKeys = new Set([...live].flatMap((address) => this.protos.map((proto) => idleKey(address, proto))));
    for (const [key, list] of this.idle) {
      if (liveKeys.has(key)) continue;
      this.idle.delete(key);
      this.lowWater.delete(key);
      for (const c of list.splice(0)) {
        c.onClosed = null;
        c.close('its shard left the topology or went down');
      }
    }
    this.openIdleLists();
    // Leased connections to a master that is gone or down: fail what is pending on them now.
    for (const conn of [...this.leased.keys()]) {
      if (live.has(conn.address)) continue;
      const successor = shards.find((s) => s.name === conn.shard);
      conn.fail(
        successor === undefined ? 'was removed from the topology: request aborted, retry'
          : successor.downReply !== null ? 'cannot be served now (marked down, or this proxy lost its fleet lease): request aborted, retry'
            : `master changed to ${successor.address}: request aborted, retry`,
      );
    }
    const holders = new Set(this.leased.values());
    for (const h of holders) h.topologyChanged();
    this.refill();
  }

  private refillTimer: TimerHandle | null = null;

  private armTrim(): void {
    if (this.trimTimer !== null || this.closed) return;
    this.trimTimer = this.io.clock.setInterval(() => this.trim(), TRIM_MS);
  }

  /** Close the idle connections above idlePerShard that stayed idle for a whole period. */
  private trim(): void {
    const keep = this.config.dedicated.idlePerShard;
    let above = 0;
    for (const [key, list] of this.idle) {
      const unused = Math.min(this.lowWater.get(key) ?? list.length, list.length) - keep;
      for (let i = 0; i < unused; i++) {
        const c = list.shift()!; // the oldest first: the list is used from its end
        c.onClosed = null;
        c.close('idle');
      }
      this.lowWater.set(key, list.length);
      above += Math.max(0, list.length - keep);
    }
    if (above === 0 && this.trimTimer !== null) {
      this.io.clock.clearTimer(this.trimTimer);
      this.trimTimer = null;
    }
  }

  private refillSoon(): void {
    if (this.refillTimer !== null || this.closed) return;
    this.refillTimer = this.io.clock.setTimeout(() => {
      this.refillTimer = null;
      this.refill();
    }, 0);
  }

  /** Top each live shard's idle lists (per kept protocol) up to `idlePerShard` pre-connected connections. */
  private refill(): void {
    if (this.closed) return;
    const want = this.config.dedicated.idlePerShard;
    for (const shard of this.shards) {
      if (shard.downReply !== null) continue;
      for (const proto of this.protos) {
        const list = this.idle.get(idleKey(shard.address, proto))!;
        for (let i = list.length - 1; i >= 0; i--) if (!list[i].open) list.splice(i, 1);
        while (list.length < want) {
          const c = this.connect(shard, proto);
          c.onClosed = (x) => this.dropIdle(x);
          list.push(c);
        }
      }
    }
  }

  private connect(shard: ShardRoute, proto: 2 | 3): DedicatedConnection {
    const c = this.config;
    const options: DedicatedOptions = {
      shard: shard.name,
      address: shard.address,
      username: c.backend.username,
      password: c.backend.password,
      connectMs: c.timeouts.connectMs,
      nativeIo: this.nativeIo,
      proto,
    };
    return new DedicatedConnection(options, this.log, this.io);
  }

  private dropIdle(conn: DedicatedConnection): void {
    const list = this.idle.get(idleKey(conn.address, conn.proto));
    if (list) {
      const i = list.indexOf(conn);
      if (i >= 0) list.splice(i, 1);
    }
    // An idle connection that dies (server restart) is replaced, without a reconnect storm.
    if (!this.closed) this.io.clock.setTimeout(() => this.refill(), 200);
  }

  private onLeasedClosed(conn: DedicatedConnection): void {
    const holder = this.leased.get(conn);
    if (holder === undefined) return;
    this.leased.delete(conn);
    holder.dedicatedHeld--;
  }

  /** Shutdown: close every connection (leased ones fail their pending requests). */
  close(): void {
    this.closed = true;
    if (this.refillTimer) this.io.clock.clearTimer(this.refillTimer);
    if (this.trimTimer) this.io.clock.clearTimer(this.trimTimer);
    for (const list of this.idle.values()) {
      for (const c of list.splice(0)) {
        c.onClosed = null;
        c.close('is shutting down');
      }
    }
    for (const c of [...this.leased.keys()]) c.fail('is shutting down');
  }
}
