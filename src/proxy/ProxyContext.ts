/**
 * What a client connection needs from its server: the settings in force, the router, the
 * command routes, the hooks and the counters. One per ProxyServer.
 */
import type { KvstoreConfig } from '../config/types';
import type { Logger } from '../log';
import type { BackendHealthSummary, ScriptChange } from '../supervisor/messages';
import type { ClientDirectory, PausableClient } from './clients/ClientDirectory';
import type { CommandRoute } from './CommandRoutes';
import type { Clock } from './Clock';
import type { Router } from './Router';
import type { EngineOptions, HotPathBinding } from './HotPathBinding';
import type { ProxyHooks } from './Hooks';
import type { WorkerSecurity } from '../security/WorkerSecurity';
import type { WorkerObservability } from '../observability/WorkerObservability';
import type { DedicatedPool } from './dedicated/DedicatedPool';
import type { LeaseFence } from './LeaseFence';
import type { PubSubHub } from './pubsub/PubSubHub';

/** The limits in force (config.limits; replaced whole on reload). */
export type ProxyLimits = KvstoreConfig['limits'];

export interface ProxyCounters {
  totalConnections: number;
  totalCommands: number;
  totalErrors: number;
  rejectedConnections: number;
  protocolErrors: number;
}

export interface ClientInfo extends PausableClient {
  readonly id: number;
  readonly remote: string;
  readonly createdAt: number;
  name: string;
  /** Close now (CLIENT KILL). */
  kill(): void;
}

export interface ProxyContext {
  config: KvstoreConfig;
  engine: EngineOptions;
  readonly binding: HotPathBinding;
  /** Client and backend sockets are the addon's (src/proxy/io/NativeStream.ts). */
  readonly nativeIo: boolean;
  readonly router: Router;
  readonly routes: CommandRoute[];
  readonly routeByName: Map<string, CommandRoute>;
  readonly hooks: ProxyHooks;
  /** Users, ACL checks and rate limits (src/security/WorkerSecurity.ts). */
  readonly security: WorkerSecurity;
  /** Latency histograms, SLOWLOG, hot and big keys (src/observability/WorkerObservability.ts). */
  readonly observe: WorkerObservability;
  /** A fleet proxy's lease deadline (see LeaseFence); inert outside a fleet. */
  readonly fence: LeaseFence;
  /** Per command id: calls and error replies. */
  readonly calls: Float64Array;
  readonly errors: Float64Array;
  readonly counters: ProxyCounters;
  readonly clients: ReadonlySet<ClientInfo>;
  /** Backend connections for transactions, blocking commands and WAIT (src/proxy/dedicated/). */
  readonly dedicated: DedicatedPool;
  /** The worker's pub/sub: subscriptions and its subscriber connection per shard (src/proxy/pubsub/). */
  readonly pubsub: PubSubHub;
  readonly log: Logger;
  /** The data path's clock (real, or a fake in unit tests). */
  readonly clock: Clock;
  readonly startedAt: number;
  /** Backend health from the primary's failover checks (absent until it sends some). */
  backendHealth?: BackendHealthSummary[];
  clientClosed(client: ClientInfo): void;
  /** The proxy's clients across the workers: CLIENT LIST / KILL / PAUSE. */
  readonly clientDirectory: ClientDirectory;
  /** Scripts or functions changed on the shards: tell the primary (src/scripts/). */
  reportScriptChange(change: ScriptChange): void;
}
