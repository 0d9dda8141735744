/**
 * Writes docs/commands.md from the command table (src/commands/commands.json): every Redis 7.0
 * command and subcommand with its routing class, plus the behaviour Kvstore deliberately differs
 * on. Usage: `npm run docs:commands` (or `npm run build && node dist/scripts/gen-commands-doc.js`).
 * `--check` exits 1 when the file on disk is out of date (for CI).
 */
import fs from 'node:fs';
import path from 'node:path';
import { commands as tableCommands, generatedFrom } from '../src/commands/table';
import type { CommandEntry, RoutingClass } from '../src/commands/types';
import { proxyCommandNames } from '../src/proxy/ProxyCommands';

/** The table as routed: ACL and SLOWLOG subcommands are answered by the proxy (src/proxy/CommandRoutes.ts). */
const commands: readonly CommandEntry[] = tableCommands;
import { BLOCKING_NOTE, DEDICATED_NOTES } from '../src/proxy/dedicated/commandKinds';
import { SORT_NOTES } from '../src/proxy/SortCommand';

const CLASS_TEXT: Record<RoutingClass, string> = {
  single: 'One key: sent unchanged to the shard that owns its slot.',
  split: 'Keys grouped per shard, one sub-command per shard, replies merged into exactly what one Redis would answer.',
  sameslot:
    "Several keys: run when they all hash to one slot (use {hash tags}), else `-CROSSSLOT Keys in request don't hash to the same slot`. With `crossSlot: shard`, keys on one shard suffice.",
  proxy: 'Answered by Kvstore itself, or assembled from every shard.',
  allshards: 'Sent to every shard; replies merged (first error, else the common reply).',
  pubsub: 'Pub/sub: a channel lives on the shard owning its slot (hash tags honoured); patterns and keyspace-notification channels on every shard; one subscriber connection per shard per worker. See the README.',
  nokey: 'No key: sent to the first shard that is up.',
  dedicated:
    'Transactions, blocking commands and WAIT: on a backend connection of the client\'s own, taken from a small per-worker pool of pre-connected ones (`dedicated.*` in docs/config.md), given back clean or closed. See "Transactions and blocking commands" below.',
  unsupported: 'Refused with `-ERR Kvstore does not support <COMMAND>: <reason>`.',
};

const ORDER: RoutingClass[] = ['single', 'split', 'sameslot', 'proxy', 'allshards', 'nokey', 'dedicated', 'pubsub', 'unsupported'];

/** How proxy-answered commands behave (by full name). */
const PROXY_NOTES: Record<string, string> = {
  ping: 'Answered by the proxy.',
  echo: 'Answered by the proxy.',
  quit: '+OK, then the connection closes.',
  reset: 'Clears the client name, READONLY, NO-EVICT and NO-TOUCH; back to RESP2 and to the default user (authenticated only if it is on and nopass).',
  readonly: 'As on a Redis Cluster node: this connection\'s read-only commands may be served by a replica (where: `readFrom`; with the default `master`, nothing changes). +OK.',
  readwrite: 'Ends READONLY: reads go to masters again. +OK.',
  select: 'Only database 0; `SELECT 1..15` gets `-ERR Kvstore supports only database 0`.',
  auth: '`AUTH <pw>` (the default user: `password`) and `AUTH <user> <pw>` (`users:` in the config, Redis ACL rules); also in `HELLO ... AUTH user pw`; `-WRONGPASS` as Redis.',
  acl: 'Users come from the config (`users:`): WHOAMI, LIST, USERS, GETUSER, CAT, GENPASS, HELP are answered by the proxy; SETUSER, DELUSER, LOAD, SAVE, DRYRUN, LOG answer `-ERR Kvstore: users are set in the config file ...` (change users with `kvstore ctl reload`).',
  slowlog: "The proxy's own SLOWLOG (time from first byte read to reply written, `slowlog.*`), for every worker (asked through the primary): GET merges their entries newest first (ids unique across workers), LEN sums their lengths (each keeps `slowlog.maxLen`), RESET clears them all. A worker that does not answer within 2 s is left out of GET/LEN (logged) and fails RESET.",
  hello: "`HELLO [2|3] [AUTH user pass] [SETNAME name]` with Redis 7.0's reply map: `id` is the proxy connection's, `mode` standalone, `role` master, `modules` empty. After `HELLO 3` the client's commands go to the shards over connections that spoke `HELLO 3` (one per shard per worker, opened on first use), so every reply is the shard's own RESP3; replies the proxy builds or merges use the RESP3 types Redis uses (maps, `_` nulls, verbatim INFO / CLIENT INFO).",
  info: "The first shard's INFO with a `# Proxy` section (native_enabled, epoch, clients, commands) and `# Keyspace` summed over all shards. `# Latencystats` (`INFO latencystats`, `all`, `everything`) is the proxy's: p50/p99/p99.9 per command from first byte read to reply written, every worker's histograms added up.",
  dbsize: 'Sum over all shards.',
  randomkey: 'A random key from a random non-empty shard.',
  scan: 'Shard by shard; the cursor carries the shard index in its low 10 bits. A full iteration returns every key, as SCAN guarantees.',
  keys: 'All shards, concatenated.',
  flushdb: 'All shards; refused when `allowFlush: false`.',
  flushall: 'All shards; refused when `allowFlush: false`.',
  time: "The proxy's clock.",
  'client|setname': 'Per proxy connection.',
  'client|getname': 'Per proxy connection.',
  'client|id': 'The proxy connection id.',
  'client|info': "The proxy connection, in CLIENT LIST's line format (see CLIENT LIST for its fields and flags). Inside MULTI it is refused (the proxy answers it, a shard cannot queue it); Redis queues it.",
  'client|list':
    "Every client of the proxy, all workers (asked through the primary), in Redis 7.0's line format with what a proxy knows of its own clients: id (unique across workers), addr, laddr (the proxy's listening address), name, age, idle, flags, db=0, sub / psub / ssub (its subscriptions at the proxy), multi (commands queued since MULTI, -1 outside), cmd (its last command, `client|list` style; `NULL` for none or an unknown one, as Redis), user, redir=-1, resp. Flags, in Redis's order: `P` subscribed, `x` in MULTI, `b` blocked (BLPOP / XREAD BLOCK ... and WAIT, while the proxy waits for the shard; also a client held by CLIENT PAUSE, whose cmd is then the held command, as Redis), `r` READONLY (as on a Redis Cluster node), `e` NO-EVICT, Redis 7.2's `T` NO-TOUCH, `N` for none. A subscribed client that sends an unknown command keeps its previous cmd (Redis: NULL), and an unknown subcommand shows the container (`client`; Redis: NULL). Not shown: `d` (a watched key changed: only the shard knows, at EXEC), `t` / `R` / `B` (no CLIENT TRACKING), `c` / `A` / `u` / `U` and replica or master flags (not states of a proxy client). fd=-1, and Redis's buffer fields (qbuf, qbuf-free, argv-mem, multi-mem, rbs, rbp, obl, oll, omem, tot-mem, events) are left out: they describe a redis-server's own buffers. `TYPE` and `ID` filters; `TYPE pubsub` lists none (the proxy's clients are all normal ones at the shards).",
  'client|kill':
    'The proxy\'s clients on every worker: `CLIENT KILL addr` and the ID / ADDR / LADDR / USER / SKIPME / TYPE filters, as Redis 7.0. A KILL that does not reach every worker within 2 s is an error.',
  'client|pause':
    'Every worker stops reading the commands the pause covers (`WRITE`: write commands and EVAL/EVALSHA/FCALL/PUBLISH; `ALL`: every command but CLIENT UNPAUSE) until it expires or CLIENT UNPAUSE; a held client waits at its first covered command, as in Redis. The shards are not paused.',
  'client|unpause': 'Every worker.',
  'client|no-evict':
    'ON / OFF (other values: Redis\'s `-ERR syntax error`) answered by the proxy and remembered per client: `e` in the CLIENT LIST / CLIENT INFO flags; RESET turns it off (as Redis 7.2). It changes nothing else: the proxy has no client eviction (`maxmemory-clients`) to exempt a client from, its own per-client bounds (`limits.*` in docs/config.md) apply whatever the flag, and the shards never see the client\'s connection.',
  'client|no-touch':
    'Redis 7.2\'s command, answered by the proxy (7.0 shards do not know it): ON / OFF (other values: Redis 7.2\'s `-ERR syntax error`) remembered per client, `T` in the CLIENT LIST / CLIENT INFO flags; RESET turns it off. It does **not** reach the shards: a client\'s commands travel on backend connections shared with other clients, which cannot carry one client\'s NO-TOUCH (and a 7.0 shard has no such mode), so the keys it reads still have their LRU/LFU touched (OBJECT IDLETIME goes back to 0, OBJECT FREQ counts) exactly as with NO-TOUCH OFF. Accepted so that clients which send it keep working; do not rely on it to keep a scan from refreshing keys.',
  'client|reply': 'ON, OFF and SKIP as Redis (OFF and SKIP themselves get no reply).',
  command: 'Answered by a shard (all shards run the same Redis).',
  'config|get':
    "The first shard's answer (Redis's names, glob patterns, order), with the proxy's own values for `databases` (1), `cluster-enabled` (no), `timeout` (timeouts.clientIdleMs), `maxclients`, `proto-max-bulk-len`, `requirepass` (the client password), and empty shard replication settings (`masterauth`, `masteruser`, `replicaof`).",
};

const DIFFERENCES = [
  'Multi-key commands other than MGET/MSET/DEL/EXISTS/UNLINK/TOUCH need all keys in one slot (`-CROSSSLOT`), as in Redis Cluster.',
  "SORT and SORT_RO refuse a `BY` pattern with a `*` and every `GET` (`-ERR BY option of SORT denied in Cluster mode.`, `-ERR GET option of SORT denied in Cluster mode.`), as Redis Cluster does: the keys they name may live on other shards. SORT's `STORE` destination must be in the key's slot.",
  'EVAL/EVALSHA/FCALL with no keys run on the first shard that is up; scripts must not touch keys they do not declare.',
  'Only database 0 exists (`SELECT 0` is accepted).',
  'MONITOR and per-server administration (CONFIG SET/REWRITE, DEBUG, ...) are refused with a clear error; CONFIG GET is answered (see above).',
  'A transaction stays in one slot (`crossSlot: shard`: one shard), as in Redis Cluster: a command in another slot is answered `-CROSSSLOT` at queue time and EXEC then answers `-EXECABORT`. Commands the proxy answers from several shards or for the proxy connection (DBSIZE, SCAN, KEYS, INFO, CLIENT SETNAME, ...) and SCRIPT/FUNCTION management are refused inside MULTI with `-ERR Kvstore does not support <CMD> inside a transaction: ...` (also aborting EXEC); PING, ECHO, TIME, COMMAND and SELECT 0 are queued on the shard.',
  'RESP2 and RESP3 (`HELLO 3`). A client that switches protocol with commands still in flight may see those run after its next commands on the same shard (they travel on different backend connections); send HELLO first, as client libraries do. Transactions, blocking commands and WAIT answer a RESP3 client in RESP3 too (their dedicated connections speak the client\'s protocol); HELLO inside MULTI is queued and switches at EXEC, as Redis: the replies after it in EXEC\'s array and the client\'s later replies are in its protocol (the shard\'s connection switches at the same place; AUTH / SETNAME stay at the proxy, which answers HELLO in EXEC\'s array with its own map). READONLY RESP3 clients read from masters.',
  'Scripts and functions are loaded on every shard (SCRIPT LOAD, FUNCTION LOAD/RESTORE), and Kvstore remembers them in the topology: a shard added by resharding, a promoted replica and a cache-mode shard that rejoins get them before they serve. Scripts only ever run with EVAL are not remembered (EVAL sends the body anyway).',
  'A failed shard fails only the commands routed to it: `-ERR Kvstore: shard \'<name>\' (<host:port>) <what happened>`; a multi-key command touching it fails as a whole with that error.',
  'SCAN cursors are Kvstore cursors (shard in the low bits); KEYS returns keys grouped by shard; RANDOMKEY picks a shard first. During a resharding, a key moved to a shard the SCAN has already passed can be missed.',
  "A request larger than `limits.maxRequestBytes` gets `-ERR Protocol error: request larger than N bytes` and the client is closed (Redis closes such clients silently at its query buffer limit).",
  'CLIENT NO-TOUCH (Redis 7.2) is answered `+OK` and remembered (a 7.0 server answers `-ERR unknown subcommand`), but the shards\' LRU/LFU are touched anyway (see CLIENT NO-TOUCH below).',
  'INFO reports the first shard\'s sections (server, memory, ...) plus Proxy and a summed Keyspace; TIME is the proxy\'s clock; CLIENT covers the proxy connection only.',
];

/** How commands sent to every shard are merged (by full name). */
const ALL_SHARDS_NOTES: Record<string, string> = {
  'script|load': 'Every shard; the same sha everywhere, else an error naming each shard\'s answer. Remembered for shards that join later.',
  'script|flush': 'Every shard; forgotten for later shards too.',
  'script|exists': '1 only where every shard has the script.',
  'script|kill': 'Every shard; OK from the shard that was running one, else NOTBUSY.',
  'function|load': 'Every shard; the same library name everywhere, else an error naming each shard\'s answer. Remembered (FUNCTION DUMP) for shards that join later.',
  'function|delete': 'Every shard; the same answer everywhere, else an error naming each shard\'s answer.',
  'function|flush': 'Every shard.',
  'function|restore': 'Every shard; the same answer everywhere, else an error naming each shard\'s answer.',
  'function|list': "The first shard's reply (all shards hold the same libraries).",
  'function|dump': "The first shard's payload.",
  'function|stats': 'The shard running a function, else the first.',
  'function|kill': 'Every shard; OK from the shard that was running one, else NOTBUSY.',
};
/** The rules of the dedicated class (transactions, blocking commands, WAIT, CLIENT KILL/UNBLOCK). */
const TRANSACTION_RULES = [
  '## Transactions and blocking commands',
  '',
  '- **Transactions** follow Redis Cluster. MULTI is answered by the proxy; the first keyed command (or WATCH) picks the slot and its shard, and the transaction runs on a dedicated connection to that shard. Every later key, and every watched key, must be in that slot (`crossSlot: shard`: on that shard). Keyless commands queued before the first key are answered `+QUEUED` by the proxy and replayed on the shard once it is chosen (a transaction with no key at all runs on the first shard that is up). Queue-time errors (unknown command, wrong arity, CROSSSLOT, commands the proxy cannot queue) make EXEC answer `-EXECABORT Transaction discarded because of previous errors.`. The shard\'s `+QUEUED`, EXEC array (with per-command errors), nil on a WATCH conflict, DISCARD, UNWATCH and the nested-MULTI / EXEC-without-MULTI errors reach the client byte for byte. RESET ends the transaction. Key rewrite applies inside transactions.',
  '- **Ordering**: a command that goes to a dedicated connection waits until the client\'s earlier commands are answered, and the client\'s next commands wait for EXEC / DISCARD / UNWATCH and for a blocking command\'s reply, so a client\'s commands run in the order it sent them, as on one Redis connection.',
  '- **Failures**: a dedicated connection that fails (shard down, master changed, connection lost) fails the commands pending on it with `-ERR Kvstore: shard \'<name>\' (<host:port>) <reason>`; EXEC afterwards answers `-EXECABORT Transaction discarded: the dedicated connection failed before EXEC (...); nothing was executed`. When the slot of a transaction moves (resharding) before EXEC, EXEC answers `-EXECABORT ... moved to another shard during the transaction; retry`. A transaction is never reported as done unless its shard answered EXEC.',
  '- **Blocking commands** (BLPOP, BRPOP, BRPOPLPUSH, BLMOVE, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP, XREAD BLOCK, XREADGROUP BLOCK; keys in one slot) wait on a dedicated connection with Redis\'s own timeout (0 = forever); the proxy gives up, with an error, `timeouts.requestMs` after that timeout. A client that disconnects while blocked has its dedicated connection closed at once (the server unblocks it). When the slot moves while a client is blocked, the proxy unblocks it on its server (`CLIENT UNBLOCK ... ERROR`) and answers `-TRYAGAIN Kvstore: slot N moved to another shard while the client was blocked; retry` (an element popped meanwhile is still delivered). A key in a slot being migrated: `-TRYAGAIN`.',
  '- **Limits**: at most `dedicated.maxConnections` dedicated connections per worker and `dedicated.maxPerClient` per client; past them the command gets `-ERR Kvstore: ...` at once, never a wait.',
  '- **WAIT numreplicas timeout** is answered by the proxy: for each shard the client wrote to since its last WAIT (in parallel), a PING on the client\'s own shared connection (so its writes there are applied), then on a dedicated connection `PUBLISH __kvstore:wait ""` (propagated to replicas: it marks the master\'s replication offset after those writes) and `WAIT numreplicas timeout`, which counts the replicas that acknowledged it. The reply is the minimum over those shards. With no write since the last WAIT: the minimum over all shards of the replicas connected. CLIENT UNBLOCK does not reach a client in WAIT.',
  '- **CLIENT UNBLOCK id [TIMEOUT|ERROR]** acts on the proxy\'s clients (ids from CLIENT ID / CLIENT INFO) of every worker: a client of another worker is unblocked by its own worker, reached through the primary. **CLIENT KILL** acts on the proxy\'s clients of every worker (through the primary): `CLIENT KILL addr`, and the filters ID, ADDR, LADDR (the proxy\'s listening address), USER (only `default` exists), SKIPME, TYPE (`normal`; the proxy has no master, replica or pubsub clients).',
];

/** The rules of the pubsub class (src/proxy/pubsub/). */
const PUBSUB_RULES = [
  '## Pub/sub',
  '',
  '- **Placement**: a channel (and a shard channel) lives on the shard owning the CRC16 slot of its name (hash tags honoured); PUBLISH and SPUBLISH go there on the client\'s shared connection, so their reply counts the subscribers on that shard (each Kvstore worker subscribed counts once). PSUBSCRIBE patterns, and channels or patterns under `__keyspace@0__:` / `__keyevent@0__:`, are subscribed on every shard. SSUBSCRIBE / SUNSUBSCRIBE with channels in several slots: `-CROSSSLOT`, as in Redis Cluster.',
  '- **Multiplexing**: each worker has one subscriber connection per shard (RESP2, opened on first use), shared by all its subscribed clients with a count per channel and pattern; a message is parsed once and its frame, byte for byte as the shard sent it, is copied to every local subscriber. Confirmations carry the client\'s own counts and are sent once the shards have the subscription.',
  '- **Subscribed mode** (RESP2): only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET, others get Redis 7.0\'s `-ERR Can\'t execute \'<cmd>\': only ... allowed in this context`; PING answers `pong` arrays; RESET ends every subscription. UNSUBSCRIBE with no argument lists the channels in subscription order (Redis: in its hash table\'s order). RESP3 clients (HELLO 3) get confirmations and messages as push frames (`>`) and may run any command while subscribed, as in Redis 7.0.',
  '- **PUBSUB**: CHANNELS / SHARDCHANNELS are the union over the shards; NUMSUB / SHARDNUMSUB take the count on the channel\'s shard, minus this worker\'s subscriber connection, plus this worker\'s clients (other workers and proxies count as one each); NUMPAT is the largest count over the shards (distinct patterns).',
  '- **Slow subscribers**: a subscribed client whose unsent output exceeds `limits.pubsubOutputHardBytes`, or `limits.pubsubOutputSoftBytes` for `limits.pubsubOutputSoftSeconds`, is disconnected (Redis\'s `client-output-buffer-limit pubsub`).',
  '- **Topology changes**: when a channel\'s slot moves or a shard\'s master changes, the worker subscribes on the new owner when it applies the topology (and unsubscribes the old one); messages published to the old owner after the move and before the new subscription takes effect are not delivered. A lost subscriber connection is reopened and resubscribed after 250 ms; messages published meanwhile are lost.',
];

function notes(c: CommandEntry): string {
  if (c.routing === 'dedicated') return DEDICATED_NOTES[c.name] ?? BLOCKING_NOTE;
  if (c.routing === 'unsupported') return c.reason ?? '';
  if (c.routing === 'allshards') return ALL_SHARDS_NOTES[c.name] ?? 'Every shard; the first error, else the first reply.';
  if (c.routing === 'proxy') return PROXY_NOTES[c.name] ?? PROXY_NOTES[c.name.split('|')[0]] ?? '';
  return Object.hasOwn(SORT_NOTES, c.name) ? SORT_NOTES[c.name] : '';
}

export function renderCommandsDoc(): string {
  const handled = new Set(proxyCommandNames());
  const lines: string[] = [
    '# Commands',
    '',
    `<!-- Generated by scripts/gen-commands-doc.ts from src/commands/commands.json (${generatedFrom}). Do not edit by hand. -->`,
    '',
    `Every command and subcommand of ${generatedFrom} (plus Redis 7.2's CLIENT NO-TOUCH, which the proxy answers itself), and how Kvstore routes it. ${commands.length} entries.`,
    '',
    '## Routing classes',
    '',
    '| class | commands | behaviour |',
    '| --- | ---: | --- |',
    ...ORDER.map((cls) => `| ${cls} | ${commands.filter((c) => c.routing === cls).length} | ${CLASS_TEXT[cls]} |`),
    '',
    '## Intended differences from a single Redis',
    '',
    'The differential test (test/integration/proxy-differential.test.ts) runs one corpus against a direct redis-server',
    'and against Kvstore over 3 shards and requires identical replies except for these:',
    '',
    ...DIFFERENCES.map((d) => `- ${d}`),
    '',
    ...TRANSACTION_RULES,
    '',
    ...PUBSUB_RULES,
    '',
  ];
  for (const cls of ORDER) {
    const list = commands.filter((c) => c.routing === cls).sort((a, b) => a.name.localeCompare(b.name));
    lines.push(`## ${cls}`, '', CLASS_TEXT[cls], '', '| command | arity | notes |', '| --- | ---: | --- |');
    for (const c of list) {
      const name = c.name.toUpperCase().replace('|', ' ');
      const missing = cls === 'proxy' && !handled.has(c.name) ? ' (not implemented by the proxy yet)' : '';
      lines.push(`| ${name} | ${c.arity} | ${notes(c).replace(/\|/g, '\\|')}${missing} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

function main(): void {
  const target = path.join(__dirname, '..', '..', 'docs', 'commands.md');
  const text = renderCommandsDoc();
  if (process.argv.includes('--check')) {
    const current = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : '';
    if (current !== text) {
      console.error('docs/commands.md is out of date: run npm run docs:commands');
      process.exit(1);
    }
    return;
  }
  fs.writeFileSync(target, text);
  console.log(`wrote ${target} (${commands.length} commands)`);
}

if (require.main === module) main();
