/**
 * The topology: which shards exist, who their masters are, which slots each owns, and what is
 * moving. The primary process owns it; workers receive a TopologySnapshot over IPC, replaced
 * whole, and never change it themselves. `GET /topology` returns the same shape (fixed fields:
 * epoch, mode, shards[].name/master/replicas/state/slots).
 */
import type { HashAlgorithm, Mode } from '../config/types';

export const SLOT_COUNT = 16384;

/** up: serving. down: failed health checks (store mode: no master; cache mode: ejected). */
export type ShardState = 'up' | 'down' | 'joining' | 'draining';

export type SlotRange = [first: number, last: number];

export interface ShardInfo {
  name: string;
  master: string; // "host:port"
  replicas: string[];
  state: ShardState;
  /** Slots this shard owns, as inclusive ranges. */
  slots: SlotRange[];
}

/** A slot range being moved from one shard to another (online resharding). */
export interface MigrationInfo {
  first: number;
  last: number;
  from: string; // shard name
  to: string; // shard name
  /**
   * Announced but not started: workers hold commands on these slots (sending them to neither
   * shard) until the primary clears the flag, so nothing sent to `from` under an older epoch is
   * still in flight when keys start moving.
   */
  pending?: boolean;
}

export interface KeyRewriteRule {
  pattern: string;
  generation: number;
}

export interface TopologySnapshot {
  epoch: number;
  mode: Mode;
  hash: HashAlgorithm;
  shards: ShardInfo[];
  /**
   * Where each slot is served right now, as base64 of a Uint16Array(16384) of indexes into
   * `shards`. Usually equal to the owners in `shards[].slots`, but in cache mode the primary
   * points a down shard's slots at healthy shards. Absent = derive from `slots`.
   */
  routing?: string;
  migrations: MigrationInfo[];
  keyRewrite: KeyRewriteRule[];
  /**
   * Scripts and functions clients loaded through Kvstore (src/scripts/): loaded on every master
   * a change starts routing to before it is pushed. Absent = none.
   */
  scripts?: ScriptRegistryState;
}

export interface ScriptRegistryState {
  /** SCRIPT LOAD bodies, base64 (Lua source may be binary). */
  lua: string[];
  /** FUNCTION DUMP of the libraries, base64 ('' = none). */
  functions: string;
}
