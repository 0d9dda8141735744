/**
 * Two seams other parts of Kvstore plug into; both are null by default and cost one check per
 * command when unused (docs/ARCHITECTURE.md, "Proxy seams").
 *
 * - migration: resharding. Router.migrating[slot] is 1 for slots in `snapshot.migrations`. A
 *   command with a key in such a slot is handed to `hooks.migration` instead of being forwarded;
 *   the hook (src/proxy/Migration*.ts) may move the key first (MIGRATE from the old owner) and
 *   then send the command where it now lives. It returns the reply, or null to let the proxy
 *   forward the command normally.
 * - keyRewrite: key renaming (src/keyrewrite/). While rules are active, each key of a keyed
 *   command is tested with `needsRewrite` on its raw bytes; only a command with a matching key is
 *   materialized and given to `rewrite`, which returns new arguments (re-encoded and routed as if
 *   the client had sent them; the slots stay the same) and optionally a reply mapper (commands
 *   that return key names), or a complete reply to send instead (an error). Null = no rules.
 * - keyNames: how names read back from the shards (SCAN, KEYS, RANDOMKEY) map to client names;
 *   installed even without rules, since derived names of removed rules must stay hidden.
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
export interface KeyRewriteHook {
  needsRewrite(buf: Buffer, start: number, end: number): boolean;
  rewrite(command: SlowCommand): { args: Buffer[]; mapReply?: (reply: Buffer) => Buffer } | Buffer | null;
}

export interface KeyNameView {
  /** True while rules are active (then SCAN MATCH / KEYS need the proxy to filter). */
  readonly active: boolean;
  /** A stored name → the client's name, or null when it must stay hidden. */
  reveal(stored: Buffer): Buffer | null;
  /** Stored names (maybe overlapping lists) → visible names, once each, matching `pattern`. */
  visibleNames(stored: Iterable<Buffer>, pattern?: Buffer): Buffer[];
  /** Could this raw reply contain a derived name (cheap byte search)? */
  mayHoldDerived(reply: Buffer): boolean;
  /** Patterns to run KEYS with on the shards for the client's `pattern`. */
  backendKeysPatterns(pattern: Buffer): Buffer[];
}

export interface ProxyHooks {
  migration: MigrationHook | null;
  keyRewrite: KeyRewriteHook | null;
  keyNames: KeyNameView | null;
}
