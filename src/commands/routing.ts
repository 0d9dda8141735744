/**
 * Routing rules: which class each Redis command falls in. Explicit lists first (commands the
 * proxy answers, fans out or refuses, each refusal with its reason), then the key specs decide
 * between single-key, same-slot multi-key and keyless. Used by scripts/gen-command-table.ts to
 * write the class into commands.json, so the table file is the one place to read it.
 */
import type { CommandEntry, MergeKindName, RoutingClass } from './types';

/** The split commands and how their sub-replies merge (the only list of them: native and the
 * reference read it from commands.json through compileForNative). */
const SPLIT: Record<string, MergeKindName> = { mget: 'array', mset: 'allok', del: 'sum', exists: 'sum', unlink: 'sum', touch: 'sum' };

const PROXY = [
  'ping', 'echo', 'quit', 'select', 'auth', 'hello', 'info', 'dbsize', 'randomkey', 'scan', 'keys',
  'flushdb', 'flushall', 'time', 'reset', 'readonly', 'readwrite',
  'client|setname', 'client|getname', 'client|id', 'client|info', 'client|help', 'client|no-evict', 'client|no-touch', 'client|reply',
  'client|list', 'client|pause', 'client|unpause',
  'config|get',
  // users come from the proxy's config (src/security); the SLOWLOG is the proxy's own (src/observability)
  'acl|whoami', 'acl|list', 'acl|users', 'acl|getuser', 'acl|cat', 'acl|genpass', 'acl|help', 'acl|setuser',
  'acl|deluser', 'acl|dryrun', 'acl|load', 'acl|save', 'acl|log',
  'slowlog|get', 'slowlog|len', 'slowlog|reset', 'slowlog|help',
  'command', 'command|count', 'command|info', 'command|docs', 'command|list', 'command|getkeys', 'command|getkeysandflags', 'command|help',
];

/**
 * On a backend connection of the client's own (src/proxy/dedicated/): the transaction commands,
 * WAIT, the CLIENT subcommands that act on the proxy's clients, and (below) every command Redis
 * flags `blocking` (XREAD/XREADGROUP block only with BLOCK; without it they are ordinary reads).
 */
const DEDICATED = ['multi', 'exec', 'discard', 'watch', 'unwatch', 'wait', 'client|kill', 'client|unblock'];

/** Pub/sub, placed by channel slot and multiplexed per worker (src/proxy/pubsub/). */
const PUBSUB = ['subscribe', 'psubscribe', 'unsubscribe', 'punsubscribe', 'ssubscribe', 'sunsubscribe', 'publish', 'spublish'];

const ALL_SHARDS = [
  'script|load', 'script|flush', 'script|exists', 'script|kill',
  'function|load', 'function|delete', 'function|flush', 'function|restore',
  'function|list', 'function|dump', 'function|stats', 'function|kill',
];

const REFUSED: Record<string, string> = {};
function refuse(reason: string, names: string[]) {
  for (const n of names) REFUSED[n] = reason;
}
refuse('it concerns a single server, not the cluster; run it on the shard directly', [
  'monitor', 'sync', 'psync', 'replconf', 'replicaof', 'slaveof', 'shutdown', 'debug', 'config', 'save', 'bgsave',
  'bgrewriteaof', 'lastsave', 'failover', 'module', 'acl', 'latency', 'slowlog', 'role', 'swapdb', 'move',
  'migrate', 'restore-asking', 'pfdebug', 'pfselftest', 'memory|doctor', 'memory|malloc-stats', 'memory|purge',
  'memory|stats', 'lolwut', 'asking', 'sentinel',
]);
refuse('Kvstore is not a Redis Cluster node; it is the cluster', ['cluster']);
refuse("shard settings are changed on each shard directly, Kvstore's own in its config file (kvstore ctl reload)", [
  'config|set', 'config|rewrite', 'config|resetstat',
]);
refuse('client-side caching (CLIENT TRACKING) is not supported by Kvstore yet', [
  'client|tracking', 'client|trackinginfo', 'client|getredir', 'client|caching',
]);
refuse('client management is per server; Kvstore supports CLIENT SETNAME, GETNAME, ID, INFO, LIST, KILL, UNBLOCK, PAUSE, UNPAUSE, REPLY, NO-EVICT, NO-TOUCH', ['client']);
refuse('script debugging needs one server; run it on the shard directly', ['script', 'script|debug', 'function']);

function keyCount(entry: Pick<CommandEntry, 'keySpecs'>): 'none' | 'one' | 'many' {
  const specs = entry.keySpecs;
  if (specs.length === 0) return 'none';
  if (specs.length > 1) return 'many';
  const [spec] = specs;
  if (spec.begin !== 'unknown' && 'index' in spec.begin && spec.find !== 'unknown' && 'lastKey' in spec.find && spec.find.lastKey === 0) return 'one';
  return 'many';
}

export function classify(entry: Pick<CommandEntry, 'name' | 'flags' | 'keySpecs'>): { routing: RoutingClass; merge?: MergeKindName; reason?: string } {
  const { name } = entry;
  if (Object.hasOwn(SPLIT, name)) return { routing: 'split', merge: SPLIT[name] };
  if (PROXY.includes(name)) return { routing: 'proxy' };
  if (ALL_SHARDS.includes(name)) return { routing: 'allshards' };
  if (PUBSUB.includes(name) || name === 'pubsub' || name.startsWith('pubsub|')) return { routing: 'pubsub' };
  if (DEDICATED.includes(name) || entry.flags.includes('blocking')) return { routing: 'dedicated' };
  if (name in REFUSED) return { routing: 'unsupported', reason: REFUSED[name] };
  // A subcommand of a refused container is refused for the same reason (CONFIG GET, ACL ...).
  const container = name.split('|')[0];
  if (container !== name && container in REFUSED && !(name in REFUSED)) return { routing: 'unsupported', reason: REFUSED[container] };
  switch (keyCount(entry)) {
    case 'one':
      return { routing: 'single' };
    case 'many':
      return { routing: 'sameslot' };
    default:
      return { routing: 'nokey' };
  }
}
