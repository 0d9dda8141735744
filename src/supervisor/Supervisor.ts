/**
 * The primary process (node:cluster), as a composition root: it loads the config and the
 * persisted topology, and wires the parts that each do one thing:
 *   WorkerPool          fork the workers (each binds its own SO_REUSEPORT socket on Linux with io: native,
 *                       else they share node:cluster's), restart them with backoff
 *   TopologyPublisher   persist a topology change, push it, wait at the EpochBarrier(s)
 *   StatsCollector      worker stats over IPC, kept across restarts, ops/s
 *   ConfigReloader      SIGHUP / POST /reload
 *   shutdownPrimary     drain on SIGTERM (signals.ts installs the handlers)
 *   AdminServer         the admin API; core routes in src/admin/routes.ts
 * Plugins (src/<folder>/primary-plugin.ts) and the admin routes see it only through the
 * `PrimaryContext` / `AdminContext` interfaces (./context.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import cluster from 'node:cluster';
import { AdminServer } from '../admin/AdminServer';
import { Registry, renderRegistries } from '../admin/metrics';
import { registerCoreRoutes } from '../admin/routes';
import { loadConfigFile, redactConfig, resolveWorkerCount } from '../config/load';
import type { KvstoreConfig } from '../config/types';
import { ConfigError, KvstoreError } from '../errors';
import { createLogger, Logger } from '../log';
import { registerFleetRoutes } from '../coordination/adminRoutes';
import { Fleet, fleetEnabled, FleetStatus } from '../coordination/Fleet';
import { initialTopology, TopologyStore } from '../topology/TopologyStore';
import type { TopologySnapshot } from '../topology/types';
import { ConfigReloader, ReloadResult } from './ConfigReloader';
import type { AdminContext, TopologyChanges } from './context';
import { registerCoreMetrics } from './coreMetrics';
import { EpochBarrier, WorkerEpochBarrier } from './EpochBarrier';
import { ListenAddress, ListenPort } from './listen';
import { workersBindOwnSockets } from '../proxy/io/ClientListener';
import type { ClientQuery, ClientQueryResult } from '../proxy/clients/ClientQuery';
import type { ActivityAnswers, PrimaryToWorker, ScriptChange, WorkerStats } from './messages';
import { loadPrimaryPlugins, PrimaryPlugin } from './plugins';
import { removePortFile, writePortFile } from './portFile';
import { reconcileShards } from './reconcile';
import { shutdownPrimary } from './shutdown';
import type { AggregatedStats } from './stats';
import { StatsCollector } from './StatsCollector';
import { ClientsRelay } from './ClientsRelay';
import { ActivityRelay } from './ActivityRelay';
import { PreCommitHook, TopologyMutation, TopologyPersistence, TopologyPublisher } from './TopologyPublisher';
import { WorkerInfo, WorkerPool, WorkerSlot } from './WorkerPool';

export type { ReloadResult } from './ConfigReloader';

export interface SupervisorOptions {
  /** The config file (re-read on reload). */
  configFile: string;
  /** Already loaded config; loaded from `configFile` when absent. */
  config?: KvstoreConfig;
  /** The worker entry script (default: ./worker-main.js next to this file). */
  workerExec?: string;
  logger?: Logger;
  /** Plugins to start (default: every src/<folder>/primary-plugin.js found). */
  plugins?: PrimaryPlugin[];
  /** Where the topology is kept (default: TopologyStore, stateDir/topology.json). */
  topologyStore?: (config: KvstoreConfig) => TopologyPersistence;
}

export class Supervisor implements AdminContext {
  readonly configFile: string;
  readonly logger: Logger;
  /** The primary's metrics (plugins add theirs); the workers' are summed in at render time. */
  readonly metrics = new Registry();
  readonly admin: AdminServer;
  readonly store: TopologyPersistence;
  private currentConfig: KvstoreConfig;
  private readonly plugins: PrimaryPlugin[];
  private readonly listen: ListenPort;
  private readonly pool: WorkerPool;
  private readonly publisher: TopologyPublisher;
  private readonly stats: StatsCollector;
  private readonly activity: ActivityRelay;
  private readonly relay: ClientsRelay;
  private readonly reloader: ConfigReloader;
  private adminListening?: ListenAddress;
  private shutdownPromise?: Promise<void>;
  /** Set with `coordination.etcd.endpoints`: a fleet of proxies sharing the topology through etcd (src/coordination). */
  private readonly fleetPart?: Fleet;

  constructor(options: SupervisorOptions) {
    if (!cluster.isPrimary) throw new KvstoreError('E_SUPERVISOR', 'the supervisor runs in the primary process only');
    this.configFile = options.configFile;
    this.logger = options.logger ?? createLogger('supervisor');
    this.currentConfig = options.config ?? loadConfigFile(options.configFile);
    this.plugins = options.plugins ?? loadPrimaryPlugins(this.logger);

    fs.mkdirSync(this.currentConfig.stateDir, { recursive: true });
    const local = () => new TopologyStore(this.currentConfig.stateDir, initialTopology(this.currentConfig));
    if (options.topologyStore) this.store = options.topologyStore(this.currentConfig);
    else if (fleetEnabled(this.currentConfig)) {
      // the topology lives in etcd; the local file keeps the last one (and seeds an empty etcd)
      this.fleetPart = new Fleet(this.currentConfig, local(), createLogger('fleet'));
      this.store = this.fleetPart.persistence();
    } else this.store = local();
    if (!this.fleetPart) this.checkPersistedTopology();

    // Linux + io: native: every worker binds its own SO_REUSEPORT socket (src/proxy/io/ClientListener.ts)
    this.listen = new ListenPort(this.currentConfig.listen, !workersBindOwnSockets(this.currentConfig.io));
    this.pool = new WorkerPool({
      exec: options.workerExec ?? path.join(__dirname, 'worker-main.js'),
      logger: this.logger,
      init: () => ({ config: this.currentConfig, snapshot: this.store.snapshot }),
      listen: this.listen,
    });
    this.publisher = new TopologyPublisher(this.store, this.pool, new WorkerEpochBarrier(this.pool));
    this.stats = new StatsCollector(this.pool, () => ({ epoch: this.store.snapshot.epoch, mode: this.store.snapshot.mode }));
    this.relay = new ClientsRelay(this.pool, this.logger); // listens to the pool for as long as it lives
    this.activity = new ActivityRelay(this.pool);
    this.reloader = new ConfigReloader({
      configFile: this.configFile,
      current: () => this.currentConfig,
      replace: (config) => (this.currentConfig = config),
      pool: this.pool,
      topology: this.publisher,
      plugins: this.plugins,
      logger: this.logger,
      sharedTopology: !!this.fleetPart,
    });

    this.admin = new AdminServer({ host: this.currentConfig.admin.host, port: this.currentConfig.admin.port, logger: createLogger('admin') });
    registerCoreRoutes(this);
    if (this.fleetPart) this.bindFleet(this.fleetPart);
  }

  /* ---------- PrimaryContext / AdminContext ---------- */

  get config(): KvstoreConfig {
    return this.currentConfig;
  }

  get topology(): TopologySnapshot {
    return this.store.snapshot;
  }

  get topologyChanges(): TopologyChanges {
    return this.store;
  }

  get log(): Logger {
    return this.logger;
  }

  get clientAddress(): ListenAddress | undefined {
    return this.listen.address;
  }

  get adminAddress(): ListenAddress | undefined {
    return this.adminListening;
  }

  updateTopology(mutate: TopologyMutation, timeoutMs?: number): Promise<TopologySnapshot> {
    return this.publisher.update(mutate, timeoutMs);
  }

  publishTopology(timeoutMs?: number): Promise<TopologySnapshot> {
    return this.publisher.publish(timeoutMs);
  }

  /** Resolve when every barrier passed `epoch` (every ready worker acknowledged it). */
  waitForEpoch(epoch: number, timeoutMs?: number): Promise<void> {
    return this.publisher.waitForEpoch(epoch, timeoutMs);
  }

  addEpochBarrier(barrier: EpochBarrier): void {
    this.publisher.addBarrier(barrier);
  }

  workerInfo(): WorkerInfo[] {
    return this.pool.info();
  }

  onWorkerReady(listener: (workerId: number) => void): void {
    this.pool.on('ready', (slot: WorkerSlot) => listener(slot.id));
  }

  broadcastToWorkers(message: PrimaryToWorker): void {
    this.pool.broadcast(message);
  }

  onScriptChange(listener: (change: ScriptChange) => void): void {
    this.pool.on('script-change', listener);
  }

  beforeTopologyChange(hook: PreCommitHook): void {
    this.publisher.beforeChange(hook);
  }

  aggregatedStats(): Promise<AggregatedStats> {
    return this.stats.aggregated();
  }

  backendActivity(addresses: string[], timeoutMs: number): Promise<ActivityAnswers | null> {
    return this.activity.query(addresses, timeoutMs);
  }

  async workerStats(): Promise<WorkerStats[]> {
    return (await this.stats.collect()).map((w) => w.stats);
  }

  queryWorkers(query: ClientQuery): Promise<ClientQueryResult> {
    return this.relay.query(query);
  }

  redactedConfig(): KvstoreConfig {
    return redactConfig(this.currentConfig);
  }

  reload(): Promise<ReloadResult> {
    return this.reloader.reload();
  }

  async renderMetrics(): Promise<string> {
    return renderRegistries([await this.stats.workerMetrics(), this.metrics]);
  }

  /* ---------- lifecycle ---------- */

  /** Start plugins, the admin API and the workers; resolves when every worker listens. */
  async start(): Promise<{ listen: ListenAddress; admin: ListenAddress; workers: number }> {
    if (this.fleetPart) {
      // the fleet's topology is etcd's (read, or seeded from the local one); workers start on it
      try {
        await this.fleetPart.connect();
      } catch (err) {
        await this.fleetPart.stop().catch(() => undefined);
        throw err;
      }
    } else {
      const reconciled = reconcileShards(this.store.snapshot, this.currentConfig);
      if (reconciled.changed) this.store.update(() => reconciled.snapshot);
      for (const w of reconciled.warnings) this.logger.warn(w);
    }

    registerCoreMetrics(this.metrics, {
      uptimeSec: () => this.stats.uptimeSec(),
      workersReady: () => this.pool.ready().length,
      workerRestarts: () => this.pool.restartsTotal,
      opsPerSecond: () => this.stats.opsPerSecond,
      topology: () => this.store.snapshot,
    });
    for (const plugin of this.plugins) {
      if (this.fleetPart && plugin.leaderOnly) continue; // started when this proxy is elected
      await plugin.start(this);
      this.logger.debug({ plugin: plugin.name }, 'plugin started');
    }
    let admin: ListenAddress;
    try {
      admin = await this.admin.listen();
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const { host, port } = this.currentConfig.admin;
      const why = e.code === 'EADDRINUSE' ? 'already in use (another kvstore? change admin.port)' : e.code === 'EADDRNOTAVAIL' ? 'no such local address (check admin.host)' : e.message;
      await this.shutdown(); // plugins may have started timers
      throw new ConfigError(`cannot listen on ${host}:${port} for the admin API: ${why}`);
    }
    this.adminListening = admin;

    const count = resolveWorkerCount(this.currentConfig);
    try {
      await this.pool.start(count);
    } catch (err) {
      await this.shutdown();
      throw err;
    }
    if (this.fleetPart) await this.fleetPart.join(this.plugins.filter((p) => p.leaderOnly));
    this.stats.start();
    const listen = this.listen.address!;
    writePortFile(this.currentConfig.stateDir, { pid: process.pid, listen, admin });
    this.logger.info({ listen, admin, workers: count, epoch: this.store.snapshot.epoch, mode: this.currentConfig.mode }, 'kvstore is serving');
    return { listen, admin, workers: count };
  }

  /** Stop plugins, let the workers drain (bounded by timeouts.shutdownDrainMs), close the admin API. */
  shutdown(): Promise<void> {
    if (!this.shutdownPromise) {
      // leave the fleet first: the leader's plugins stop, another proxy takes over at once
      const leave = this.fleetPart ? this.fleetPart.stop().catch((err) => this.logger.error({ err }, 'leaving the fleet failed')) : Promise.resolve();
      this.shutdownPromise = leave.then(() => shutdownPrimary({
        logger: this.logger,
        pool: this.pool,
        stats: this.stats,
        plugins: this.plugins,
        admin: this.admin,
        drainMs: this.currentConfig.timeouts.shutdownDrainMs,
        finally: () => removePortFile(this.currentConfig.stateDir),
      }));
    }
    return this.shutdownPromise;
  }

  /** This proxy's view of its fleet (GET /health, /fleet), when coordination is on. */
  get fleet(): { status(): FleetStatus } | undefined {
    return this.fleetPart;
  }

  /**
   * The narrow view the fleet gets of this supervisor, its admin routes and barrier. Leader-only
   * plugins may start and stop several times: the metrics one registers are removed at stop.
   */
  private bindFleet(fleet: Fleet): void {
    const self = this;
    const pluginMetrics = new Map<string, string[]>();
    fleet.bind({
      config: this.currentConfig,
      get clientAddress() {
        return self.clientAddress;
      },
      get adminAddress() {
        return self.adminAddress;
      },
      workerInfo: () => this.workerInfo(),
      waitForWorkers: (epoch) => new WorkerEpochBarrier(this.pool).wait(epoch, 10_000),
      broadcastToWorkers: (message) => this.pool.broadcast(message),
      onWorkers: (listener) => {
        for (const event of ['ack', 'ready', 'exit'] as const) this.pool.on(event, listener);
      },
      onWorkerReady: (listener) => this.pool.on('ready', listener),
      startPlugin: async (plugin) => {
        const before = new Set(this.metrics.getMetricsAsArray().map((m) => m.name));
        await plugin.start(this);
        pluginMetrics.set(plugin.name, this.metrics.getMetricsAsArray().map((m) => m.name).filter((n) => !before.has(n)));
      },
      stopPlugin: async (plugin) => {
        await plugin.stop?.();
        for (const name of pluginMetrics.get(plugin.name) ?? []) this.metrics.removeSingleMetric(name);
        pluginMetrics.delete(plugin.name);
      },
    });
    this.publisher.addBarrier(fleet.epochBarrier());
    registerFleetRoutes(this.admin, this.metrics, fleet);
  }

  /** A persisted topology made with another hash would route every key to the wrong shard. */
  private checkPersistedTopology(): void {
    const snap = this.store.snapshot;
    const where = this.store.file ?? 'the persisted topology';
    if (snap.hash !== this.currentConfig.hash) {
      throw new ConfigError(
        `hash: the config says ${this.currentConfig.hash} but ${where} was built with ${snap.hash}; ` +
          `changing the hash would misroute every key. Keep hash: ${snap.hash}, or remove ${where} (and the data) to start over`,
      );
    }
    if (snap.mode !== this.currentConfig.mode) {
      this.logger.warn({ from: snap.mode, to: this.currentConfig.mode }, 'mode changed since the topology was saved; using the config');
      this.store.update((d) => {
        d.mode = this.currentConfig.mode;
      });
    }
  }
}
