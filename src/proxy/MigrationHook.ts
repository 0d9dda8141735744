/**
 * The worker's side of online resharding, plugged into the proxy's migration seam
 * (src/proxy/Hooks.ts: the proxy hands over every command with a key in a migrating slot).
 *
 * While a slot migrates from A to B, a command on one of its keys runs on B after the key was
 * moved there: `MIGRATE B "" 0 timeout [AUTH ...] KEYS k...` on A (a missing key is fine: it
 * already moved, or does not exist). A multi-key command moves all its keys in one MIGRATE per
 * (A, B) pair. The MIGRATE goes over the client's own pinned connection to A, so it is ordered
 * after anything this client sent A earlier; the command is then sent on the client's pinned
 * connection to B as soon as MIGRATE's reply arrives, which keeps the client's pipelined
 * commands on migrating keys in order (A answers MIGRATEs in order).
 *
 * If the keys end up on different shards (MGET/DEL/... over several shards, some migrating),
 * the command is split here per shard and the replies merged, like the proxy's fast path does.
 */
import { MigrateAuth, migrateKeys, SourceExec } from '../reshard/migrateKeys';
import { RedisReplyError } from '../errors';
import { parseReply, replyEnd } from '../resp';
import { errorReply } from './ErrorReply';

/* Structural view of the seam types in ./Hooks.ts (kept local so this file builds alone). */
export interface MigrationCommand {
  name: string;
  args: Buffer[];
  keyIndexes: number[];
  keySlots: number[];
  raw: Buffer;
}
export interface MigrationShardAccess {
  shardCount(): number;
  shardName(index: number): string;
  shardAddress(index: number): string;
  shardOfSlot(slot: number): number;
  migrationOf(slot: number): { from: string; to: string } | null;
  send(shardIndex: number, command: Buffer): Promise<Buffer>;
  encode(args: ReadonlyArray<Buffer | string>): Buffer;
}

export interface MigrationHookOptions {
  auth: MigrateAuth;
  /** MIGRATE's own timeout for the A→B transfer (ms). */
  timeoutMs: number;
}

export interface MigrationHookStats {
  commands: number;
  migrateCalls: number;
  keysMoved: number;
  staleDeleted: number;
  errors: number;
}

const NO_SHARD = 0xffff;


/** Run on a shard through the seam; error replies become RedisReplyError (for migrateKeys). */
function execOn(shards: MigrationShardAccess, index: number): SourceExec {
  return async (args) => {
    const reply = await shards.send(index, shards.encode(args.map((a) => (Buffer.isBuffer(a) ? a : String(a)))));
    const address = shards.shardAddress(index);
    const parsed = parseReply(reply, 0, { address });
    if (!parsed) throw new RedisReplyError('ERR incomplete reply', address);
    if (parsed.value instanceof RedisReplyError) throw parsed.value;
    return parsed.value;
  };
}

function shardIndexByName(shards: MigrationShardAccess, name: string): number {
  const n = shards.shardCount();
  for (let i = 0; i < n; i++) if (shards.shardName(i) === name) return i;
  return -1;
}

/** Commands the proxy splits by shard, and how their sub-replies merge. */
const SPLIT: Record<string, 'array' | 'sum' | 'ok'> = { mget: 'array', del: 'sum', exists: 'sum', unlink: 'sum', touch: 'sum', mset: 'ok' };

export class MigrationHook {
  readonly stats: MigrationHookStats = { commands: 0, migrateCalls: 0, keysMoved: 0, staleDeleted: 0, errors: 0 };

  constructor(private options: MigrationHookOptions) {}

  setOptions(options: MigrationHookOptions): void {
    this.options = options;
  }

  /** The seam function: `proxy.hooks.migration = hook.handle`. */
  readonly handle = (command: MigrationCommand, shards: MigrationShardAccess): Promise<Buffer> | null => {
    const target = new Array<number>(command.keyIndexes.length);
    const groups = new Map<string, { from: number; to: number; keys: Buffer[] }>();
    for (let k = 0; k < command.keyIndexes.length; k++) {
      const slot = command.keySlots[k];
      const m = shards.migrationOf(slot);
      if (!m) {
        target[k] = shards.shardOfSlot(slot);
        continue;
      }
      const from = shardIndexByName(shards, m.from);
      const to = shardIndexByName(shards, m.to);
      if (from < 0 || to < 0) return Promise.resolve(errorReply(`ERR Kvstore: migration of slot ${slot} names an unknown shard`));
      target[k] = to;
      const id = `${from}>${to}`;
      let g = groups.get(id);
      if (!g) groups.set(id, (g = { from, to, keys: [] }));
      g.keys.push(command.args[command.keyIndexes[k]]);
    }
    if (groups.size === 0) return null; // nothing migrating any more: the normal path
    this.stats.commands++;
    return this.moveThenRun(command, shards, [...groups.values()], target);
  };

  private async moveThenRun(command: MigrationCommand, shards: MigrationShardAccess, groups: Array<{ from: number; to: number; keys: Buffer[] }>, target: number[]): Promise<Buffer> {
    try {
      for (const g of groups) {
        this.stats.migrateCalls++;
        const outcome = await migrateKeys(execOn(shards, g.from), shards.shardAddress(g.to), g.keys, this.options.timeoutMs, this.options.auth);
        this.stats.keysMoved += outcome.moved;
        this.stats.staleDeleted += outcome.staleDeleted;
      }
    } catch (err) {
      this.stats.errors++;
      // Not running the command on B: it could read a miss for a key still on A.
      return errorReply(`ERR Kvstore: moving the key for an ongoing migration failed (${(err as Error).message}); retry`);
    }
    const first = target[0];
    if (target.every((t) => t === first)) {
      if (first === NO_SHARD) return errorReply('ERR Kvstore: no shard serves this slot');
      return shards.send(first, command.raw);
    }
    return this.splitAndMerge(command, shards, target);
  }

  /** Keys on several shards: one sub-command per shard, replies merged as the fast path does. */
  private async splitAndMerge(command: MigrationCommand, shards: MigrationShardAccess, target: number[]): Promise<Buffer> {
    const kind = SPLIT[command.name];
    if (!kind) return errorReply("CROSSSLOT Keys in request don't hash to the same slot (some are being migrated)");
    const perShard = new Map<number, number[]>(); // shard → positions in keyIndexes
    target.forEach((t, k) => perShard.set(t, [...(perShard.get(t) ?? []), k]));
    const name = command.args[0];
    const subs = [...perShard].map(([shard, ks]) => {
      const args: Buffer[] = [name];
      for (const k of ks) {
        args.push(command.args[command.keyIndexes[k]]);
        if (kind === 'ok') args.push(command.args[command.keyIndexes[k] + 1]); // MSET value
      }
      return { shard, ks, reply: shards.send(shard, shards.encode(args)) };
    });
    const replies = await Promise.all(subs.map((s) => s.reply));
    const parsed = replies.map((r) => parseReply(r, 0));
    for (let i = 0; i < parsed.length; i++) {
      const p = parsed[i];
      if (!p || p.value instanceof RedisReplyError) return replies[i];
    }
    if (kind === 'sum') return Buffer.from(`:${parsed.reduce((n, p) => n + Number(p!.value), 0)}\r\n`);
    if (kind === 'ok') return Buffer.from('+OK\r\n');
    // MGET: put each value back at its key's position.
    const values = new Array<Buffer>(target.length);
    subs.forEach((s, i) => {
      const reply = replies[i];
      // Walk the array reply's elements as raw bytes.
      let pos = reply.indexOf('\r\n') + 2;
      for (const k of s.ks) {
        const end = replyEnd(reply, pos);
        values[k] = reply.subarray(pos, end);
        pos = end;
      }
    });
    return Buffer.concat([Buffer.from(`*${values.length}\r\n`), ...values]);
  }
}
