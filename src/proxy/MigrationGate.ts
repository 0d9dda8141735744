/**
 * The worker's side of online resharding. While a slot is migrating from A to B (topology
 * `migrations`), a command on a key of that slot runs on B, after the key was moved there:
 * `MIGRATE B "" 0 timeout KEYS k...` on A (a missing key is fine: it is already on B or does not
 * exist). A multi-key command moves all its keys in one MIGRATE per (A, B) pair.
 *
 * Ordering contract for the proxy: call `prepare()` for a command whose slot `isMigrating()`,
 * forward it to `destinationIndex(slot)` only after the promise resolves, and keep the same
 * client's later commands behind it (so a pipelined GET after a SET sees the SET). If `prepare()`
 * rejects, answer the client with an error: running the command on B would read a stale miss.
 *
 * The MIGRATEs go over one pipelined control connection per source master, not the data path's
 * connections, so they never interleave with forwarded replies.
 */
import { MigrateAuth, migrateKeys } from '../reshard/migrateKeys';
import { RespClient } from '../reshard/RespClient';
import { NO_SHARD } from '../topology/slots';
import { SLOT_COUNT, TopologySnapshot } from '../topology/types';

export interface MigrationGateOptions {
  auth: MigrateAuth;
  /** MIGRATE's own timeout (ms) for the A→B transfer. */
  timeoutMs: number;
  /** Retries after a connection error (a retry resolves through BUSYKEY if the key already moved). */
  retries?: number;
}

export class MigrationGate {
  /** slot → index in `shards` of the source, NO_SHARD when the slot is not migrating. */
  private readonly source = new Uint16Array(SLOT_COUNT).fill(NO_SHARD);
  private readonly destination = new Uint16Array(SLOT_COUNT).fill(NO_SHARD);
  private masters: string[] = [];
  private readonly clients = new Map<string, RespClient>();
  private active = 0;
  /** Counters for stats. */
  keysMoved = 0;
  staleDeleted = 0;
  migrateCalls = 0;
  migrateErrors = 0;

  constructor(private options: MigrationGateOptions) {}

  setAuth(auth: MigrateAuth): void {
    this.options = { ...this.options, auth };
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  /** Take a new topology (call before routing by it, i.e. before acknowledging it). */
  update(snapshot: TopologySnapshot): void {
    this.source.fill(NO_SHARD);
    this.destination.fill(NO_SHARD);
    const index = new Map(snapshot.shards.map((s, i) => [s.name, i]));
    this.masters = snapshot.shards.map((s) => s.master);
    this.active = 0;
    for (const m of snapshot.migrations) {
      const from = index.get(m.from);
      const to = index.get(m.to);
      if (from === undefined || to === undefined) continue;
      this.source.fill(from, m.first, m.last + 1);
      this.destination.fill(to, m.first, m.last + 1);
      this.active += m.last - m.first + 1;
    }
    // Drop control connections to servers that are no longer masters.
    const live = new Set(this.masters);
    for (const [address, client] of this.clients) {
      if (!live.has(address)) {
        client.close();
        this.clients.delete(address);
      }
    }
  }

  /** True when some slot is migrating (a cheap check before looking at slots). */
  get anyMigrating(): boolean {
    return this.active > 0;
  }

  isMigrating(slot: number): boolean {
    return slot >= 0 && slot < SLOT_COUNT && this.source[slot] !== NO_SHARD;
  }

  /** Where a command on `slot` runs: the destination while migrating, else NO_SHARD (use the owner). */
  destinationIndex(slot: number): number {
    return slot >= 0 && slot < SLOT_COUNT ? this.destination[slot] : NO_SHARD;
  }

  /** Point the migrating slots of a routing table (slot → shard index) at their destinations. */
  applyToRoutingTable(table: Uint16Array): void {
    if (this.active === 0) return;
    for (let s = 0; s < SLOT_COUNT; s++) if (this.destination[s] !== NO_SHARD) table[s] = this.destination[s];
  }

  private client(address: string): RespClient {
    let c = this.clients.get(address);
    if (!c) {
      c = new RespClient(address, { username: this.options.auth.username, password: this.options.auth.password });
      this.clients.set(address, c);
    }
    return c;
  }

  /**
   * Move the given keys (with their slots) that sit in migrating slots to their destination.
   * Keys in other slots are ignored. Resolves when every such key is on its destination.
   */
  async prepare(keys: readonly Buffer[], slots: ArrayLike<number>): Promise<void> {
    if (this.active === 0) return;
    const groups = new Map<number, { from: number; to: number; keys: Buffer[] }>();
    for (let i = 0; i < keys.length; i++) {
      const slot = slots[i];
      if (!this.isMigrating(slot)) continue;
      const from = this.source[slot];
      const to = this.destination[slot];
      const id = from * 65536 + to;
      let g = groups.get(id);
      if (!g) groups.set(id, (g = { from, to, keys: [] }));
      g.keys.push(keys[i]);
    }
    if (groups.size === 0) return;
    await Promise.all([...groups.values()].map((g) => this.move(this.masters[g.from], this.masters[g.to], g.keys)));
  }

  private async move(from: string, to: string, keys: Buffer[]): Promise<void> {
    const retries = this.options.retries ?? 2;
    for (let attempt = 0; ; attempt++) {
      this.migrateCalls++;
      try {
        const outcome = await migrateKeys(this.client(from), to, keys, this.options.timeoutMs, this.options.auth);
        this.keysMoved += outcome.moved;
        this.staleDeleted += outcome.staleDeleted;
        return;
      } catch (err) {
        this.migrateErrors++;
        if (attempt >= retries) throw err;
        await new Promise((r) => setTimeout(r, 20 * (attempt + 1)));
      }
    }
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
