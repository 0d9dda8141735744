/**
 * The primary process (node:cluster). It forks the workers (all share one listening socket),
 * owns the topology (TopologyStore) and pushes every change to every worker, waiting for their
 * acks so that an admin call returns only once all workers route by the new epoch. It restarts
 * crashed workers with backoff, serves the admin API, drains on SIGTERM and reloads the config
 * on SIGHUP / POST /reload.
 */
import cluster, { Worker } from 'node:cluster';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { AdminServer } from '../admin/AdminServer';
import { MetricsRegistry } from '../admin/metrics';
import { registerCoreRoutes } from '../admin/routes';
import { loadConfigFile, redactConfig, resolveWorkerCount } from '../config/load';
import type { KvstoreConfig } from '../config/types';
import { ConfigError, KvstoreError, TopologyError } from '../errors';
import { createLogger, Logger } from '../log';
import { Fleet, fleetEnabled, FleetHost } from '../coordination/Fleet';
import { registerFleetRoutes } from '../coordination/adminRoutes';
import { initialTopology, TopologyStore } from '../topology/TopologyStore';
import type { TopologySnapshot } from '../topology/types';
import type { PrimaryToWorker, WorkerStats, WorkerToPrimary } from './messages';
import { loadPrimaryPlugins, PrimaryPlugin } from './plugins';
import { reconcileShards } from './reconcile';
import { aggregateStats, AggregatedStats, RetiredCounters } from './stats';

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
}

/** Keys that only take effect on restart; reload reports them instead of applying them. */
const RESTART_ONLY: Array<keyof KvstoreConfig> = ['listen', 'admin', 'workers', 'mode', 'hash', 'murmurSeed', 'stateDir', 'proxyId', 'coordination'];

export interface ReloadResult {
  epoch: number;
  applied: string[];
  warnings: string[];
}

/** One worker position; its process is replaced when it dies. */
interface WorkerSlot {
  id: number;
  worker?: Worker;
  pid?: number;
  ready: boolean;
  ackedEpoch: number;
  restarts: number;
  consecutiveFailures: number;
  startedAt: number;
  lastStats?: WorkerStats;
  restartTimer?: NodeJS.Timeout;
}

const STATS_TIMEOUT_MS = 2000;
const READY_TIMEOUT_MS = 30_000;
const BACKOFF_BASE_MS = 100;
const BACKOFF_MAX_MS = 10_000;
/** A worker that lived this long is considered healthy again: its backoff resets. */
const STABLE_AFTER_MS = 10_000;

export class Supervisor extends EventEmitter {
  readonly configFile: string;
  readonly logger: Logger;
  readonly metrics = new MetricsRegistry();
  readonly admin: AdminServer;
  readonly store: TopologyStore;
  private currentConfig: KvstoreConfig;
  private readonly slots: WorkerSlot[] = [];
  private readonly retired = new RetiredCounters();
  private readonly plugins: PrimaryPlugin[];
  private readonly startedAt = Date.now();
  private workerRestarts = 0;
  private shuttingDown = false;
  private shutdownPromise?: Promise<void>;
  private nextRequestId = 1;
  private readonly pendingStats = new Map<number, { want: Set<number>; got: Map<number, WorkerStats>; done: () => void }>();
  private sampler?: NodeJS.Timeout;
  private lastSample?: { at: number; total: number };
  private opsPerSec = 0;
  private listenAddress?: { host: string; port: number };
  private reloading: Promise<ReloadResult> | null = null;
  /** Set when `coordination.etcd.endpoints` is: the topology lives in etcd (src/coordination). */
  readonly fleet?: Fleet;

  constructor(options: SupervisorOptions) {
    super();
    if (!cluster.isPrimary) throw new KvstoreError('E_SUPERVISOR', 'the supervisor runs in the primary process only');
    this.configFile = options.configFile;
    this.logger = options.logger ?? createLogger('supervisor');
    this.currentConfig = options.config ?? loadConfigFile(options.configFile);
    this.plugins = options.plugins ?? loadPrimaryPlugins(this.logger);

    fs.mkdirSync(this.currentConfig.stateDir, { recursive: true });
    this.store = new TopologyStore(this.currentConfig.stateDir, initialTopology(this.currentConfig));
    this.checkPersistedTopology();

    this.admin = new AdminServer({ host: this.currentConfig.admin.host, port: this.currentConfig.admin.port, logger: createLogger('admin') });
    registerCoreRoutes(this);
    if (fleetEnabled(this.currentConfig)) {
      this.fleet = new Fleet(this.fleetHost(), createLogger('fleet'));
      registerFleetRoutes(this.admin, this.metrics, this.fleet);
    }

    cluster.setupPrimary({ exec: options.workerExec ?? path.join(__dirname, 'worker-main.js'), silent: false });
    cluster.on('message', (worker, message: WorkerToPrimary) => this.onWorkerMessage(worker, message));
    cluster.on('exit', (worker, code, signal) => this.onWorkerExit(worker, code, signal));
    this.store.on('change', (snapshot: TopologySnapshot) => this.broadcast({ type: 'topology', snapshot }));
  }

  get config(): KvstoreConfig {
    return this.currentConfig;
  }

  get topology(): TopologySnapshot {
    return this.store.snapshot;
  }

  /** Where clients connect (known once a worker listens). */
  get clientAddress(): { host: string; port: number } | undefined {
    return this.listenAddress;
  }

  /** Start plugins, the admin API and the workers; resolves when every worker listens. */
  async start(): Promise<{ listen: { host: string; port: number }; admin: { host: string; port: number }; workers: number }> {
    if (this.fleet) {
      // the fleet's topology is etcd's (the config's shard list only seeds it)
      try {
        await this.fleet.connect();
      } catch (err) {
        await this.fleet.stop().catch(() => undefined);
        throw err;
      }
    } else {
      const reconciled = reconcileShards(this.store.snapshot, this.currentConfig);
      if (reconciled.changed) this.store.update(() => reconciled.snapshot);
      for (const w of reconciled.warnings) this.logger.warn(w);
    }

    this.metrics.addSource(() => this.coreMetrics());
    for (const plugin of this.plugins) {
      if (this.fleet && plugin.leaderOnly) continue; // started on leadership (below)
      await plugin.start(this);
      this.logger.debug({ plugin: plugin.name }, 'plugin started');
    }
    let admin: { host: string; port: number };
    try {
      admin = await this.admin.listen();
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const { host, port } = this.currentConfig.admin;
      const why = e.code === 'EADDRINUSE' ? 'already in use (another kvstore? change admin.port)' : e.code === 'EADDRNOTAVAIL' ? 'no such local address (check admin.host)' : e.message;
      await this.shutdown(); // plugins may have started timers
      throw new ConfigError(`cannot listen on ${host}:${port} for the admin API: ${why}`);
    }

    const count = resolveWorkerCount(this.currentConfig);
    for (let id = 1; id <= count; id++) this.slots.push({ id, ready: false, ackedEpoch: 0, restarts: 0, consecutiveFailures: 0, startedAt: 0 });
    try {
      await Promise.all(this.slots.map((slot) => this.forkAndWait(slot)));
    } catch (err) {
      await this.shutdown();
      throw err;
    }
    if (this.fleet) await this.fleet.join(this.plugins.filter((p) => p.leaderOnly));
    this.sampler = setInterval(() => void this.sample(), 1000);
    this.sampler.unref();
    this.logger.info({ listen: this.listenAddress, admin, workers: count, epoch: this.store.snapshot.epoch, mode: this.currentConfig.mode }, 'kvstore is serving');
    return { listen: this.listenAddress!, admin, workers: count };
  }

  /* ---------- topology ---------- */

  /**
   * Change the topology and wait until every live worker routes by the new epoch. This is what
   * failover, resharding and key rewrite call; the admin call returns after it resolves.
   */
  async updateTopology(mutate: (draft: TopologySnapshot) => TopologySnapshot | void, timeoutMs = 10_000): Promise<TopologySnapshot> {
    if (this.fleet) {
      // compare-and-swap in etcd, then every live proxy of the fleet must route by it
      const next = await this.fleet.update(mutate);
      await this.waitForEpoch(next.epoch, timeoutMs);
      await this.fleet.barrier(next.epoch);
      return next;
    }
    const next = this.store.update(mutate); // persisted, and broadcast by the 'change' listener
    await this.waitForEpoch(next.epoch, timeoutMs);
    return next;
  }

  /** Push the current topology (again) to all workers and wait for their acks. */
  async publishTopology(timeoutMs = 10_000): Promise<TopologySnapshot> {
    const snapshot = this.store.snapshot;
    this.broadcast({ type: 'topology', snapshot });
    await this.waitForEpoch(snapshot.epoch, timeoutMs);
    if (this.fleet) await this.fleet.barrier(snapshot.epoch);
    return snapshot;
  }

  /** Resolve when every ready worker acknowledged `epoch` (workers that die are not waited for). */
  waitForEpoch(epoch: number, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const behind = this.slots.filter((s) => s.ready && s.worker && s.ackedEpoch < epoch);
        if (behind.length === 0) {
          cleanup();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        const behind = this.slots.filter((s) => s.ready && s.ackedEpoch < epoch).map((s) => `worker ${s.id} (pid ${s.pid}) at epoch ${s.ackedEpoch}`);
        reject(new TopologyError(`not every worker acknowledged topology epoch ${epoch} within ${timeoutMs} ms: ${behind.join(', ')}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.off('ack', check);
        this.off('worker-exit', check);
      };
      this.on('ack', check);
      this.on('worker-exit', check);
      check();
    });
  }

  /* ---------- stats ---------- */

  /** Ask every ready worker for its stats (those that do not answer in time: their last known). */
  async collectStats(timeoutMs = STATS_TIMEOUT_MS): Promise<Array<{ id: number; restarts: number; stats: WorkerStats }>> {
    const ready = this.slots.filter((s) => s.ready && s.worker);
    const requestId = this.nextRequestId++;
    const got = new Map<number, WorkerStats>();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(finish, timeoutMs);
      const entry = { want: new Set(ready.map((s) => s.id)), got, done: finish };
      function finish() {
        clearTimeout(timer);
        resolve();
      }
      this.pendingStats.set(requestId, entry);
      if (entry.want.size === 0) finish();
      for (const s of ready) this.send(s, { type: 'stats-request', requestId });
    });
    this.pendingStats.delete(requestId);
    const out: Array<{ id: number; restarts: number; stats: WorkerStats }> = [];
    for (const s of ready) {
      const stats = got.get(s.id) ?? s.lastStats;
      if (stats) {
        s.lastStats = stats;
        out.push({ id: s.id, restarts: s.restarts, stats });
      }
    }
    return out;
  }

  async aggregatedStats(): Promise<AggregatedStats> {
    const live = await this.collectStats();
    return aggregateStats(live, this.retired, {
      uptimeSec: Math.round((Date.now() - this.startedAt) / 1000),
      epoch: this.store.snapshot.epoch,
      mode: this.store.snapshot.mode,
      workerRestarts: this.workerRestarts,
      opsPerSec: this.opsPerSec,
    });
  }

  /** Worker processes and their state, for /health and tests. */
  workerInfo(): Array<{ id: number; pid?: number; ready: boolean; epoch: number; restarts: number }> {
    return this.slots.map((s) => ({ id: s.id, pid: s.pid, ready: s.ready, epoch: s.ackedEpoch, restarts: s.restarts }));
  }

  private async sample(): Promise<void> {
    if (this.shuttingDown) return;
    const live = await this.collectStats(900);
    const total = this.retired.totalCommands + live.reduce((n, w) => n + w.stats.totalCommands, 0);
    const now = Date.now();
    if (this.lastSample && now > this.lastSample.at) this.opsPerSec = Math.max(0, Math.round(((total - this.lastSample.total) * 1000) / (now - this.lastSample.at)));
    this.lastSample = { at: now, total };
  }

  /* ---------- reload ---------- */

  /** Re-read the config file and apply what can change live; refuses (ConfigError) a bad file. */
  reload(): Promise<ReloadResult> {
    // one reload at a time; a second caller waits for the same result
    if (!this.reloading) this.reloading = this.doReload().finally(() => (this.reloading = null));
    return this.reloading;
  }

  private async doReload(): Promise<ReloadResult> {
    const next = loadConfigFile(this.configFile);
    const old = this.currentConfig;
    const applied: string[] = [];
    const warnings: string[] = [];
    for (const key of RESTART_ONLY) {
      if (JSON.stringify(next[key]) !== JSON.stringify(old[key])) warnings.push(`${key} changed; it takes effect on restart only (kept ${JSON.stringify(old[key])})`);
    }
    const effective: KvstoreConfig = { ...next };
    for (const key of RESTART_ONLY) (effective as any)[key] = old[key];
    for (const key of Object.keys(effective) as Array<keyof KvstoreConfig>) {
      if (key !== 'shards' && !RESTART_ONLY.includes(key) && JSON.stringify(effective[key]) !== JSON.stringify(old[key])) applied.push(key);
    }
    this.currentConfig = effective;
    this.broadcast({ type: 'config', config: effective });

    const reconciled = reconcileShards(this.store.snapshot, effective);
    warnings.push(...reconciled.warnings);
    if (reconciled.changed) {
      await this.updateTopology(() => reconciled.snapshot);
      applied.push(...reconciled.applied);
    }
    for (const plugin of this.plugins) await plugin.onConfig?.(effective);
    this.logger.info({ applied, warnings, epoch: this.store.snapshot.epoch }, 'config reloaded');
    return { epoch: this.store.snapshot.epoch, applied, warnings };
  }

  /* ---------- shutdown ---------- */

  /** Stop plugins, let the workers drain (bounded by timeouts.shutdownDrainMs), close the admin API. */
  shutdown(): Promise<void> {
    if (!this.shutdownPromise) this.shutdownPromise = this.doShutdown();
    return this.shutdownPromise;
  }

  private async doShutdown(): Promise<void> {
    this.shuttingDown = true;
    this.logger.info('shutting down: draining workers');
    if (this.sampler) clearInterval(this.sampler);
    for (const slot of this.slots) if (slot.restartTimer) clearTimeout(slot.restartTimer);
    for (const plugin of [...this.plugins].reverse()) {
      try {
        await plugin.stop?.();
      } catch (err) {
        this.logger.error({ err, plugin: plugin.name }, 'plugin stop failed');
      }
    }
    if (this.fleet) await this.fleet.stop().catch((err) => this.logger.error({ err }, 'leaving the fleet failed'));
    const drainMs = this.currentConfig.timeouts.shutdownDrainMs;
    const alive = this.slots.filter((s) => s.worker && !s.worker.isDead());
    await Promise.all(
      alive.map(
        (slot) =>
          new Promise<void>((resolve) => {
            const worker = slot.worker!;
            if (worker.isDead()) return resolve();
            const kill = setTimeout(() => {
              this.logger.warn({ pid: slot.pid }, 'worker did not finish draining in time; killing it');
              worker.process.kill('SIGKILL');
            }, drainMs + 5000);
            worker.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            this.send(slot, { type: 'shutdown', drainMs });
          }),
      ),
    );
    await this.admin.close();
    cluster.removeAllListeners('message');
    cluster.removeAllListeners('exit');
    this.logger.info('stopped');
  }

  /* ---------- workers ---------- */

  private fork(slot: WorkerSlot): Worker {
    const worker = cluster.fork({ KVSTORE_WORKER_ID: String(slot.id) });
    slot.worker = worker;
    slot.pid = worker.process.pid;
    slot.ready = false;
    slot.ackedEpoch = 0;
    slot.startedAt = Date.now();
    worker.on('online', () => this.send(slot, { type: 'init', config: this.currentConfig, snapshot: this.store.snapshot }));
    return worker;
  }

  /** Fork a worker for `slot` and resolve when it listens; reject with its fatal message. */
  private forkAndWait(slot: WorkerSlot): Promise<void> {
    return new Promise((resolve, reject) => {
      const worker = this.fork(slot);
      let fatal: string | undefined;
      const timer = setTimeout(() => done(new KvstoreError('E_WORKER', `worker ${slot.id} did not start listening within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
      const onMessage = (m: WorkerToPrimary) => {
        if (m.type === 'ready') done();
        else if (m.type === 'fatal') fatal = m.message;
      };
      const onExit = (code: number | null, signal: string | null) => done(new KvstoreError('E_WORKER', fatal ?? `worker ${slot.id} exited during start (code ${code}, signal ${signal})`));
      const done = (err?: Error) => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('exit', onExit);
        if (err) reject(err);
        else resolve();
      };
      worker.on('message', onMessage);
      worker.once('exit', onExit);
    });
  }

  private slotOf(worker: Worker): WorkerSlot | undefined {
    return this.slots.find((s) => s.worker === worker);
  }

  private send(slot: WorkerSlot, message: PrimaryToWorker): void {
    const worker = slot.worker;
    if (!worker || worker.isDead() || !worker.isConnected()) return;
    try {
      worker.send(message);
    } catch (err) {
      this.logger.warn({ err, pid: slot.pid }, 'IPC send to worker failed');
    }
  }

  /** Send a message to every ready worker (plugins: e.g. failover's backend health for INFO). */
  broadcastToWorkers(message: PrimaryToWorker): void {
    this.broadcast(message);
  }

  private broadcast(message: PrimaryToWorker): void {
    for (const slot of this.slots) if (slot.ready) this.send(slot, message);
  }

  private onWorkerMessage(worker: Worker, message: WorkerToPrimary): void {
    const slot = this.slotOf(worker);
    if (!slot || !message || typeof message !== 'object') return;
    switch (message.type) {
      case 'ready':
        slot.ready = true;
        if (message.address) this.listenAddress = message.address;
        this.logger.info({ worker: slot.id, pid: message.pid, address: message.address }, 'worker ready');
        // the topology may have changed between init and ready
        if (slot.ackedEpoch < this.store.snapshot.epoch) this.send(slot, { type: 'topology', snapshot: this.store.snapshot });
        this.emit('worker-ready', slot.id);
        break;
      case 'fatal':
        this.logger.error({ worker: slot.id, pid: slot.pid, message: message.message }, 'worker cannot run');
        break;
      case 'topology-ack':
        slot.ackedEpoch = Math.max(slot.ackedEpoch, message.epoch);
        this.emit('ack', slot.id, message.epoch);
        break;
      case 'stats': {
        const pending = this.pendingStats.get(message.requestId);
        slot.lastStats = message.stats;
        if (pending) {
          pending.got.set(slot.id, message.stats);
          if ([...pending.want].every((id) => pending.got.has(id))) pending.done();
        }
        break;
      }
    }
  }

  private onWorkerExit(worker: Worker, code: number | null, signal: string | null): void {
    const slot = this.slotOf(worker);
    if (!slot) return;
    const wasReady = slot.ready;
    slot.ready = false;
    slot.worker = undefined;
    if (slot.lastStats) this.retired.add(slot.lastStats);
    slot.lastStats = undefined;
    this.emit('worker-exit', slot.id);
    for (const pending of this.pendingStats.values()) {
      pending.want.delete(slot.id);
      if ([...pending.want].every((id) => pending.got.has(id))) pending.done();
    }
    if (this.shuttingDown || !wasReady) return; // start failures are reported by forkAndWait
    this.logger.error({ worker: slot.id, pid: slot.pid, code, signal }, 'worker died; restarting it');
    this.scheduleRestart(slot);
  }

  /** Restart with exponential backoff; a worker that lived long enough starts over at the base delay. */
  private scheduleRestart(slot: WorkerSlot): void {
    const lived = Date.now() - slot.startedAt;
    slot.consecutiveFailures = lived > STABLE_AFTER_MS ? 1 : slot.consecutiveFailures + 1;
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (slot.consecutiveFailures - 1));
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (this.shuttingDown) return;
      slot.restarts += 1;
      this.workerRestarts += 1;
      this.forkAndWait(slot).catch((err) => {
        this.logger.error({ err: (err as Error).message, worker: slot.id, retryAfterFailures: slot.consecutiveFailures }, 'restarted worker failed to start');
        if (slot.worker && !slot.worker.isDead()) slot.worker.process.kill('SIGKILL');
        if (!this.shuttingDown) this.scheduleRestart(slot);
      });
    }, delay);
  }

  /** The narrow view the fleet coordination gets of this supervisor. */
  private fleetHost(): FleetHost {
    const self = this;
    return {
      config: this.currentConfig,
      store: this.store,
      get clientAddress() {
        return self.listenAddress;
      },
      adminAddress: () => (this.admin.listening ? this.admin.address() : undefined),
      workerInfo: () => this.workerInfo(),
      waitForEpoch: (epoch) => this.waitForEpoch(epoch),
      broadcastToWorkers: (message) => this.broadcast(message),
      on: (event, listener) => this.on(event, listener),
      startPlugin: async (plugin) => {
        await plugin.start(this);
      },
      stopPlugin: async (plugin) => {
        await plugin.stop?.();
      },
    };
  }

  /* ---------- checks and metrics ---------- */

  /** A persisted topology made with another hash would route every key to the wrong shard. */
  private checkPersistedTopology(): void {
    const snap = this.store.snapshot;
    if (snap.hash !== this.currentConfig.hash) {
      throw new ConfigError(
        `hash: the config says ${this.currentConfig.hash} but ${this.store.file} was built with ${snap.hash}; ` +
          `changing the hash would misroute every key. Keep hash: ${snap.hash}, or remove ${this.store.file} (and the data) to start over`,
      );
    }
    if (snap.mode !== this.currentConfig.mode) {
      this.logger.warn({ from: snap.mode, to: this.currentConfig.mode }, 'mode changed since the topology was saved; using the config');
      this.store.update((d) => {
        d.mode = this.currentConfig.mode;
      });
    }
  }

  private async coreMetrics() {
    const s = await this.aggregatedStats();
    const topo = this.store.snapshot;
    const counter = (name: string, help: string, samples: Array<{ labels?: Record<string, string>; value: number }>) => ({ name, help, type: 'counter' as const, samples });
    const gauge = (name: string, help: string, samples: Array<{ labels?: Record<string, string>; value: number }>) => ({ name, help, type: 'gauge' as const, samples });
    return [
      gauge('kvstore_up', '1 while the proxy serves.', [{ value: 1 }]),
      gauge('kvstore_uptime_seconds', 'Seconds since the primary started.', [{ value: s.uptimeSec }]),
      gauge('kvstore_workers', 'Worker processes ready.', [{ value: this.slots.filter((x) => x.ready).length }]),
      counter('kvstore_worker_restarts_total', 'Workers restarted after a crash.', [{ value: s.workerRestarts }]),
      gauge('kvstore_topology_epoch', 'Current topology epoch.', [{ value: topo.epoch }]),
      gauge('kvstore_clients', 'Connected clients.', [{ value: s.clients }]),
      counter('kvstore_connections_total', 'Client connections accepted.', [{ value: s.totalConnections }]),
      counter('kvstore_commands_total', 'Commands processed, all commands.', [{ value: s.totalCommands }]),
      counter('kvstore_errors_total', 'Commands answered with an error, all commands.', [{ value: s.totalErrors }]),
      gauge('kvstore_ops_per_second', 'Commands per second over the last second.', [{ value: s.opsPerSec }]),
      counter('kvstore_command_calls_total', 'Commands processed, per command.', Object.entries(s.commands).map(([command, c]) => ({ labels: { command }, value: c.calls }))),
      counter('kvstore_command_errors_total', 'Commands answered with an error, per command.', Object.entries(s.commands).map(([command, c]) => ({ labels: { command }, value: c.errors }))),
      gauge('kvstore_shard_up', '1 when the shard serves, 0 otherwise.', topo.shards.map((sh) => ({ labels: { shard: sh.name, state: sh.state }, value: sh.state === 'up' ? 1 : 0 }))),
      gauge('kvstore_shard_slots', 'Slots owned by the shard.', topo.shards.map((sh) => ({ labels: { shard: sh.name }, value: sh.slots.reduce((n, [a, b]) => n + b - a + 1, 0) }))),
      gauge('kvstore_backend_connected', 'Workers connected to the backend.', Object.entries(s.backends).map(([backend, b]) => ({ labels: { backend, address: b.address }, value: b.connectedWorkers }))),
      gauge('kvstore_backend_pending', 'Requests waiting for a reply from the backend.', Object.entries(s.backends).map(([backend, b]) => ({ labels: { backend, address: b.address }, value: b.pending }))),
      counter('kvstore_backend_errors_total', 'Backend connection errors.', Object.entries(s.backends).map(([backend, b]) => ({ labels: { backend, address: b.address }, value: b.errors }))),
      gauge('kvstore_native_enabled', '1 when workers run the C++ hot path.', [{ value: s.workers.length > 0 && s.workers.every((w) => w.nativeEnabled) ? 1 : 0 }]),
      gauge('kvstore_native_io', '1 when workers read and write their sockets through the addon (config io: native).', [{ value: s.workers.length > 0 && s.workers.every((w) => w.nativeIo) ? 1 : 0 }]),
    ];
  }

  /** For GET /config: the running config without secrets. */
  redactedConfig(): KvstoreConfig {
    return redactConfig(this.currentConfig);
  }
}

/**
 * `kvstore start`: run the supervisor until SIGTERM/SIGINT (drain, exit 0); SIGHUP reloads.
 */
export async function runPrimary(configFile: string): Promise<Supervisor> {
  const supervisor = new Supervisor({ configFile });
  const stop = (signal: string) => {
    supervisor.logger.info({ signal }, 'signal received');
    supervisor.shutdown().then(
      () => process.exit(0),
      (err) => {
        supervisor.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    supervisor.reload().catch((err) => supervisor.logger.error({ err: err.message }, 'reload refused; keeping the running config'));
  });
  try {
    await supervisor.start();
  } catch (err) {
    supervisor.logger.error({ err: (err as Error).message }, 'cannot start');
    process.stderr.write(`kvstore: cannot start: ${(err as Error).message}\n`);
    process.exit(1);
  }
  return supervisor;
}
