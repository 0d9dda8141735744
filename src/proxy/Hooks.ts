/**
 * Two seams other parts of Kvstore plug into; both are null by default and cost one check per
 * command when unused (docs/ARCHITECTURE.md, "Proxy seams").
 *
 * - migration: resharding. Router.migrating[slot] is 1 for slots in `snapshot.migrations`. A
 *   command with a key in such a slot is handed to `hooks.migration` instead of being forwarded;
 *   the hook (src/proxy/Migration*.ts) may move the key first (MIGRATE from the old owner) and
 *   then send the command where it now lives. It returns the reply, or null to let the proxy
 *   forward the command normally.
 * - keyRewrite: key renaming. Every command with keys is offered to `hooks.keyRewrite`, which may
 *   return new arguments; the proxy re-encodes them and routes the result as if the client had
 *   sent it (slots are recomputed, so the rewritten keys decide the shard).
 */

/** A command materialized for slow paths (copies of arguments that the hook may keep). */
export interface SlowCommand {
  /** Lowercase table name (`get`, `object|encoding`), or '' for unknown commands. */
  name: string;
  /** All arguments, the command name first. */
  args: Buffer[];
  /** Positions in `args` of the key arguments, and each key's slot. */
  keyIndexes: number[];
  keySlots: number[];
  /** The command exactly as the client sent it (RESP or inline bytes). */
  raw: Buffer;
}

/** What a hook may do with shards. */
export interface ShardAccess {
  readonly epoch: number;
  shardCount(): number;
  shardName(index: number): string;
  shardAddress(index: number): string;
  /** The shard index the routing table gives `slot` (0xffff = nobody). */
  shardOfSlot(slot: number): number;
  /** Current owner/destination of a migrating slot, as names, if the slot is migrating. */
  migrationOf(slot: number): { from: string; to: string } | null;
  /**
   * Send one RESP command to a shard (on the connection this client is pinned to, so it stays
   * ordered with the client's other commands there) and get its reply (a copy).
   */
  send(shardIndex: number, command: Buffer): Promise<Buffer>;
  /** Encode arguments as a RESP command. */
  encode(args: ReadonlyArray<Buffer | string>): Buffer;
}

export type MigrationHook = (command: SlowCommand, shards: ShardAccess) => Promise<Buffer> | null;
export type KeyRewriteHook = (command: SlowCommand) => Buffer[] | null;

export interface ProxyHooks {
  migration: MigrationHook | null;
  keyRewrite: KeyRewriteHook | null;
}
