/**
 * IPC between the primary and its workers (node:cluster, JSON messages). The primary pushes the
 * whole topology; workers report stats when asked. Every message has a `type`.
 */
import type { ObservabilityStats } from '../observability/WorkerObservability';
import type { MetricsJson } from '../admin/metrics';
import type { ClientQuery, ClientQueryResult } from '../proxy/clients/ClientQuery';
import type { KvstoreConfig } from '../config/types';
import type { TopologySnapshot } from '../topology/types';
import type { FenceSpec } from '../proxy/LeaseFence';

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
   * no deadline (etcd unreachable for everyone: serve the last topology); past it, refuse what
   * `fence` says (absent: everything). See src/proxy/LeaseFence.ts.
   */
  | { type: 'fleet-lease'; validUntil: number | null; fence?: FenceSpec }
  /** Run a CLIENT LIST/KILL/PAUSE/UNBLOCK or SLOWLOG/latency query on this worker (src/supervisor/ClientsRelay.ts). */
  | { type: 'clients-local'; queryId: number; query: ClientQuery }
  /** The merged answer to this worker's `clients-query`. */
  | { type: 'clients-result'; requestId: number; result?: ClientQueryResult; error?: string }
  /** Health checks: what this worker has in flight on these backends (src/proxy/BackendActivity.ts). */
  | { type: 'activity-request'; requestId: number; addresses: string[] };

/**
 * One worker's view of one backend, taken on request when a health check's PING is slow
 * (src/failover/HealthChecker.ts): is the server's silence explained by a command that may run
 * long, or did it answer this worker recently?
 */
/** The workers' answers to one `activity-request` (src/supervisor/ActivityRelay.ts). */
export interface ActivityAnswers {
  /** One entry per worker that has something on one of the backends asked about. */
  backends: BackendActivity[];
  /** Every ready worker answered (else the evidence is partial: a missing worker may hold the explanation). */
  complete: boolean;
}

export interface BackendActivity {
  address: string;
  /** Requests written to it and not answered, over this worker's connections to it. */
  inFlight: number;
  /** Age of the oldest of them, ms (-1: none, or unknown). */
  oldestMs: number;
  /** Since the last reply read from it, ms (-1: none read yet). */
  lastReplyMs: number;
  /**
   * A command that may run long (a script, KEYS, ...) in flight since the server fell silent —
   * or abandoned by a failed connection and not finished as far as this worker knows; null if none.
   */
  slow: { command: string; kind: 'script' | 'other'; ms: number } | null;
}

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
  | { type: 'clients-local-result'; queryId: number; result: ClientQueryResult }
  | { type: 'activity'; requestId: number; backends: BackendActivity[] };

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
  /** The worker process's own memory (process.memoryUsage()), the JS side of what it holds. */
  memory?: WorkerMemoryStats;
  /** Pub/sub of this worker (src/proxy/pubsub/PubSubHub.ts). */
  pubsub?: PubSubStats;
}

/** process.memoryUsage() of one worker, bytes. */
export interface WorkerMemoryStats {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  /** Memory of C++ objects bound to JS objects, Buffers included. */
  external: number;
  /** ArrayBuffers and Buffers (part of external). */
  arrayBuffers: number;
}

export interface PubSubStats {
  /** Open subscriber connections to the shards (one per shard in use). */
  subscriberConnections: number;
  /** Subscribed clients disconnected for output over limits.pubsubOutput*. */
  slowClientsCut: number;
  /** The most output one subscribed client had not handed to the kernel after a write, since start. */
  peakClientOutput: number;
}
