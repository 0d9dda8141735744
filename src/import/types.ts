/**
 * The import job's request and status shapes (admin API JSON, `kvstore ctl import-status --json`).
 */

/** What to do with a key Kvstore already holds when the import starts. */
export type OnExisting = 'skip' | 'replace' | 'fail';

export interface ImportRequest {
  /** Source redis-server, HOST:PORT. */
  from: string;
  user?: string;
  password?: string;
  /** SCAN MATCH glob on the source (default `*`). */
  match?: string;
  /** Removed from the front of every imported key name that starts with it. */
  stripPrefix?: string;
  /** Full-pass pace in keys per second (0: unpaced). */
  rate?: number;
  onExisting?: OnExisting;
  /** Keys per SCAN page and per copy batch. */
  batchKeys?: number;
  /** Keys whose MEMORY USAGE is above this (hash, set, zset) are copied in chunks, not DUMPed. */
  bigKeyBytes?: number;
}

export type ImportState = 'running' | 'done' | 'failed' | 'cancelled';

/**
 * check: looking for keys Kvstore already holds (skip/fail); copy: the full pass;
 * refresh: a second pass after a restart or a lost subscription (changes may have been missed);
 * live: applying the source's changes; cutover: draining what is pending, then done.
 */
export type ImportPhase = 'check' | 'copy' | 'refresh' | 'live' | 'cutover';

export interface ImportInfo {
  id: number;
  kind: 'import';
  state: ImportState;
  phase: ImportPhase;
  from: string;
  user?: string;
  match: string;
  stripPrefix?: string;
  rate: number;
  onExisting: OnExisting;
  batchKeys: number;
  bigKeyBytes: number;
  createdAt: string;
  finishedAt?: string;
  error?: string;
  /** Times the job was picked up again after a restart of the proxy. */
  resumed: number;
  /** Source DBSIZE when the current pass started (progress basis). */
  keysToScan: number;
  /** Keys the current pass has scanned. */
  keysScanned: number;
  /** Keys written by the passes (RESTORE or chunked copy), all passes together. */
  keysCopied: number;
  /** Of those, copied in chunks (big hash/set/zset). */
  bigKeys: number;
  /** Found in Kvstore before the import and left alone (onExisting: skip). */
  keysSkipped: number;
  /** Gone or expired between SCAN and the copy. */
  keysVanished: number;
  /** Changes applied by the live phase: keys copied again / deleted. */
  liveCopied: number;
  liveDeleted: number;
  /** Changed keys waiting to be copied again. */
  pending: number;
  /** Age of the oldest pending change (ms); 0 when nothing is pending. */
  lagMs: number;
  /** The full pass is done and nothing is pending: Kvstore has every change the source announced. */
  caughtUp: boolean;
  /** `ctl import --cutover` asked for the end. */
  cutoverRequested: boolean;
  keysPerSecond: number;
  elapsedMs: number;
  passes: number;
}
