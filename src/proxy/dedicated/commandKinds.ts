/**
 * What each command of the `dedicated` routing class is to a session (src/commands/commands.json
 * gives the class: the transaction commands, WAIT, CLIENT KILL/UNBLOCK and every command Redis
 * flags `blocking`, see src/commands/routing.ts), and the `write` flag WAIT needs, as arrays by
 * command id.
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
export const KIND_OF: Uint8Array = Uint8Array.from(commands, (c) => (c.routing !== 'dedicated' ? Kind.None : NAMED[c.name] ?? Kind.Blocking));

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
