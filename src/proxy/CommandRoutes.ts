/**
 * The command table reshaped for dispatch: one small fixed-shape object per command id, with the
 * routing class as a number and the error replies that never change prebuilt, so the per-command
 * path does one array load and a switch.
 */
import { commands, compileForNative } from '../commands/table';
import type { RoutingClass } from '../commands/types';
import type { CompiledCommandTable } from '../native/api';
import { errorReply } from './Resp';

export const enum Route {
  Single = 1,
  Split = 2,
  SameSlot = 3,
  Proxy = 4,
  AllShards = 5,
  NoKey = 6,
  Unsupported = 7,
  /** Transactions, blocking commands, WAIT, CLIENT KILL/UNBLOCK: src/proxy/dedicated/. */
  Dedicated = 8,
  /** Pub/sub: src/proxy/pubsub/. */
  PubSub = 9,
  /**
   * SORT, SORT_RO: same-slot commands (`sameslot` in commands.json) with Redis Cluster's option
   * checks first (SortCommand.ts). A dispatch route only: no routing class of the table.
   */
  Sort = 10,
}

/** Commands of a table class that dispatch takes through a route of their own. */
const REFINED = new Map<string, Route>([['sort', Route.Sort], ['sort_ro', Route.Sort]]);

const ROUTE_OF: Record<RoutingClass, Route> = {
  single: Route.Single,
  split: Route.Split,
  sameslot: Route.SameSlot,
  proxy: Route.Proxy,
  allshards: Route.AllShards,
  nokey: Route.NoKey,
  unsupported: Route.Unsupported,
  dedicated: Route.Dedicated,
  pubsub: Route.PubSub,
};

/** Not flagged `write` in COMMAND, but held by CLIENT PAUSE WRITE in Redis 7.0 (may-replicate). */
const MAY_REPLICATE = new Set(['eval', 'evalsha', 'fcall', 'publish', 'spublish']);

/** Commands a client may run before AUTH when a password is set (as Redis allows). */
const NO_AUTH_NEEDED = new Set(['auth', 'hello', 'quit', 'reset']);

export class CommandRoute {
  constructor(
    readonly id: number,
    /** Redis 7 full name, lowercase: `get`, `client|setname`. */
    readonly name: string,
    /** The dispatcher's handler: the table class, or a refinement of it (Route.Sort). */
    readonly route: Route,
    readonly arity: number,
    readonly noAuth: boolean,
    /** True for containers (CLIENT, OBJECT, ...): a bare unknown subcommand lands here. */
    readonly isContainer: boolean,
    /** Prebuilt replies: wrong arity, and for 'unsupported' the refusal. */
    readonly arityError: Buffer,
    readonly refusal: Buffer | null,
    /** The command table's `readonly` flag: a READONLY client may have it served by a replica. */
    readonly readOnly = false,
    /** Held by CLIENT PAUSE WRITE (Redis: write and may-replicate commands: EVAL, FCALL, ...). */
    readonly isWrite = false,
    /** The routing class of commands.json (equal to `route` but for refined commands). */
    readonly tableRoute: Route = route,
  ) {
    this.pairs = name === 'mset';
    this.pausable = name !== 'client|unpause';
  }

  /** CLIENT PAUSE holds it (all but CLIENT UNPAUSE, so a paused proxy can always be resumed). */
  readonly pausable: boolean;

  /** MSET takes key/value pairs: an even argument count is Redis's arity error too. */
  readonly pairs: boolean;

  arityOk(argc: number): boolean {
    const a = this.arity;
    if (this.pairs && (argc & 1) === 0) return false;
    return a >= 0 ? argc === a : argc >= -a;
  }
}

export interface CommandRoutes {
  routes: CommandRoute[];
  compiled: CompiledCommandTable;
  byName: Map<string, CommandRoute>;
}

let cached: CommandRoutes | null = null;

export function commandRoutes(): CommandRoutes {
  if (cached) return cached;
  const containers = new Set(commands.filter((c) => c.container).map((c) => c.container!));
  const routes = commands.map((c, id) => {
    const upper = c.name.toUpperCase().replace('|', ' ');
    const refusal =
      c.routing === 'unsupported' ? errorReply(`ERR Kvstore does not support ${upper}: ${c.reason ?? 'not supported'}`) : null;
    return new CommandRoute(
      id,
      c.name,
      REFINED.get(c.name) ?? ROUTE_OF[c.routing],
      c.arity,
      NO_AUTH_NEEDED.has(c.name),
      containers.has(c.name),
      errorReply(`ERR wrong number of arguments for '${c.name}' command`),
      refusal,
      c.flags.includes('readonly'),
      c.flags.includes('write') || MAY_REPLICATE.has(c.name),
      ROUTE_OF[c.routing],
    );
  });
  cached = { routes, compiled: compileForNative(), byName: new Map(routes.map((r) => [r.name, r])) };
  return cached;
}
