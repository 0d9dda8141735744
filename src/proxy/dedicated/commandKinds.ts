/**
 * Which commands need a dedicated backend connection, and how, derived from the command table
 * (src/commands/commands.json): every command Redis flags `blocking` (so a new blocking command
 * in a later table is never forwarded on a shared connection by mistake), the transaction
 * commands, WAIT, and the CLIENT subcommands that act on the proxy's own clients. Kept apart
 * from the routing classes of commands.json so the table's generator stays untouched; the
 * dispatcher maps these ids to its `dedicated` route (CommandRoutes.ts).
 */
import { commands } from '../../commands/table';

export const enum Kind {
  None = 0,
  Multi,
  Exec,
  Discard,
  Watch,
  Unwatch,
  /** Blocks on the server (BLPOP, ...); XREAD/XREADGROUP only with BLOCK. */
  Blocking,
  Wait,
  ClientUnblock,
  ClientKill,
}

const NAMED: Record<string, Kind> = {
  multi: Kind.Multi,
  exec: Kind.Exec,
  discard: Kind.Discard,
  watch: Kind.Watch,
  unwatch: Kind.Unwatch,
  wait: Kind.Wait,
  'client|unblock': Kind.ClientUnblock,
  'client|kill': Kind.ClientKill,
};

/** Kind of each command id (Kind.None for ordinary commands). */
export const KIND_OF: Uint8Array = Uint8Array.from(commands, (c) => NAMED[c.name] ?? (c.flags.includes('blocking') ? Kind.Blocking : Kind.None));

/** 1 for commands Redis flags `write` (WAIT counts the shards a client wrote to). */
export const WRITES: Uint8Array = Uint8Array.from(commands, (c) => (c.flags.includes('write') ? 1 : 0));

/** Names of the commands served on dedicated connections (docs, tests). */
export function dedicatedCommandNames(): string[] {
  return commands.filter((_, id) => KIND_OF[id] !== Kind.None).map((c) => c.name);
}

/** What docs/commands.md says about each of them. */
export const DEDICATED_NOTES: Record<string, string> = {
  multi: 'Answered by the proxy; the transaction goes to the shard of its first key (or WATCH) on a dedicated connection.',
  exec: "The shard's EXEC reply, byte for byte; `-EXECABORT` after a queue-time error (CROSSSLOT included).",
  discard: 'Ends the transaction; the dedicated connection goes back to the pool.',
  watch: 'On a dedicated connection to the slot of its keys; every key of the transaction must be in that slot.',
  unwatch: 'Gives the dedicated connection back.',
  wait: 'Answered by the proxy: the minimum over the shards this client wrote to since its last WAIT of the replicas that acknowledged those writes.',
  'client|unblock': "The proxy's client ids; unblocks a client blocked in a blocking command.",
  'client|kill': "The proxy's clients (this worker's): `CLIENT KILL addr` and the ID / ADDR / USER / SKIPME / TYPE filters.",
  xread: 'Without BLOCK: same slot, shared connection. With BLOCK: a dedicated connection while it waits.',
  xreadgroup: 'Without BLOCK: same slot, shared connection. With BLOCK: a dedicated connection while it waits.',
};
export const BLOCKING_NOTE = 'Keys in one slot; waits on a dedicated connection (timeouts as Redis, 0 = forever); the client\'s later commands run after it.';
