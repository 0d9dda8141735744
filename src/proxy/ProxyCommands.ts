/**
 * Commands the proxy answers itself or assembles from every shard (the 'proxy' routing class).
 * One handler per command, looked up by name; arity and AUTH were checked by the dispatcher.
 */
import { REPLY_OFF, REPLY_ON, REPLY_SKIP } from './ClientReplies';
import { CLIENT_ERRORS, ClientQuery, ClientQueryResult, clientLine, parseKill, parseList } from './clients/ClientQuery';
import { generatedFrom } from '../commands/table';
import type { CommandRoute } from './CommandRoutes';
import { concatArrays, firstErrorElseFirst, sendToAllShards, sumIntegers } from './FanOut';
import type { ProxyContext } from './ProxyContext';
import { ClientSession, stepSink } from './ReplyTarget';
import { errorReply } from './ErrorReply';
import {
  arrayReply, bulkReply, EMPTY_ARRAY, integerReply, isErrorReply, isNullReply, mapReply, nullReply, OK, PONG, Proto, simpleReply, verbatimReply,
} from './Resp';
import { decodeReply, encodeCommand } from '../resp';
import { ERRORS } from './ReplyTexts';
import { aclCommand, PROXY_ACL_COMMANDS } from '../security/aclCommands';
import { mergeSlowlogs, slowlogCount, slowlogReply } from '../observability/SlowLog';
import { mergedHistograms } from '../observability/ObservabilityQuery';

import { nativeIoTotals } from './io';

const SLOWLOG_COUNT_ERROR = errorReply('ERR count should be greater than or equal to -1');
import { keysCommand, randomKeyCommand, scanNames, scanOptions } from '../keyrewrite/keyNameCommands';

type Handler = (client: ClientSession, ctx: ProxyContext, args: Buffer[], seq: number) => void;

export const REDIS_VERSION = generatedFrom.replace(/^redis\s+/i, '');
/** SCAN cursors carry the shard index in their low bits. */
const SCAN_SHARD_BITS = 10n;
const SCAN_SHARD_MASK = (1n << SCAN_SHARD_BITS) - 1n;

function lower(b: Buffer): string {
  return b.toString('latin1').toLowerCase();
}

/** ON / OFF in any case (CLIENT NO-EVICT, NO-TOUCH); null for anything else. */
function onOff(b: Buffer): boolean | null {
  const v = lower(b);
  return v === 'on' ? true : v === 'off' ? false : null;
}

function parseInteger(b: Buffer): number | null {
  const s = b.toString('latin1');
  if (!/^-?\d{1,18}$/.test(s)) return null;
  return Number(s);
}

/** Redis's rule for client names: printable ASCII, no spaces. */
function validClientName(name: Buffer): boolean {
  for (const c of name) if (c < 0x21 || c > 0x7e) return false;
  return true;
}

/**
 * `AUTH [user] pw` / `HELLO 2 AUTH user pw`: the user of the config (src/security), when it is on
 * and the password is one of its own (or it is nopass); then the client becomes that user.
 * Returns the error reply, or null when logged in.
 */
function login(client: ClientSession, ctx: ProxyContext, name: string, password: Buffer): Buffer | null {
  const user = ctx.security.users.get(name);
  if (!user || !user.checkPassword(password)) return ERRORS.wrongPass;
  return ctx.security.login(client, user, Date.now());
}

/** HELLO's arguments, parsed in Redis 7.0's order (version, then options), or the error reply. */
function parseHello(args: Buffer[]): { proto: 2 | 3 | 0; name: Buffer | null; auth: [Buffer, Buffer] | null } | Buffer {
  let proto: 2 | 3 | 0 = 0;
  if (args.length >= 2) {
    const ver = parseInteger(args[1]);
    if (ver === null) return ERRORS.protoverNotInteger;
    if (ver !== 2 && ver !== 3) return ERRORS.noProto;
    proto = ver;
  }
  let name: Buffer | null = null;
  let auth: [Buffer, Buffer] | null = null;
  for (let i = 2; i < args.length; i++) {
    const opt = lower(args[i]);
    const more = args.length - 1 - i;
    if (opt === 'auth' && more >= 2) {
      auth = [args[i + 1], args[i + 2]];
      i += 2;
    } else if (opt === 'setname' && more >= 1) {
      name = args[++i];
    } else {
      return errorReply("ERR Syntax error in HELLO option '", args[i], "'");
    }
  }
  return { proto, name, auth };
}

/**
 * Redis 7.0's helloCommand, in its order: version, options, AUTH, the NOAUTH check, SETNAME,
 * then the switch; returns the reply. The map's values are the proxy's own: `id` is this
 * connection's id at the proxy (what CLIENT ID says), `mode` standalone and `role` master because
 * a client sees one writable keyspace without cluster redirections, `modules` empty (shards'
 * modules are not routed), `version` the Redis version whose commands the proxy routes. Also run
 * at EXEC for a HELLO queued in MULTI (src/proxy/dedicated/helloInMulti.ts).
 */
export function runHello(client: ClientSession, ctx: ProxyContext, args: Buffer[]): Buffer {
  const req = parseHello(args);
  if (Buffer.isBuffer(req)) return req;
  if (req.auth !== null) {
    // a user of `users:` (src/security), or the default user with `password`
    const failed = login(client, ctx, req.auth[0].toString('utf8'), req.auth[1]);
    if (failed !== null) return failed;
  }
  if (!client.authed) return ERRORS.helloNoAuth;
  if (req.name !== null) {
    if (!validClientName(req.name)) return ERRORS.badClientName;
    client.name = req.name.toString('latin1');
  }
  if (req.proto !== 0) client.proto = req.proto;
  return helloReply(client.proto, client.id);
}

/**
 * The protocol `runHello(args)` would switch the client to, found with nothing changed (HELLO
 * queued in MULTI: the shard must switch at the same place); 0 when it names none or would fail.
 */
export function helloSwitchesTo(client: ClientSession, ctx: ProxyContext, args: Buffer[]): 0 | 2 | 3 {
  const req = parseHello(args);
  if (Buffer.isBuffer(req) || req.proto === 0) return 0;
  if (req.auth !== null) {
    const user = ctx.security.users.get(req.auth[0].toString('utf8'));
    if (!user || !user.checkPassword(req.auth[1]) || ctx.security.loginRefusal(client, user) !== null) return 0;
  } else if (!client.authed) return 0;
  if (req.name !== null && !validClientName(req.name)) return 0;
  return req.proto;
}

const HANDLERS: Record<string, Handler> = {
  ping(client, ctx, args, seq) {
    if (args.length > 2) return client.onReply(seq, ctx.routeByName.get('ping')!.arityError);
    client.onReply(seq, args.length === 1 ? PONG : bulkReply(args[1]));
  },

  echo(client, _ctx, args, seq) {
    client.onReply(seq, bulkReply(args[1]));
  },

  quit(client, _ctx, _args, seq) {
    client.onReply(seq, OK);
    client.endAfterReplies();
  },

  reset(client, ctx, _args, seq) {
    client.name = '';
    client.proto = 2;
    ctx.security.logout(client, Date.now());
    client.readOnly = false;
    // Redis 7.2 turns both off on RESET (7.0 kept NO-EVICT); the proxy follows 7.2, whose NO-TOUCH it answers.
    client.noEvict = false;
    client.noTouch = false;
    client.onReply(seq, simpleReply('RESET'));
  },

  // As on a Redis Cluster node: this connection's read-only commands may be served by replicas
  // (where they go is the readFrom setting; with readFrom: master nothing changes).
  readonly(client, _ctx, _args, seq) {
    client.readOnly = true;
    client.onReply(seq, OK);
  },

  readwrite(client, _ctx, _args, seq) {
    client.readOnly = false;
    client.onReply(seq, OK);
  },

  select(client, _ctx, args, seq) {
    const db = parseInteger(args[1]);
    if (db === null) client.onReply(seq, ERRORS.notInteger);
    else if (db === 0) client.onReply(seq, OK);
    else if (db < 0 || db > 15) client.onReply(seq, ERRORS.dbIndexOutOfRange);
    else client.onReply(seq, ERRORS.onlyDb0);
  },

  auth(client, ctx, args, seq) {
    if (args.length > 3) return client.onReply(seq, ERRORS.syntax);
    if (args.length === 2 && ctx.security.users.defaultUser.nopass) return client.onReply(seq, ERRORS.authWithoutPassword);
    const failed = args.length === 2 ? login(client, ctx, 'default', args[1]) : login(client, ctx, args[1].toString('utf8'), args[2]);
    client.onReply(seq, failed ?? OK);
  },

  hello(client, ctx, args, seq) {
    client.onReply(seq, runHello(client, ctx, args));
  },

  'client|setname'(client, _ctx, args, seq) {
    if (!validClientName(args[2])) return client.onReply(seq, ERRORS.badClientName);
    client.name = args[2].toString('latin1');
    client.onReply(seq, OK);
  },

  'client|getname'(client, _ctx, _args, seq) {
    client.onReply(seq, client.name === '' ? nullReply(client.proto) : bulkReply(Buffer.from(client.name, 'latin1')));
  },

  'client|id'(client, _ctx, _args, seq) {
    client.onReply(seq, integerReply(client.id));
  },

  'client|info'(client, ctx, _args, seq) {
    client.onReply(seq, verbatimReply(client.proto, `${clientLine(client, ctx.clientDirectory.localAddress(), Date.now())}\n`));
  },

  /** Every client of the proxy (all workers), in id order. */
  'client|list'(client, ctx, args, seq) {
    const query = parseList(args);
    if (Buffer.isBuffer(query)) return client.onReply(seq, query);
    runClientQuery(client, ctx, query, seq, (r) => {
      const lines = [...r.lines].sort((a, b) => idOf(a) - idOf(b));
      return verbatimReply(client.proto, lines.map((l) => `${l}\n`).join(''));
    });
  },

  /** CLIENT PAUSE ms [WRITE|ALL]: every worker stops reading the commands it covers. */
  'client|pause'(client, ctx, args, seq) {
    const ms = parseInteger(args[2]);
    if (ms === null || ms < 0) return client.onReply(seq, ERRORS.timeoutNotInteger);
    let writesOnly = false;
    if (args.length === 4) {
      const mode = lower(args[3]);
      if (mode === 'write') writesOnly = true;
      else if (mode !== 'all') return client.onReply(seq, ERRORS.syntax);
    } else if (args.length > 4) return client.onReply(seq, ERRORS.syntax);
    runClientQuery(client, ctx, { op: 'pause', writesOnly, until: Date.now() + ms }, seq, () => OK);
  },

  'client|unpause'(client, ctx, _args, seq) {
    runClientQuery(client, ctx, { op: 'pause', writesOnly: false, until: 0 }, seq, () => OK);
  },

  /**
   * CLIENT NO-EVICT ON|OFF (Redis 7.0) and CLIENT NO-TOUCH ON|OFF (Redis 7.2): answered here and
   * remembered for CLIENT LIST / INFO; what they mean behind a proxy is in docs/commands.md
   * (scripts/gen-commands-doc.ts): the proxy evicts no client, and its shared backend connections
   * cannot carry one client's NO-TOUCH.
   */
  'client|no-evict'(client, _ctx, args, seq) {
    const on = onOff(args[2]);
    if (on === null) return client.onReply(seq, ERRORS.syntax);
    client.noEvict = on;
    client.onReply(seq, OK);
  },

  'client|no-touch'(client, _ctx, args, seq) {
    const on = onOff(args[2]);
    if (on === null) return client.onReply(seq, ERRORS.syntax);
    client.noTouch = on;
    client.onReply(seq, OK);
  },

  /** Redis: ON answers +OK; OFF and SKIP answer nothing (their slot is filled with no bytes). */
  'client|reply'(client, _ctx, args, seq) {
    const v = lower(args[2]);
    const mode = v === 'on' ? REPLY_ON : v === 'off' ? REPLY_OFF : v === 'skip' ? REPLY_SKIP : -1;
    if (mode < 0) return client.onReply(seq, ERRORS.syntax);
    client.setReplyMode(mode, seq);
    client.onReply(seq, mode === REPLY_ON ? OK : NOTHING);
  },

  'client|help'(client, _ctx, _args, seq) {
    const lines = [
      'CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands supported by Kvstore are:',
      'GETNAME', '    Return the name of the current connection.',
      'ID', '    Return the ID of the current connection.',
      'INFO', '    Return information about the current client connection.',
      'SETNAME <name>', '    Assign the name <name> to the current connection.',
      'NO-EVICT (ON|OFF)', '    Protect current client connection from eviction (Kvstore: remembered, shown in flags; the proxy evicts no client).',
      'NO-TOUCH (ON|OFF)', "    Will not touch LRU/LFU stats when this mode is on (Kvstore: remembered, shown in flags; the shards' LRU/LFU are still touched).",
      'REPLY (ON|OFF|SKIP)', '    Control the replies sent to the current connection.',
      'LIST [TYPE <type>] [ID <id> [<id> ...]]', "    Return information about the proxy's client connections (all workers).",
      'KILL <ip:port> | <option> <value> [...]', "    Kill the proxy's client connections (ID, ADDR, LADDR, USER, SKIPME, TYPE).",
      'PAUSE <timeout> [WRITE|ALL]', '    Stop processing client commands (writes only with WRITE) for <timeout> milliseconds.',
      'UNPAUSE', '    Stop the current client pause, resuming traffic.',
      'HELP', '    Print this help.',
    ];
    client.onReply(seq, arrayReply(lines.map((l) => simpleReply(l))));
  },

  /**
   * The shards' INFO merged, with the proxy's own section; `latencystats` (asked by name, `all`
   * or `everything`) is the proxy's: every worker's histograms added up (the shard's section
   * times execution only, not first byte read to reply written). They are asked first, through
   * the primary (ObservabilityQuery.ts); this client's reply waits, no other client does.
   */
  info(client, ctx, args, seq) {
    const sections = args.slice(1).map(lower);
    if (!sections.some((s) => ['latencystats', 'all', 'everything'].includes(s))) return infoFromShards(client, ctx, args, seq, null);
    const names = ctx.routes.map((r) => r.name);
    ctx.clientDirectory.query({ op: 'latency' }).then(
      (r) => infoFromShards(client, ctx, args, seq, mergedHistograms(ctx.routes.length, r.latency).infoLines(names)),
      (err: Error) => {
        ctx.log.warn({ err }, "INFO latencystats: the workers' histograms are out of reach; this worker's only");
        infoFromShards(client, ctx, args, seq, ctx.observe.histograms.infoLines(names));
      },
    );
  },

  dbsize(client, ctx, args, seq) {
    sendToAllShards(client, ctx, encodeCommand(args), seq, sumIntegers);
  },

  keys(client, ctx, args, seq) {
    if (ctx.hooks.keyNames) return keysCommand(client, ctx, ctx.hooks.keyNames, args, seq);
    sendToAllShards(client, ctx, encodeCommand(args), seq, concatArrays);
  },

  flushdb(client, ctx, args, seq) {
    if (!ctx.config.allowFlush) return client.onReply(seq, ERRORS.flushDisabled);
    sendToAllShards(client, ctx, encodeCommand(args), seq, firstErrorElseFirst);
  },

  flushall(client, ctx, args, seq) {
    HANDLERS.flushdb(client, ctx, args, seq);
  },

  time(client, _ctx, _args, seq) {
    const micros = BigInt(Date.now()) * 1000n + (process.hrtime.bigint() / 1000n) % 1000n;
    client.onReply(seq, arrayReply([bulkReply(String(micros / 1_000_000n)), bulkReply(String(micros % 1_000_000n))]));
  },

  randomkey(client, ctx, _args, seq) {
    if (ctx.hooks.keyNames) return randomKeyCommand(client, ctx, ctx.hooks.keyNames, seq);
    const n = ctx.router.shards.length;
    if (n === 0) return client.onReply(seq, ERRORS.noShards);
    // Shards in random order; the first that has a key answers (empty shards say nil).
    const order = Array.from({ length: n }, (_, i) => i).sort(() => Math.random() - 0.5);
    const command = encodeCommand(['RANDOMKEY']);
    const tryNext = (k: number): void => {
      const sink = stepSink(client, seq, ctx.log, (reply) => {
        if (isNullReply(reply) && k + 1 < n) tryNext(k + 1);
        else client.onReply(seq, reply);
      });
      client.forwardTo(order[k], command, 0, sink);
    };
    tryNext(0);
  },

  scan(client, ctx, args, seq) {
    const text = args[1].toString('latin1');
    if (!/^\d{1,20}$/.test(text) || BigInt(text) > 0xffffffffffffffffn) return client.onReply(seq, ERRORS.invalidCursor);
    const cursor = BigInt(text);
    const n = ctx.router.shards.length;
    const view = ctx.hooks.keyNames;
    // Under key rewrite MATCH is applied here, to the names clients see (keyNameCommands.ts).
    const { options: rest, pattern } = scanOptions(view, args.slice(2));
    // One shard at a time, in index order; the cursor's low bits say which. A shard that has
    // nothing more moves on to the next one at once, so empty pages are rare.
    const scanShard = (shard: number, backendCursor: bigint): void => {
      if (shard >= n) return client.onReply(seq, arrayReply([bulkReply('0'), EMPTY_ARRAY]));
      const command = encodeCommand([args[0], String(backendCursor), ...rest]);
      client.forwardTo(
        shard,
        command,
        0,
        stepSink(client, seq, ctx.log, (reply) => {
          if (isErrorReply(reply)) return client.onReply(seq, reply);
          const [next, keys] = decodeReply(reply) as [Buffer, Buffer[]];
          const backendNext = BigInt(next.toString('latin1'));
          if (backendNext === 0n && keys.length === 0 && shard + 1 < n) return scanShard(shard + 1, 0n);
          let ours: bigint;
          if (backendNext !== 0n) ours = (backendNext << SCAN_SHARD_BITS) | BigInt(shard);
          else ours = shard + 1 < n ? BigInt(shard + 1) : 0n;
          // Keep the keys' bytes as they are; only the cursor is re-encoded.
          const keysStart = reply.indexOf('\r\n', reply.indexOf('\r\n') + 2) + 2 + next.length + 2;
          const names = scanNames(view, reply.subarray(keysStart), pattern);
          client.onReply(seq, Buffer.concat([Buffer.from('*2\r\n'), bulkReply(String(ours)), names]));
        }),
      );
    };
    scanShard(Number(cursor & SCAN_SHARD_MASK), cursor >> SCAN_SHARD_BITS);
  },
};

/**
 * CONFIG GET: the first shard's answer (Redis's parameter names, glob rules and order), with the
 * values that describe the proxy rather than that shard replaced (PROXY_CONFIG).
 */
HANDLERS['config|get'] = (client, ctx, args, seq) => {
  const overrides = proxyConfig(ctx);
  client.forwardTo(ctx.router.keylessShard, encodeCommand(args), 0, stepSink(client, seq, ctx.log, (reply) => {
    if (isErrorReply(reply)) return client.onReply(seq, Buffer.from(reply));
    const flat = decodeReply(reply) as Buffer[];
    const items: Buffer[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const name = flat[i].toString('latin1');
      const value = overrides.get(name);
      items.push(bulkReply(flat[i]), bulkReply(value === undefined ? flat[i + 1] : value));
    }
    client.onReply(seq, mapReply(client.proto, items));
  }));
};

/** Parameters whose honest value is the proxy's, not the first shard's. */
function proxyConfig(ctx: ProxyContext): Map<string, string> {
  const c = ctx.config;
  return new Map([
    ['databases', '1'],
    ['cluster-enabled', 'no'],
    ['timeout', String(Math.floor(c.timeouts.clientIdleMs / 1000))],
    ['maxclients', String(c.limits.maxClients)],
    ['proto-max-bulk-len', String(c.limits.maxBulkBytes)],
    ['requirepass', c.password],
    // the shards' replication credentials and links are not the client's business
    ['masterauth', ''],
    ['masteruser', ''],
    ['replicaof', ''],
    ['slaveof', ''],
  ]);
}

/** ACL: users live in the proxy's config (src/security/aclCommands.ts). */
for (const name of PROXY_ACL_COMMANDS) {
  const sub = name.slice(4);
  HANDLERS[name] = (client, ctx, args, seq) => client.onReply(seq, aclCommand(sub, args.slice(2), client.user, ctx.security.users));
}

/**
 * SLOWLOG of the whole proxy: every worker's entries (through the primary, ObservabilityQuery.ts),
 * newest first; LEN sums the workers' lengths; RESET clears every worker's log.
 */
HANDLERS['slowlog|get'] = (client, ctx, args, seq) => {
  const count = slowlogCount(args[2]);
  if (count === null) return client.onReply(seq, SLOWLOG_COUNT_ERROR);
  runClientQuery(client, ctx, { op: 'slowlog-get', count }, seq, (r) => slowlogReply(mergeSlowlogs([r.slowlog ?? []], count)));
};
HANDLERS['slowlog|len'] = (client, ctx, _args, seq) => runClientQuery(client, ctx, { op: 'slowlog-len' }, seq, (r) => integerReply(r.slowlogLen ?? 0));
HANDLERS['slowlog|reset'] = (client, ctx, _args, seq) => runClientQuery(client, ctx, { op: 'slowlog-reset' }, seq, () => OK);
HANDLERS['slowlog|help'] = (client, _ctx, _args, seq) =>
  client.onReply(seq, arrayReply([
    'SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
    'GET [<count>]', "    Return top <count> entries from the slowlog (default: 10, -1 mean all).", "    Entries are made of:", '    id, timestamp, time in microseconds, arguments array, client IP and port,', '    client name',
    'LEN', '    Return the length of the slowlog.',
    'RESET', '    Reset the slowlog.',
    'HELP', '    Print this help.',
    'Kvstore: times are from the first byte read to the reply written; entries of every worker, ids unique across them.',
  ].map((l) => simpleReply(l))));

/** COMMAND and its subcommands: answered by a backend (every shard runs the same Redis). */
const forwardToFirstShard: Handler = (client, ctx, args, seq) => client.forwardTo(ctx.router.keylessShard, encodeCommand(args), seq);
for (const name of ['command', 'command|count', 'command|info', 'command|docs', 'command|list', 'command|getkeys', 'command|getkeysandflags', 'command|help']) {
  HANDLERS[name] = forwardToFirstShard;
}

export function runProxyCommand(client: ClientSession, ctx: ProxyContext, route: CommandRoute, args: Buffer[], seq: number): void {
  const handler = HANDLERS[route.name];
  if (handler) handler(client, ctx, args, seq);
  else client.onReply(seq, errorReply(`ERR Kvstore does not support ${route.name.toUpperCase().replace('|', ' ')}`));
}

export function proxyCommandNames(): string[] {
  return Object.keys(HANDLERS);
}

/** INFO from every shard, merged; `latencyLines`: the proxy's Latencystats section (null: not asked for). */
function infoFromShards(client: ClientSession, ctx: ProxyContext, args: Buffer[], seq: number, latencyLines: string[] | null): void {
  if (client.isClosed) return; // (it went away while the workers were asked)
  const sections = args.slice(1).map(lower);
  const withProxy = sections.length === 0 || sections.some((s) => ['default', 'all', 'everything', 'proxy'].includes(s));
  sendToAllShards(client, ctx, encodeCommand(args), seq, (replies) => {
    // A shard that is down must not break INFO: clients use it as their ready check.
    const ok = replies.filter((r) => !isErrorReply(r));
    if (ok.length === 0) return replies[0];
    const unavailable = ctx.router.shards.filter((_, i) => isErrorReply(replies[i])).map((s) => s.name);
    const texts = ok.map((r) => (decodeReply(r) as Buffer).toString('utf8'));
    const merged = mergeInfo(texts, withProxy ? proxySection(ctx, unavailable) : null);
    return verbatimReply(client.proto, latencyLines ? replaceSection(merged, 'Latencystats', latencyLines) : merged);
  });
}

/** Ask every worker; errors (a worker that did not answer) become the reply. */
function runClientQuery(client: ClientSession, ctx: ProxyContext, query: ClientQuery, seq: number, reply: (r: ClientQueryResult) => Buffer): void {
  ctx.clientDirectory.query(query).then(
    (r) => client.onReply(seq, reply(r)),
    (err: Error) => client.onReply(seq, errorReply('ERR Kvstore: ', err.message)),
  );
}

function idOf(line: string): number {
  return Number(line.slice(3, line.indexOf(' ')));
}

const NOTHING = Buffer.alloc(0);

/** HELLO's map (RESP3) or flat array (RESP2), fields in Redis 7.0's order. */
export function helloReply(proto: Proto, id: number): Buffer {
  return mapReply(proto, [
    bulkReply('server'), bulkReply('redis'),
    bulkReply('version'), bulkReply(REDIS_VERSION),
    bulkReply('proto'), integerReply(proto),
    bulkReply('id'), integerReply(id),
    bulkReply('mode'), bulkReply('standalone'),
    bulkReply('role'), bulkReply('master'),
    bulkReply('modules'), EMPTY_ARRAY,
  ]);
}

/* ---------- INFO ---------- */

/** Bytes the addon's sockets hold outside the JS heap (none without them). */
function nativeBufferLines(): string[] {
  const t = nativeIoTotals();
  if (t === null) return [];
  return [
    `native_buffered_output:${t.outputQueued}`,
    `native_buffered_input:${t.inputHeld}`,
    `native_output_buffers:${t.outputAllocated}`,
    `native_spare_buffers:${t.poolBytes}`,
    `native_read_arena:${t.arenaBytes}`,
    `native_max_stream_output:${t.maxStreamQueued}`,
  ];
}

/** This worker's JS side (process.memoryUsage(); external includes Buffers). */
function jsMemoryLines(): string[] {
  const m = process.memoryUsage();
  return [`used_memory_js_heap:${m.heapUsed}`, `used_memory_js_external:${m.external}`, `used_memory_rss_worker:${m.rss}`];
}

function proxySection(ctx: ProxyContext, unavailable: string[]): string[] {
  const c = ctx.counters;
  return [
    '# Proxy',
    `kvstore_pid:${process.pid}`,
    `native_enabled:${ctx.binding.hot.nativeEnabled ? 1 : 0}`,
    `native_io:${ctx.nativeIo ? 1 : 0}`,
    `epoch:${ctx.router.epoch}`,
    `shards:${ctx.router.shards.length}`,
    `shards_unavailable:${unavailable.join(',')}`,
    `connected_clients:${ctx.clients.size}`,
    `total_connections_received:${c.totalConnections}`,
    `rejected_connections:${c.rejectedConnections}`,
    `total_commands_processed:${c.totalCommands}`,
    `total_error_replies:${c.totalErrors}`,
    `protocol_errors:${c.protocolErrors}`,
    `dedicated_connections_leased:${ctx.dedicated.leasedCount}`,
    `dedicated_connections_idle:${ctx.dedicated.idleCount}`,
    `uptime_in_seconds:${Math.floor((Date.now() - ctx.startedAt) / 1000)}`,
    ...nativeBufferLines(),
    `pubsub_slow_clients_cut:${ctx.pubsub.slowClientsCut}`,
    `pubsub_peak_client_output:${ctx.pubsub.peakClientOutput}`,
    ...jsMemoryLines(),
    // Shard states from the topology, backend health from the primary's checks (failover).
    ...ctx.router.shards.map((s) => `shard_${s.name}:state=${s.downReply ? 'down' : 'up'},master=${s.address}`),
    ...(ctx.backendHealth ?? []).map((b, i) =>
      `backend${i}:address=${b.address},shard=${b.shard ?? ''},role=${b.role ?? ''},state=${b.state},last_error=${(b.lastError ?? '').replace(/[\r\n,]/g, ' ')}`),
  ];
}

/** `text` with its `# <name>` section replaced by `lines` (added at the end when absent). */
export function replaceSection(text: string, name: string, lines: string[]): string {
  const blocks = text.split('\r\n\r\n').map((b) => b.replace(/\r\n$/, '')).filter((b) => b.length > 0 && !b.startsWith(`# ${name}`));
  blocks.push([`# ${name}`, ...lines].join('\r\n'));
  return blocks.join('\r\n\r\n') + '\r\n';
}

/**
 * The first shard's INFO, with the Keyspace section summed over all shards and the Proxy section
 * added before it.
 */
export function mergeInfo(texts: string[], proxy: string[] | null): string {
  const keyspace = new Map<string, { keys: number; expires: number; ttlWeighted: number }>();
  for (const text of texts) {
    const section = /# Keyspace\r\n([\s\S]*?)(?:\r\n\r\n|$)/.exec(text);
    if (!section) continue;
    for (const line of section[1].split('\r\n')) {
      const m = /^(db\d+):keys=(\d+),expires=(\d+),avg_ttl=(\d+)/.exec(line);
      if (!m) continue;
      const entry = keyspace.get(m[1]) ?? { keys: 0, expires: 0, ttlWeighted: 0 };
      entry.keys += Number(m[2]);
      entry.expires += Number(m[3]);
      entry.ttlWeighted += Number(m[4]) * Number(m[3]);
      keyspace.set(m[1], entry);
    }
  }
  const first = texts[0] ?? '';
  const blocks = first.split('\r\n\r\n').map((b) => b.replace(/\r\n$/, '')).filter((b) => b.length > 0);
  const out: string[] = [];
  let keyspaceWritten = false;
  const writeKeyspace = () => {
    if (proxy) out.push(proxy.join('\r\n'));
    const lines = ['# Keyspace'];
    for (const [db, e] of keyspace) {
      lines.push(`${db}:keys=${e.keys},expires=${e.expires},avg_ttl=${e.expires > 0 ? Math.round(e.ttlWeighted / e.expires) : 0}`);
    }
    out.push(lines.join('\r\n'));
    keyspaceWritten = true;
  };
  for (const block of blocks) {
    if (block.startsWith('# Keyspace')) writeKeyspace();
    else out.push(block);
  }
  if (!keyspaceWritten) {
    if (keyspace.size > 0) writeKeyspace();
    else if (proxy) out.push(proxy.join('\r\n'));
  }
  return out.join('\r\n\r\n') + '\r\n';
}
