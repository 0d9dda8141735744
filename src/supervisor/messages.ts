/**
 * IPC between the primary and its workers (node:cluster, JSON messages). The primary pushes the
 * whole topology; workers report stats when asked. Every message has a `type`.
 */
import type { ObservabilityStats } from '../observability/WorkerObservability';
import type { MetricsJson } from '../admin/metrics';
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
  | { type: 'backend-health'; backends: BackendHealthSummary[] };

export interface BackendHealthSummary {
  address: string;
  shard: string | null;
  role: 'master' | 'replica' | null;
  state: 'up' | 'down';
  lastError: string | null;
}

export type WorkerToPrimary =
  | { type: 'ready'; pid: number; address?: { host: string; port: number } }
  /** The worker cannot run (e.g. the port is taken); it exits right after. */
  | { type: 'fatal'; message: string; code?: string }
  /** Acknowledges that the worker routes by `epoch` now (topology changes wait for all acks). */
  | { type: 'topology-ack'; epoch: number }
  /** `metrics`: the worker's prom-client registry as JSON (src/supervisor/workerMetrics.ts). */
  | { type: 'stats'; requestId: number; stats: WorkerStats; metrics: MetricsJson };

export interface WorkerStats {
  pid: number;
  nativeEnabled: boolean;
  /** The data path's sockets are the addon's (src/proxy/io); clients served that way. */
  nativeIo?: boolean;
  nativeIoClients?: number;
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
