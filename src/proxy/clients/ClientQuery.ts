/**
 * CLIENT LIST / CLIENT KILL over the proxy's own clients, evaluated in each worker on what it
 * holds (`runLocalQuery`), and asked of every worker through the primary when there are several
 * (ClientDirectory.ts); UNBLOCK of another worker's client is answered by that worker (its
 * DedicatedPool). A query is plain data so that it crosses IPC as it is.
 *
 * Client ids are unique across the workers: a worker's n-th client is n * 256 + (worker id mod
 * 256), so `CLIENT KILL ID` names one client of the whole proxy.
 */
import cluster from 'node:cluster';
import { errorReply } from '../ErrorReply';
import { addObservabilityAnswer, ObservabilityAnswer, ObservabilityQuery } from '../../observability/ObservabilityQuery';

const WORKER_SLOTS = 256;
const workerSlot = cluster.isWorker && cluster.worker ? cluster.worker.id % WORKER_SLOTS : 0;
let nextLocal = 1;

export function allocateClientId(): number {
  return nextLocal++ * WORKER_SLOTS + workerSlot;
}

/** The worker-local sequence number of a client id (spreads clients over pools and replicas). */
export function localSequence(id: number): number {
  return Math.floor(id / WORKER_SLOTS);
}

/** Was client `id` given out by this worker? (Another worker's ids go through the primary.) */
export function isLocalClientId(id: number): boolean {
  return id > 0 && id % WORKER_SLOTS === workerSlot;
}

/** What a query reads of a client (ClientConnection implements it). */
export interface QueryableClient {
  readonly id: number;
  readonly remote: string;
  readonly createdAt: number;
  readonly lastActive: number;
  readonly name: string;
  readonly proto: 2 | 3;
  /** CLIENT NO-EVICT ON / CLIENT NO-TOUCH ON (CLIENT LIST flags `e` and `T`). */
  readonly noEvict: boolean;
  readonly noTouch: boolean;
  /** READONLY (flag `r`, as on a Redis Cluster node). */
  readonly readOnly: boolean;
  /** Commands queued since MULTI (flag `x`, `multi=`); -1 outside a transaction. */
  readonly multiQueued: number;
  /** Blocked: BLPOP, XREAD BLOCK, WAIT... waiting for its reply (flag `b`). */
  readonly blocked: boolean;
  /** Subscriptions (flag `P`, `sub=` / `psub=` / `ssub=`); null when it never subscribed. */
  readonly pubsub: SubscriptionCounts | null;
  /** The last command it sent, as Redis names it (`client|list`), or `NULL` (none, or unknown). */
  readonly lastCommand: string;
  /** The ACL user it is logged in as (src/security). */
  readonly user: { readonly name: string };
  /** Close now (CLIENT KILL of another client). */
  kill(): void;
  /** Close after the replies owed (CLIENT KILL of itself, as Redis). */
  endAfterReplies(): void;
}

/** The sets of a client's subscriptions (src/proxy/pubsub/PubSubHub.ts ClientSubscriptions). */
export interface SubscriptionCounts {
  readonly channel: { readonly size: number };
  readonly pattern: { readonly size: number };
  readonly shard: { readonly size: number };
}

export interface ClientFilter {
  ids?: number[];
  addr?: string;
  laddr?: string;
  user?: string;
  /** Skip the client that asked (KILL: SKIPME yes, the default). */
  skipId?: number;
  /** TYPE master/replica/pubsub: the proxy has no such clients. */
  none?: boolean;
}

export type ClientQuery =
  | { op: 'list'; filter: ClientFilter }
  /** `callerId`: the client asking; it is closed after its reply (Redis), the others at once. */
  | { op: 'kill'; filter: ClientFilter; callerId: number }
  /** CLIENT PAUSE: hold writes (or every command) until `until` (ms since epoch); 0 = UNPAUSE. */
  | { op: 'pause'; writesOnly: boolean; until: number }
  /** CLIENT UNBLOCK of another worker's client: the worker that holds `id` unblocks it on its shard. */
  | { op: 'unblock'; id: number; mode: 'TIMEOUT' | 'ERROR' }
  /** SLOWLOG GET/LEN/RESET, INFO latencystats of every worker: the same relay (src/observability/ObservabilityQuery.ts). */
  | ObservabilityQuery;
/**
 * list: one CLIENT LIST line per client; kill: how many were killed; unblock: 1 when it was
 * unblocked; the observability queries: their own fields.
 */
export type ClientQueryResult = { lines: string[]; killed: number } & ObservabilityAnswer;

/** Add one worker's answer to the answers so far (the primary, as they come in). */
export function addQueryResult(into: ClientQueryResult, part: ClientQueryResult): void {
  into.lines.push(...part.lines);
  into.killed += part.killed;
  addObservabilityAnswer(into, part);
}

/**
 * A worker that does not answer in time is left out of a query that only reads (the answer
 * says so in the log); one that changes something (KILL, PAUSE, UNBLOCK, SLOWLOG RESET) fails
 * instead, so that the client knows it did not reach every worker.
 */
export function readsOnly(query: ClientQuery): boolean {
  return query.op === 'list' || query.op === 'slowlog-get' || query.op === 'slowlog-len' || query.op === 'latency';
}

export function matches(c: QueryableClient, f: ClientFilter, laddr: string): boolean {
  if (f.none) return false;
  if (f.ids && !f.ids.includes(c.id)) return false;
  if (f.addr !== undefined && c.remote !== f.addr) return false;
  if (f.laddr !== undefined && laddr !== f.laddr) return false;
  if (f.user !== undefined && f.user !== c.user.name) return false;
  if (f.skipId !== undefined && c.id === f.skipId) return false;
  return true;
}

/**
 * The `flags` field: Redis's letters for the states the proxy keeps per client, in Redis's order
 * (networking.c getClientInfoString): `P` subscribed, `x` in MULTI, `b` blocked, `r` READONLY,
 * `e` no-evict, then Redis 7.2's `T` no-touch; `N` for none. Flags of states that live on the
 * shard's connection only (`d` a watched key changed) or that a proxy client cannot be in
 * (replica, master, tracking, unix socket) are never shown.
 */
export function clientFlags(c: Pick<QueryableClient, 'noEvict' | 'noTouch' | 'readOnly' | 'multiQueued' | 'blocked' | 'pubsub'>): string {
  let flags = '';
  if (c.pubsub !== null && c.pubsub.channel.size + c.pubsub.pattern.size + c.pubsub.shard.size > 0) flags += 'P';
  if (c.multiQueued >= 0) flags += 'x';
  if (c.blocked) flags += 'b';
  if (c.readOnly) flags += 'r';
  if (c.noEvict) flags += 'e';
  if (c.noTouch) flags += 'T';
  return flags === '' ? 'N' : flags;
}

/**
 * Redis's CLIENT LIST line with the fields a proxy can fill honestly, in Redis's order: no fd
 * (the proxy's sockets are not the shard's), none of Redis's buffer sizes (qbuf ... tot-mem,
 * events: they describe a redis-server's own buffers). `cmd` is read from the command id the
 * reply ring keeps anyway (ClientConnection.lastCommand): nothing is stored per command for it.
 */
export function clientLine(c: Omit<QueryableClient, 'kill' | 'endAfterReplies'>, laddr: string, now: number): string {
  const age = Math.floor((now - c.createdAt) / 1000);
  const idle = Math.floor((now - c.lastActive) / 1000);
  const subs = c.pubsub;
  const counts = subs === null ? 'sub=0 psub=0 ssub=0' : `sub=${subs.channel.size} psub=${subs.pattern.size} ssub=${subs.shard.size}`;
  return `id=${c.id} addr=${c.remote} laddr=${laddr} fd=-1 name=${c.name} age=${age} idle=${idle} flags=${clientFlags(c)} db=0 ${counts} multi=${c.multiQueued} cmd=${c.lastCommand} user=${c.user.name} redir=-1 resp=${c.proto}`;
}

/** Run `query` on this worker's clients. */
export function runLocalQuery(clients: Iterable<QueryableClient>, laddr: string, query: ClientQuery, now = Date.now()): ClientQueryResult {
  if (query.op !== 'list' && query.op !== 'kill') throw new Error(`${query.op} is applied by the ClientDirectory`);
  const picked = [...clients].filter((c) => matches(c, query.filter, laddr));
  if (query.op === 'list') return { lines: picked.map((c) => clientLine(c, laddr, now)), killed: 0 };
  for (const c of picked) {
    if (c.id === query.callerId) c.endAfterReplies();
    else c.kill();
  }
  return { lines: [], killed: picked.length };
}

export const CLIENT_ERRORS = {
  noSuchClient: errorReply('ERR No such client'),
  idPositive: errorReply('ERR client-id should be greater than 0'),
  invalidId: errorReply('ERR Invalid client ID'),
};

/**
 * Parse `CLIENT KILL ...` (Redis 7.0's clientKillCommand rules). Returns the query, whether the
 * old `CLIENT KILL addr` form was used (it answers +OK or "No such client"), or an error reply.
 */
export function parseKill(args: Buffer[], callerId: number): { query: ClientQuery; oldForm: boolean } | Buffer {
  if (args.length === 3) return { query: { op: 'kill', filter: { addr: args[2].toString('latin1') }, callerId }, oldForm: true };
  const filter: ClientFilter = { skipId: callerId };
  for (let i = 2; i < args.length; i += 2) {
    if (i + 1 >= args.length) return errorReply('ERR syntax error');
    const opt = args[i].toString('latin1').toLowerCase();
    const value = args[i + 1].toString('latin1');
    if (opt === 'id') {
      if (!/^-?\d{1,18}$/.test(value) || Number(value) <= 0) return CLIENT_ERRORS.idPositive;
      filter.ids = [Number(value)];
    } else if (opt === 'addr') filter.addr = value;
    else if (opt === 'laddr') filter.laddr = value;
    else if (opt === 'user') {
      if (value !== 'default') return errorReply(`ERR No such user '${value.replace(/[\r\n]/g, ' ')}'`);
      filter.user = value;
    } else if (opt === 'skipme') {
      const v = value.toLowerCase();
      if (v === 'yes') filter.skipId = callerId;
      else if (v === 'no') delete filter.skipId;
      else return errorReply('ERR syntax error');
    } else if (opt === 'type') {
      const t = value.toLowerCase();
      if (t === 'master' || t === 'replica' || t === 'slave' || t === 'pubsub') filter.none = true;
      else if (t !== 'normal') return errorReply(`ERR Unknown client type '${value.replace(/[\r\n]/g, ' ')}'`);
    } else return errorReply('ERR syntax error');
  }
  return { query: { op: 'kill', filter, callerId }, oldForm: false };
}

/** `CLIENT LIST [TYPE t] [ID id ...]`. */
export function parseList(args: Buffer[]): ClientQuery | Buffer {
  const filter: ClientFilter = {};
  for (let i = 2; i < args.length; i++) {
    const opt = args[i].toString('latin1').toLowerCase();
    if (opt === 'type' && i + 1 < args.length) {
      const t = args[++i].toString('latin1').toLowerCase();
      if (t === 'master' || t === 'replica' || t === 'slave' || t === 'pubsub') filter.none = true;
      else if (t !== 'normal') return errorReply(`ERR Unknown client type '${args[i].toString('latin1').replace(/[\r\n]/g, ' ')}'`);
    } else if (opt === 'id' && i + 1 < args.length) {
      filter.ids = [];
      for (i++; i < args.length; i++) {
        const v = args[i].toString('latin1');
        if (!/^\d{1,18}$/.test(v) || Number(v) <= 0) return CLIENT_ERRORS.invalidId;
        filter.ids.push(Number(v));
      }
    } else return errorReply('ERR syntax error');
  }
  return { op: 'list', filter };
}
