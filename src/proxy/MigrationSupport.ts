/**
 * Installs the resharding hook (MigrationHook) on a ProxyServer's migration seam and orders it
 * against topology changes. Two barriers keep every key's history linear:
 *
 * - Start: the primary first announces migrations as `pending`. Commands on those slots are held
 *   here (sent to neither shard) until the migration is activated, so when keys start moving no
 *   request sent to the old owner under an earlier epoch is still in flight.
 * - Change: a topology that changes the migrations (a slot handed over, a job started) is applied
 *   only once the hook commands already moving keys have been sent on; commands arriving
 *   meanwhile are held and released, in order, right after the new routing is in place. So a
 *   client's pipelined command can never overtake its earlier one on the same key across a
 *   hand-over.
 *
 * Held commands fail with a retryable -ERR after the request timeout.
 */
import type { KvstoreConfig } from '../config/types';
import { SLOT_COUNT, TopologySnapshot } from '../topology/types';
import { errorReply, messageOf } from './ErrorReply';
import type { ProxyHooks } from './Hooks';
import { MigrationCommand, MigrationHook, MigrationHookOptions, MigrationShardAccess } from './MigrationHook';

const MIGRATION_STARTING = errorReply('ERR Kvstore: a slot migration is starting, retry');
const SLOTS_CHANGED = errorReply("ERR Kvstore: the keys' slots changed shards while the command waited, retry");

type SupportConfig = Pick<KvstoreConfig, 'backend' | 'timeouts'>;

function hookOptions(config: SupportConfig): MigrationHookOptions {
  return {
    auth: { username: config.backend.username, password: config.backend.password },
    // MIGRATE must finish well within the client's request timeout (it is part of the request).
    timeoutMs: Math.max(100, Math.floor(config.timeouts.requestMs / 2)),
  };
}

interface Held {
  command: MigrationCommand;
  shards: MigrationShardAccess;
  resolve: (reply: Buffer | PromiseLike<Buffer>) => void;
  timer: NodeJS.Timeout;
}

function migrationsKey(snapshot: TopologySnapshot): string {
  return JSON.stringify(snapshot.migrations);
}

export class MigrationSupport {
  readonly hook: MigrationHook;
  private readonly pendingSlots = new Uint8Array(SLOT_COUNT);
  private anyPending = false;
  private inFlight = 0;
  private drained: Array<() => void> = [];
  private holding = false;
  private held: Held[] = [];
  private applying: Promise<void> = Promise.resolve();
  private currentMigrations = '[]';
  private requestMs: number;
  /** Commands held at a barrier so far (stats). */
  heldTotal = 0;

  constructor(hooks: ProxyHooks | { migration: unknown }, config: SupportConfig) {
    this.hook = new MigrationHook(hookOptions(config));
    this.requestMs = config.timeouts.requestMs;
    (hooks as { migration: unknown }).migration = this.handle;
  }

  applyConfig(config: SupportConfig): void {
    this.hook.setOptions(hookOptions(config));
    this.requestMs = config.timeouts.requestMs;
  }

  /** The seam function. */
  readonly handle = (command: MigrationCommand, shards: MigrationShardAccess): Promise<Buffer> | null => {
    if (this.holding || (this.anyPending && command.keySlots.some((s) => this.pendingSlots[s] === 1))) return this.hold(command, shards);
    return this.run(command, shards);
  };

  private run(command: MigrationCommand, shards: MigrationShardAccess): Promise<Buffer> | null {
    const pending = this.hook.handle(command, shards);
    if (pending === null) return null;
    this.inFlight++;
    const done = () => {
      if (--this.inFlight === 0) {
        const waiters = this.drained;
        this.drained = [];
        for (const w of waiters) w();
      }
    };
    // Counted until the command was sent on to its shard (the hook resolves with its reply).
    return pending.finally(done);
  }

  private hold(command: MigrationCommand, shards: MigrationShardAccess): Promise<Buffer> {
    this.heldTotal++;
    return new Promise<Buffer>((resolve) => {
      const entry: Held = {
        command,
        shards,
        resolve,
        timer: setTimeout(() => {
          this.held = this.held.filter((h) => h !== entry);
          resolve(MIGRATION_STARTING);
        }, this.requestMs),
      };
      this.held.push(entry);
    });
  }

  /** Release held commands whose slots are no longer pending, in arrival order. */
  private release(): void {
    const still: Held[] = [];
    for (const h of this.held) {
      if (this.holding || (this.anyPending && h.command.keySlots.some((s) => this.pendingSlots[s] === 1))) {
        still.push(h);
        continue;
      }
      clearTimeout(h.timer);
      const routed = this.run(h.command, h.shards);
      if (routed) routed.then(h.resolve, (err: unknown) => h.resolve(errorReply('ERR Kvstore: ', messageOf(err))));
      else h.resolve(this.forwardDirect(h.command, h.shards));
    }
    this.held = still;
  }

  /** A held command whose slots stopped migrating: send it where the routing table says. */
  private forwardDirect(command: MigrationCommand, shards: MigrationShardAccess): Promise<Buffer> | Buffer {
    const targets = new Set(command.keySlots.map((s) => shards.shardOfSlot(s)));
    if (targets.size === 1) {
      const [target] = targets;
      if (target !== 0xffff) return shards.send(target, command.raw);
    }
    return SLOTS_CHANGED;
  }

  private noteTopology(snapshot: TopologySnapshot): void {
    this.pendingSlots.fill(0);
    this.anyPending = false;
    for (const m of snapshot.migrations) {
      if (!m.pending) continue;
      this.pendingSlots.fill(1, m.first, m.last + 1);
      this.anyPending = true;
    }
    this.currentMigrations = migrationsKey(snapshot);
  }

  /**
   * Apply a topology: `applyRouting` installs it in the router. Synchronous when nothing moves
   * keys right now or the migrations did not change; otherwise resolves once it is applied (the
   * worker acknowledges the epoch only then). Applications happen in arrival order.
   */
  applyTopology(snapshot: TopologySnapshot, applyRouting: () => void): void | Promise<void> {
    // Behind an earlier change that is still waiting, or a migration change while keys move.
    if (this.holding || (this.inFlight > 0 && migrationsKey(snapshot) !== this.currentMigrations)) return this.enqueue(snapshot, applyRouting);
    applyRouting();
    this.noteTopology(snapshot);
    this.release();
  }

  private enqueue(snapshot: TopologySnapshot, applyRouting: () => void): Promise<void> {
    this.holding = true;
    const step = this.applying.then(async () => {
      if (this.inFlight > 0) await new Promise<void>((r) => this.drained.push(r));
      applyRouting();
      this.noteTopology(snapshot);
    });
    this.applying = step.then(
      () => {
        if (this.applying === tail) {
          this.holding = false;
          this.release();
        }
      },
      () => undefined,
    );
    const tail = this.applying;
    return tail;
  }
}
