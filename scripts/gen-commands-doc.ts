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
import { PROXY_ACL_COMMANDS } from '../src/security/aclCommands';
import { PROXY_SLOWLOG_COMMANDS } from '../src/observability/SlowLog';

/** The table as routed: ACL and SLOWLOG subcommands are answered by the proxy (src/proxy/CommandRoutes.ts). */
const answeredByProxy = new Set<string>([...PROXY_ACL_COMMANDS, ...PROXY_SLOWLOG_COMMANDS]);
const commands: CommandEntry[] = tableCommands.map((c) => (answeredByProxy.has(c.name) ? { ...c, routing: 'proxy' as const, reason: undefined } : c));

const CLASS_TEXT: Record<RoutingClass, string> = {
  single: 'One key: sent unchanged to the shard that owns its slot.',
  split: 'Keys grouped per shard, one sub-command per shard, replies merged into exactly what one Redis would answer.',
  sameslot:
    "Several keys: run when they all hash to one slot (use {hash tags}), else `-CROSSSLOT Keys in request don't hash to the same slot`. With `crossSlot: shard`, keys on one shard suffice.",
  proxy: 'Answered by Kvstore itself, or assembled from every shard.',
  allshards: 'Sent to every shard; replies merged (first error, else the common reply).',
  nokey: 'No key: sent to the first shard that is up.',
  unsupported: 'Refused with `-ERR Kvstore does not support <COMMAND>: <reason>`.',
};

const ORDER: RoutingClass[] = ['single', 'split', 'sameslot', 'proxy', 'allshards', 'nokey', 'unsupported'];

/** How proxy-answered commands behave (by full name). */
const PROXY_NOTES: Record<string, string> = {
  ping: 'Answered by the proxy.',
  echo: 'Answered by the proxy.',
  quit: '+OK, then the connection closes.',
  reset: 'Clears the client name; back to the default user (authenticated only if it is on and nopass).',
  select: 'Only database 0; `SELECT 1..15` gets `-ERR Kvstore supports only database 0`.',
  auth: '`AUTH <pw>` (the default user: `password`) and `AUTH <user> <pw>` (`users:` in the config, Redis ACL rules); `-WRONGPASS` as Redis.',
  acl: 'Users come from the config (`users:`): WHOAMI, LIST, USERS, GETUSER, CAT, GENPASS, HELP are answered by the proxy; SETUSER, DELUSER, LOAD, SAVE, DRYRUN, LOG answer `-ERR Kvstore: users are set in the config file ...` (change users with `kvstore ctl reload`).',
  slowlog: "The proxy's own SLOWLOG (time from first byte read to reply written, `slowlog.*`), this worker's entries; `GET /slowlog` merges all workers.",
  hello: 'Protocol 2 only; `HELLO 3` gets `-NOPROTO`.',
  info: "The first shard's INFO with a `# Proxy` section (native_enabled, epoch, clients, commands) and `# Keyspace` summed over all shards.",
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
  'client|info': 'The proxy connection.',
  'client|no-evict': 'Accepted, no effect.',
  'client|reply': 'Only `ON`.',
  command: 'Answered by a shard (all shards run the same Redis).',
};

const DIFFERENCES = [
  'Multi-key commands other than MGET/MSET/DEL/EXISTS/UNLINK/TOUCH need all keys in one slot (`-CROSSSLOT`), as in Redis Cluster.',
  'EVAL/EVALSHA/FCALL with no keys run on the first shard that is up; scripts must not touch keys they do not declare.',
  'Only database 0 exists (`SELECT 0` is accepted).',
  'Transactions (MULTI/EXEC/WATCH), blocking commands, pub/sub, MONITOR and per-server administration (CONFIG, DEBUG, ...) are refused with a clear error.',
  'RESP2 only (`HELLO 3` is refused).',
  'A failed shard fails only the commands routed to it: `-ERR Kvstore: shard \'<name>\' (<host:port>) <what happened>`; a multi-key command touching it fails as a whole with that error.',
  'SCAN cursors are Kvstore cursors (shard in the low bits); KEYS returns keys grouped by shard; RANDOMKEY picks a shard first. During a resharding, a key moved to a shard the SCAN has already passed can be missed.',
  "A request larger than `limits.maxRequestBytes` gets `-ERR Protocol error: request larger than N bytes` and the client is closed (Redis closes such clients silently at its query buffer limit).",
  'INFO reports the first shard\'s sections (server, memory, ...) plus Proxy and a summed Keyspace; TIME is the proxy\'s clock; CLIENT covers the proxy connection only.',
];

function notes(c: CommandEntry): string {
  if (c.routing === 'unsupported') return c.reason ?? '';
  if (c.routing === 'proxy') return PROXY_NOTES[c.name] ?? PROXY_NOTES[c.name.split('|')[0]] ?? '';
  return '';
}

export function renderCommandsDoc(): string {
  const handled = new Set(proxyCommandNames());
  const lines: string[] = [
    '# Commands',
    '',
    `<!-- Generated by scripts/gen-commands-doc.ts from src/commands/commands.json (${generatedFrom}). Do not edit by hand. -->`,
    '',
    `Every command and subcommand of ${generatedFrom}, and how Kvstore routes it. ${commands.length} entries.`,
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
