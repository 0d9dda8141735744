/** Shapes of the command table (src/commands/commands.json). */

/**
 * How the proxy routes a command:
 * - single: exactly one key → the shard owning its slot.
 * - split: MGET/MSET/DEL/EXISTS/UNLINK/TOUCH → split per shard, replies merged.
 * - sameslot: several keys → allowed only when all hash to one slot (Redis Cluster's rule).
 * - proxy: answered by the proxy itself (PING, AUTH, SCAN, INFO, ...).
 * - allshards: sent to every shard (SCRIPT LOAD, FUNCTION LOAD, ...).
 * - nokey: no key, harmless anywhere → the first shard.
 * - unsupported: refused with -ERR and `reason`.
 * - dedicated: needs a backend connection of the client's own (transactions, every command Redis
 *   flags `blocking`, WAIT, CLIENT KILL/UNBLOCK): src/proxy/dedicated/.
 * - pubsub: PUBLISH/SUBSCRIBE and friends, PUBSUB: placed by channel slot (src/proxy/pubsub/).
 */
export type RoutingClass = 'single' | 'split' | 'sameslot' | 'proxy' | 'allshards' | 'nokey' | 'unsupported' | 'dedicated' | 'pubsub';

/**
 * How the replies of a split command's sub-commands become the client's one reply:
 * - array: MGET, values reassembled in the client's key order;
 * - sum: DEL, EXISTS, UNLINK, TOUCH, integers summed;
 * - allok: MSET, +OK when every shard said OK, else the first error.
 */
export type MergeKindName = 'array' | 'sum' | 'allok';

export type BeginSearch = { index: number } | { keyword: string; startFrom: number } | 'unknown';
export type FindKeys = { lastKey: number; step: number; limit: number } | { keyNumIdx: number; firstKey: number; step: number } | 'unknown';

export interface KeySpec {
  flags: string[];
  begin: BeginSearch;
  find: FindKeys;
}

export interface CommandEntry {
  /** Lowercase; a subcommand is named `container|sub` as in Redis 7 (e.g. `object|encoding`). */
  name: string;
  container?: string;
  arity: number;
  flags: string[];
  keySpecs: KeySpec[];
  routing: RoutingClass;
  /** Only (and always) for routing 'split'. */
  merge?: MergeKindName;
  reason?: string;
}
