/**
 * A worker process (node:cluster). It waits for `init` (config + topology) from the primary,
 * builds the ProxyServer, listens on the shared socket and then follows the primary: topology
 * changes (acked with their epoch), live config, stats requests and shutdown (drain, exit 0).
 * If the primary goes away, the worker drains and exits too: it never runs unsupervised.
 */
import type { ClientDirectory } from '../proxy/clients/ClientDirectory';
import type { ClientQueryResult } from '../proxy/clients/ClientQuery';
import type { KvstoreConfig } from '../config/types';
import { createLogger } from '../log';
import type { TopologySnapshot } from '../topology/types';
import type { FenceSpec } from '../proxy/LeaseFence';
import type { BackendActivity, BackendHealthSummary, PrimaryToWorker, ScriptChange, WorkerStats, WorkerToPrimary } from './messages';
import { WorkerMetrics } from './workerMetrics';

/** The part of src/proxy/ProxyServer the worker drives. */
export interface WorkerProxy {
  listen(): Promise<{ host: string; port: number }>;
  /** May resolve later (the migration barrier); the ack waits for it. */
  applyTopology(snapshot: TopologySnapshot): void | Promise<void>;
  applyConfig(config: KvstoreConfig): void;
  /** Optional: backend health from the primary, for INFO. */
  setBackendHealth?(backends: BackendHealthSummary[]): void;
  /** Optional: requests in flight on these backends, for the primary's health checks (src/proxy/BackendActivity.ts). */
  backendActivity?(addresses: string[]): BackendActivity[];
  /** Optional: the fleet lease deadline (src/proxy/LeaseFence.ts). */
  setFleetLease?(validUntil: number | null, fence?: FenceSpec): void;
  stats(): WorkerStats;
  close(drainMs: number): Promise<void>;
  on(event: 'error', listener: (err: Error) => void): unknown;
  /** The proxy's clients (CLIENT LIST/KILL/PAUSE across workers). */
  readonly clientDirectory?: ClientDirectory;
  /** Scripts or functions changed through this worker: forwarded to the primary (src/scripts/). */
  on(event: 'script-change', listener: (change: ScriptChange) => void): unknown;
}

export type ProxyFactory = (options: { config: KvstoreConfig; topology: TopologySnapshot }) => WorkerProxy;

const logger = createLogger('worker');

function send(message: WorkerToPrimary): void {
  if (process.connected && process.send) process.send(message);
}

export function runWorker(createProxy: ProxyFactory): void {
  let proxy: WorkerProxy | undefined;
  let config: KvstoreConfig | undefined;
  let closing: Promise<void> | undefined;
  const metrics = new WorkerMetrics();
  const clientQueries = new Map<number, { resolve: (r: ClientQueryResult) => void; reject: (e: Error) => void }>();
  let nextClientQuery = 1;

  const shutdown = (drainMs: number, code = 0) => {
    if (!closing) {
      closing = (proxy ? proxy.close(drainMs) : Promise.resolve()).then(
        () => process.exit(code),
        (err) => {
          logger.error({ err }, 'drain failed');
          process.exit(1);
        },
      );
    }
    return closing;
  };

  process.on('message', async (message: PrimaryToWorker) => {
    try {
      switch (message.type) {
        case 'init': {
          config = message.config;
          try {
            proxy = createProxy({ config: message.config, topology: message.snapshot });
          } catch (err) {
            logger.error({ err }, 'cannot create the proxy');
            send({ type: 'fatal', message: `cannot start the proxy: ${(err as Error).message}`, code: (err as { code?: string }).code });
            setTimeout(() => process.exit(70), 50); // EX_SOFTWARE
            return;
          }
          proxy.on('error', (err) => logger.error({ err }, 'proxy error'));
          proxy.on('script-change', (change: ScriptChange) => send(change));
          // CLIENT LIST/KILL/PAUSE reach every worker through the primary (ClientsRelay).
          if (proxy.clientDirectory) {
            proxy.clientDirectory.remote = (query) =>
              new Promise((resolve, reject) => {
                const requestId = nextClientQuery++;
                clientQueries.set(requestId, { resolve, reject });
                send({ type: 'clients-query', requestId, query });
              });
          }
          let address: { host: string; port: number };
          try {
            address = await proxy.listen();
          } catch (err) {
            const e = err as NodeJS.ErrnoException;
            const hint = e.code === 'EADDRINUSE' ? `: ${config.listen.host}:${config.listen.port} is already in use (another kvstore? change listen.port)` : `: ${e.message}`;
            send({ type: 'fatal', message: `cannot listen on ${config.listen.host}:${config.listen.port}${hint}`, code: e.code });
            setTimeout(() => process.exit(78), 50); // EX_CONFIG; let the message reach the primary
            return;
          }
          send({ type: 'topology-ack', epoch: message.snapshot.epoch });
          send({ type: 'ready', pid: process.pid, address });
          break;
        }
        case 'topology':
          await proxy?.applyTopology(message.snapshot);
          send({ type: 'topology-ack', epoch: message.snapshot.epoch });
          break;
        case 'config':
          config = message.config as KvstoreConfig;
          proxy?.applyConfig(config);
          break;
        case 'stats-request':
          if (proxy) {
            const stats = proxy.stats();
            send({ type: 'stats', requestId: message.requestId, stats, metrics: await metrics.json(stats) });
          }
          break;
        case 'shutdown':
          await shutdown(message.drainMs);
          break;
        case 'backend-health':
          proxy?.setBackendHealth?.(message.backends);
          break;
        case 'clients-local':
          if (proxy?.clientDirectory) {
            const queryId = message.queryId;
            // UNBLOCK answers once the shard has; the others at once.
            void Promise.resolve(proxy.clientDirectory.runLocal(message.query)).then(
              (result) => send({ type: 'clients-local-result', queryId, result }),
              (err) => logger.warn({ err }, 'client query failed on this worker'),
            );
          }
          break;
        case 'clients-result': {
          const pending = clientQueries.get(message.requestId);
          clientQueries.delete(message.requestId);
          if (pending && message.result) pending.resolve(message.result);
          else if (pending) pending.reject(new Error(message.error ?? 'no answer'));
          break;
        }
        case 'activity-request': {
          // After this turn's socket reads (the native read batch runs before setImmediate): a
          // worker that was busy must not report replies already waiting for it as missing.
          const { requestId, addresses } = message;
          setImmediate(() => send({ type: 'activity', requestId, backends: proxy?.backendActivity?.(addresses) ?? [] }));
          break;
        }
        case 'fleet-lease':
          proxy?.setFleetLease?.(message.validUntil, message.fence);
          break;
      }
    } catch (err) {
      logger.error({ err, type: message?.type }, 'worker failed to handle a message from the primary');
    }
  });

  // Signals go to the primary, which orchestrates the drain (Ctrl-C reaches the whole group).
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => undefined);
  process.on('SIGHUP', () => undefined);
  process.on('disconnect', () => {
    logger.warn('primary went away; draining and exiting');
    void shutdown(config?.timeouts.shutdownDrainMs ?? 1000);
  });
}
