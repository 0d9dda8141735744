/**
 * IPC between the primary and its workers (node:cluster, JSON messages). The primary pushes the
 * whole topology; workers report stats when asked. Every message has a `type`.
 */
import type { ObservabilityStats } from '../observability/WorkerObservability';
import type { MetricsJson } from '../admin/metrics';
import type { ClientQuery, ClientQueryResult } from '../proxy/clients/ClientQuery';
import type { KvstoreConfig } from '../config/types';
import type { TopologySnapshot } from '../topology/types';

export type PrimaryToWorker =
  /** First message to a new worker: build the proxy, listen, answer `ready` (or `fatal`). */
  | { type: 'init'; config: KvstoreConfig; snapshot: TopologySnapshot }
  | { type: 'topology'; snapshot: TopologySnapshot }
  /** Reply with a `stats` message carrying the same `requestId`. */
  | { type: 'stats-request'; requestId: number }
  /** Live-applicable config (limits, passwords) after a reload. */
  | { type: 'config'; config: unknown }
  /** Stop accepting, drain in-flight requests within `drainMs`, then exit 0. */
  | { type: 'shutdown'; drainMs: number }
  /** Health of every backend (failover's checks in the primary), for INFO; sent on every change. */
  | { type: 'backend-health'; backends: BackendHealthSummary[] }
  /**
   * Fleet (coordination): serve until `validUntil` (ms since the epoch) unless renewed; null =
   * no deadline (etcd unreachable for everyone: serve the last topology). See src/proxy/LeaseFence.ts.
   */
  | { type: 'fleet-lease'; validUntil: number | null }
  /** Run a CLIENT LIST/KILL/PAUSE/UNBLOCK or SLOWLOG/latency query on this worker (src/supervisor/ClientsRelay.ts). */
  | { type: 'clients-local'; queryId: number; query: ClientQuery }
  /** The merged answer to this worker's `clients-query`. */
  | { type: 'clients-result'; requestId: number; result?: ClientQueryResult; error?: string };

export interface BackendHealthSummary {
  address: string;
  shard: string | null;
  role: 'master' | 'replica' | null;
  state: 'up' | 'down';
  lastError: string | null;
  /** Replicas, while readFrom is not master: replication lag in ms; null = unknown or link down (src/failover/ReplicaLag.ts). */
  lagMs?: number | null;
}

export type WorkerToPrimary =
  | { type: 'ready'; pid: number; address?: { host: string; port: number } }
  /** The worker cannot run (e.g. the port is taken); it exits right after. */
  | { type: 'fatal'; message: string; code?: string }
  /** Acknowledges that the worker routes by `epoch` now (topology changes wait for all acks). */
  | { type: 'topology-ack'; epoch: number }
  /** `metrics`: the worker's prom-client registry as JSON (src/supervisor/workerMetrics.ts). */
  | { type: 'stats'; requestId: number; stats: WorkerStats; metrics: MetricsJson }
  /** A client changed the shards' scripts or functions through this worker (src/scripts/). */
  | ScriptChange
  /** A client asked CLIENT LIST/KILL/PAUSE/UNBLOCK, SLOWLOG or INFO latencystats: run it on every worker. */
  | { type: 'clients-query'; requestId: number; query: ClientQuery }
  | { type: 'clients-local-result'; queryId: number; result: ClientQueryResult };

/**
 * `script`: SCRIPT LOAD of `body` (base64) succeeded on every shard; `script-flush`: SCRIPT FLUSH;
 * `functions`: FUNCTION LOAD/DELETE/FLUSH/RESTORE succeeded (the primary re-reads FUNCTION DUMP).
 */
export type ScriptChange = { type: 'script'; body: string } | { type: 'script-flush' } | { type: 'functions' };

/** Native buffered bytes of one worker (src/proxy/io/NativeStream.ts nativeIoTotals). */
export interface NativeBufferStats {
  streams: number;
  /** Output appended or in flight, not taken by the kernel yet (all streams). */
  outputQueued: number;
  /** Output buffer capacity the streams hold. */
  outputAllocated: number;
  /** Spare output buffers kept for reuse. */
  poolBytes: number;
  /** Read bytes not handed to JS yet (0 between event-loop turns). */
  inputHeld: number;
  /** The shared read buffer (fixed, 1 MiB). */
  arenaBytes: number;
  /** Per-stream native state (handle and bookkeeping) of all streams. */
  streamStateBytes: number;
  /** The most output one stream has queued, and the most output buffer one stream holds. */
  maxStreamQueued: number;
  maxStreamAllocated: number;
}

export interface WorkerStats {
  pid: number;
  nativeEnabled: boolean;
  /** The data path's sockets are the addon's (src/proxy/io); clients served that way. */
  nativeIo?: boolean;
  nativeIoClients?: number;
  /** Bytes the addon's sockets hold outside the JS heap (absent without them). */
  nativeBuffers?: NativeBufferStats;
  epoch: number;
  clients: number;
  totalConnections: number;
  commands: Record<string, { calls: number; errors: number }>;
  totalCommands: number;
  totalErrors: number;
  backends: Record<string, { address: string; connected: boolean; pending: number; errors: number }>;
  /** Latency histograms, SLOWLOG, hot and big keys of this worker (src/observability). */
  observability?: ObservabilityStats;
}
