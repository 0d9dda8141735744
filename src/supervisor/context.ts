/**
 * What the primary offers to the features that run in it: primary plugins (src/<folder>/
 * primary-plugin.ts) get a `PrimaryContext`, the core admin routes (src/admin/routes.ts) an
 * `AdminContext`. Both are interfaces so that features depend on what they use, not on the
 * Supervisor class, and can be tested with a fake.
 */
import type { AdminRoutes } from '../admin/AdminServer';
import type { Registry } from '../admin/metrics';
import type { KvstoreConfig } from '../config/types';
import type { Logger } from '../log';
import type { ClientQuery, ClientQueryResult } from '../proxy/clients/ClientQuery';
import type { TopologySnapshot } from '../topology/types';
import type { EpochBarrier } from './EpochBarrier';
import type { ListenAddress } from './listen';
import type { ActivityAnswers, PrimaryToWorker, ScriptChange, WorkerStats } from './messages';
import type { AggregatedStats } from './stats';
import type { PreCommitHook, TopologyMutation } from './TopologyPublisher';
import type { WorkerInfo } from './WorkerPool';

export type { AdminRoutes };

/** Topology change notifications (after the change is persisted, before the workers acked it). */
/** What a config reload did (ConfigReloader; here so the context does not import it). */
export interface ReloadResult {
  epoch: number;
  applied: string[];
  warnings: string[];
}

export interface TopologyChanges {
  on(event: 'change', listener: (snapshot: TopologySnapshot) => void): unknown;
  off(event: 'change', listener: (snapshot: TopologySnapshot) => void): unknown;
}

export interface PrimaryContext {
  /** The running config (replaced on reload: read it when needed, do not keep it). */
  readonly config: KvstoreConfig;
  /** The current topology snapshot. */
  readonly topology: TopologySnapshot;
  readonly topologyChanges: TopologyChanges;
  readonly log: Logger;
  /** Add admin endpoints. */
  readonly admin: AdminRoutes;
  /**
   * The primary's prom-client registry (GET /metrics): `gaugeFrom(ctx.metrics, name, help, read)`
   * (src/admin/metrics.ts) or any prom-client metric with `registers: [ctx.metrics]`.
   */
  readonly metrics: Registry;
  /**
   * Change the topology: persisted, pushed to every worker, and resolved once every epoch
   * barrier passed it (every ready worker routes by it). Rejects (TopologyError) on timeout.
   */
  updateTopology(mutate: TopologyMutation, timeoutMs?: number): Promise<TopologySnapshot>;
  /** Push the current topology again and wait at the barriers. */
  publishTopology(timeoutMs?: number): Promise<TopologySnapshot>;
  /** One more barrier every topology change waits for (e.g. the other proxies of a fleet). */
  addEpochBarrier(barrier: EpochBarrier): void;
  /** The workers and their state. */
  workerInfo(): WorkerInfo[];
  /** Called whenever a worker (new or restarted) listens. */
  onWorkerReady(listener: (workerId: number) => void): void;
  /** Send a message to every ready worker (e.g. backend health for INFO). */
  broadcastToWorkers(message: PrimaryToWorker): void;
  /** GET /stats: counters summed over the workers. */
  aggregatedStats(): Promise<AggregatedStats>;
  /** Scripts or functions changed through a worker (src/scripts/). */
  onScriptChange(listener: (change: ScriptChange) => void): void;
  /**
   * Run `hook(current, next)` before every topology change is committed and pushed (it may
   * prepare servers the change starts routing to). A hook that throws aborts the change.
   */
  beforeTopologyChange(hook: PreCommitHook): void;
  /** Each ready worker's own stats, as it answered (e.g. hot keys, latency histograms). */
  workerStats(): Promise<WorkerStats[]>;
  /**
   * Run a query on every ready worker now and add up the answers (src/supervisor/ClientsRelay.ts):
   * for what is too big to send with every stats answer (SLOWLOG entries). A worker that does not
   * answer in time is left out of a read; a change that misses one rejects (WorkersQueryError).
   */
  queryWorkers(query: ClientQuery): Promise<ClientQueryResult>;
  /**
   * What the workers have in flight on these backends (src/proxy/BackendActivity.ts), asked by
   * the health checks when a server is silent; workers that do not answer within `timeoutMs` are left
   * out (the answer says it is incomplete), and it is null when none answered.
   */
  backendActivity(addresses: string[], timeoutMs: number): Promise<ActivityAnswers | null>;
}

/** The core admin endpoints' view: a plugin's context plus the primary's own state. */
export interface AdminContext extends PrimaryContext {
  /** Where clients connect (known once a worker listens). */
  readonly clientAddress: ListenAddress | undefined;
  /** Where the admin API listens (known once it listens). */
  readonly adminAddress: ListenAddress | undefined;
  /** The running config without secrets. */
  redactedConfig(): KvstoreConfig;
  reload(): Promise<ReloadResult>;
  /** Prometheus text of every metric. */
  renderMetrics(): Promise<string>;
  /** A fleet of proxies (coordination.etcd): this proxy's view; undefined for a single proxy. */
  readonly fleet?: { status(): unknown };
}
