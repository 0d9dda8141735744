/**
 * One worker's data path: accepts clients on config.listen, routes their commands to the shards
 * of the current topology, and reports stats. Clients come from a ClientListener (io/): with the
 * addon's sockets each node:cluster worker accepts natively on its own SO_REUSEPORT socket
 * (Linux), otherwise from node:cluster's shared socket; in tests it runs in-process.
 *
 *   accept (here) → ClientConnection (parse, dispatch, ordered replies)
 *                 → Router (slot → shard) → BackendConnection (batched writes, framed replies)
 *                 → SplitMerge / FanOut / ProxyCommands for the non-single-key classes
 */
import { mergeActivity } from './BackendActivity';
import { ClientDirectory } from './clients/ClientDirectory';
import type { BackendHealthSummary } from '../supervisor/messages';
import { EventEmitter } from 'node:events';
import type { KvstoreConfig } from '../config/types';
import { createLogger, Logger } from '../log';
import type { HotPath } from '../native/api';
import { loadHotPath } from '../native';
import type { BackendActivity, WorkerMemoryStats, WorkerStats } from '../supervisor/messages';
import type { TopologySnapshot } from '../topology/types';
import { ClientConnection, OpenStream } from './ClientConnection';
import type { Clock, TimerHandle } from './Clock';
import { DataPathIo, systemIo } from './DataPathIo';
import { commandRoutes } from './CommandRoutes';
import type { ProxyHooks } from './Hooks';
import { EngineOptions, HotPathBinding } from './HotPathBinding';
import { FENCE_HOLD_MS, FenceSpec, LeaseFence } from './LeaseFence';
import { MigrationSupport } from './MigrationSupport';
import type { ProxyContext, ProxyCounters } from './ProxyContext';
import { ERRORS } from './ReplyTexts';
import { Router } from './Router';
import { WorkerKeyRewrite } from '../keyrewrite/WorkerKeyRewrite';
import { ByteStream, ClientListener, enableNativeIo, listenForClients, nativeIoTotals, trimNativeMemory } from './io';
import { MemoryTrim } from './io/MemoryTrim';
import { NodeStream } from './io/NodeStream';
import type net from 'node:net';
import type tls from 'node:tls';
import { backendTlsIo, createClientTlsServer, reloadClientTls } from '../security/tls';
import { WorkerSecurity } from '../security/WorkerSecurity';
import { WorkerObservability } from '../observability/WorkerObservability';
import { answerObservabilityQuery } from '../observability/ObservabilityQuery';
import cluster from 'node:cluster';
import { DedicatedPool } from './dedicated/DedicatedPool';
import { PubSubHub } from './pubsub/PubSubHub';

export interface ProxyServerOptions {
  config: KvstoreConfig;
  topology: TopologySnapshot;
  hotPath?: HotPath;
  logger?: Logger;
  /** Backend streams and the clock; the real ones by default (unit tests pass fakes). */
  io?: DataPathIo;
}

/** Command tables are installed once per HotPath instance. */
const tablesInstalled = new WeakSet<HotPath>();
/**
 * How often idle clients are looked at: a client with nothing in flight and no read since the
 * previous pass drops its reader, replies (with the reply ring) and flow control, which are made
 * again by its next read. One timer per worker, not one per client; an idle client costs its
 * session fields and its stream only.
 */
const IDLE_SWEEP_MS = 1000;

/**
 * One HotPath per process: the addon keeps its bound arrays in process-wide state, so two
 * instances would overwrite each other's bindings (several ProxyServers in one test process).
 */
let processHotPath: HotPath | null = null;
function sharedHotPath(): HotPath {
  if (processHotPath === null) processHotPath = loadHotPath();
  return processHotPath;
}

export class ProxyServer extends EventEmitter {
  private readonly ctx: ProxyContext;
  private listener: ClientListener | null = null;
  /** The client TLS listener (tls.port), served through NodeStream; null without TLS. */
  private tlsServer: tls.Server | null = null;
  /** The TLS listener's bound port (after listen), or null. */
  tlsPort: number | null = null;
  /** The clients (also ctx.clients: one Set, as every entry costs each idle client). */
  private readonly connections = new Set<ClientConnection>();
  /** Gives idle clients' per-command state back (see IDLE_SWEEP_MS); runs while clients exist. */
  private idleSweep: TimerHandle | null = null;
  /** Free native memory back to the kernel after many clients went quiet or closed (io/MemoryTrim.ts). */
  private readonly memoryTrim = new MemoryTrim(trimNativeMemory);
  private closing = false;
  private readonly log: Logger;
  private readonly clock: Clock;

  /** Seams for resharding and key rewrite (see Hooks.ts); null = off. */
  readonly hooks: ProxyHooks = { migration: null, keyRewrite: null, keyNames: null };
  /** Online resharding: moves keys of migrating slots before their commands (MigrationHook.ts). */
  readonly migration: MigrationSupport;
  /** Key rewrite rules of the current topology (src/keyrewrite/WorkerKeyRewrite.ts). */
  private readonly keyRewrite: WorkerKeyRewrite;

  constructor(options: ProxyServerOptions) {
    super();
    const log = options.logger ?? createLogger('proxy');
    this.log = log;
    const hot = options.hotPath ?? sharedHotPath();
    const { routes, compiled, byName } = commandRoutes();
    if (!tablesInstalled.has(hot)) {
      hot.setCommandTable(compiled);
      tablesInstalled.add(hot);
    }
    const binding = HotPathBinding.for(hot);
    const engine = engineOptions(options.config);
    binding.useEngineOptions(engine);
    const nativeIo = enableNativeIo(options.config.io === 'native', hot.nativeEnabled);
    // backend.tls: backend streams are TLS sockets in Node (the addon's sockets are plain TCP).
    const io = options.io ?? (options.config.backend.tls.enabled ? backendTlsIo(options.config.backend.tls) : systemIo);
    this.clock = io.clock;
    const router = new Router(options.config, binding, log, nativeIo, io);
    const counters: ProxyCounters = { totalConnections: 0, totalCommands: 0, totalErrors: 0, rejectedConnections: 0, protocolErrors: 0 };
    const dedicated = new DedicatedPool(options.config, log, nativeIo, io);
    const pubsub = new PubSubHub(options.config, router, log, nativeIo, io);
    this.ctx = {
      config: options.config,
      engine,
      binding,
      nativeIo,
      router,
      routes,
      routeByName: byName,
      hooks: this.hooks,
      security: new WorkerSecurity(options.config),
      observe: new WorkerObservability(options.config, routes.length, log, cluster.worker?.id ?? 0),
      fence: new LeaseFence((spec) => {
        router.setFence(spec);
        // Transactions and blocked commands must not go on against a table that may be stale.
        dedicated.applyTopology(router.shards);
      }, FENCE_HOLD_MS),
      calls: new Float64Array(routes.length),
      errors: new Float64Array(routes.length),
      counters,
      clients: this.connections,
      clientDirectory: new ClientDirectory(() => this.connections, () => {
        const a = this.listener?.address;
        return a ? `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}` : '';
      }),
      dedicated,
      pubsub,
      log,
      clock: this.clock,
      startedAt: Date.now(),
      clientClosed: (client) => {
        if (this.connections.has(client as ClientConnection)) this.ctx.security.detach(client as ClientConnection);
        if (this.connections.delete(client as ClientConnection)) this.memoryTrim.note(1);
        if (this.connections.size === 0 && !this.memoryTrim.pending) this.stopIdleSweep();
        this.emit('clientClosed', client.id);
      },
      // The worker forwards it to the primary (src/supervisor/worker.ts); in-process tests listen.
      reportScriptChange: (change) => this.emit('script-change', change),
    };
    this.ctx.clientDirectory.unblockHere = (id, mode) => dedicated.unblockHere(id, mode);
    this.ctx.clientDirectory.observeHere = (query) => answerObservabilityQuery(this.ctx.observe, query);
    this.keyRewrite = WorkerKeyRewrite.forHash(options.config.hash, options.config.murmurSeed);
    this.migration = new MigrationSupport(this.hooks, options.config);
    void this.migration.applyTopology(options.topology, () => {
      router.apply(options.topology);
      dedicated.applyTopology(router.shards);
      pubsub.applyTopology();
      this.keyRewrite.apply(options.topology.keyRewrite, this.hooks);
    }); // synchronous: nothing in flight yet
    this.keyRewrite.warmUp();
  }

  /** The worker's pub/sub (tests, stats). */
  get pubsub(): PubSubHub {
    return this.ctx.pubsub;
  }

  /** Plain TCP is off when listen.port is 0 and a TLS port is set (TLS only); see docs/config.md. */
  private get plainListener(): boolean {
    const c = this.ctx.config;
    return !(c.listen.port === 0 && c.tls.port !== 0);
  }

  /**
   * Listen on config.listen (port 0 = ephemeral, unless TLS only: see plainListener) and on
   * tls.port; resolves with the plain listener's address (the TLS one when it is the only one).
   */
  async listen(): Promise<{ host: string; port: number }> {
    let tlsAddress: { host: string; port: number } | null = null;
    if (this.ctx.config.tls.port !== 0 && this.tlsServer === null) tlsAddress = await this.listenTls();
    if (!this.plainListener) return tlsAddress ?? { host: this.ctx.config.listen.host, port: this.tlsPort! };
    return this.listenPlain();
  }

  /** TLS clients: Node's tls.Server (OpenSSL); each secure socket is served through NodeStream. */
  private async listenTls(): Promise<{ host: string; port: number }> {
    const server = createClientTlsServer(
      this.ctx.config.tls,
      (socket) => this.accept(new NodeStream(socket)),
      (err) => this.log.debug({ err: err.message }, 'TLS handshake failed'),
    );
    this.tlsServer = server;
    server.on('error', (err) => this.log.error({ err }, 'TLS listening socket error'));
    const { host } = this.ctx.config.listen;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port: this.ctx.config.tls.port }, () => {
        server.off('error', reject);
        const addr = server.address() as net.AddressInfo;
        this.tlsPort = addr.port;
        this.log.info({ host: addr.address, port: addr.port, requireClientCert: this.ctx.config.tls.requireClientCert }, 'proxy listening (TLS)');
        resolve({ host: addr.address, port: addr.port });
      });
    });
  }

  private async listenPlain(): Promise<{ host: string; port: number }> {
    if (this.listener !== null) return this.listener.address;
    const { host, port } = this.ctx.config.listen;
    this.listener = await listenForClients({
      host,
      port,
      nativeIo: this.ctx.nativeIo,
      onStream: (stream) => this.accept(stream),
      onError: (err) => {
        this.log.error({ err }, 'listening socket error');
        if (this.listenerCount('error') > 0) this.emit('error', err);
      },
    });
    const { address, kind, reusePort } = this.listener;
    this.log.info({ host: address.host, port: address.port, nativeEnabled: this.ctx.binding.hot.nativeEnabled, nativeIo: this.ctx.nativeIo, accept: kind, reusePort }, 'proxy listening');
    if (this.ctx.config.io === 'native' && !this.ctx.nativeIo) this.log.warn('io: native requested but the addon sockets are unavailable: using net.Socket');
    return address;
  }

  private accept(stream: ByteStream): void {
    const ctx = this.ctx;
    if (this.closing) {
      stream.destroy();
      return;
    }
    if (this.connections.size >= ctx.config.limits.maxClients) {
      ctx.counters.rejectedConnections++;
      stream.append(ERRORS.maxClients);
      stream.end();
      setTimeout(() => stream.destroy(), 1000).unref();
      return;
    }
    this.attachClient((handler) => {
      stream.attach(handler); // an accepted stream reads only once its owner is attached
      return stream;
    });
  }

  /** Serve one more client on the stream `open` makes (accepted sockets; fake streams in tests). */
  attachClient(open: OpenStream): ClientConnection {
    const ctx = this.ctx;
    ctx.counters.totalConnections++;
    const client = new ClientConnection(open, ctx);
    this.connections.add(client);
    this.idleSweep ??= this.clock.setInterval(() => this.sweepIdleClients(), IDLE_SWEEP_MS);
    return client;
  }

  /** One pass over the clients per IDLE_SWEEP_MS: those quiet since the last pass shed their stages. */
  private sweepIdleClients(): void {
    let shed = 0;
    for (const c of this.connections) if (c.sweepIdle()) shed++;
    this.memoryTrim.note(shed);
    this.memoryTrim.pass();
    if (this.connections.size === 0 && !this.memoryTrim.pending) this.stopIdleSweep();
  }

  private stopIdleSweep(): void {
    if (this.idleSweep === null) return;
    this.clock.clearTimer(this.idleSweep);
    this.idleSweep = null;
  }

  /** Replace the routing whole (a new epoch). */
  applyTopology(snapshot: TopologySnapshot): void | Promise<void> {
    // Ordered against commands that are moving keys right now (MigrationSupport.ts); the worker
    // acknowledges the epoch once this resolves.
    return this.migration.applyTopology(snapshot, () => {
      this.ctx.router.apply(snapshot);
      this.ctx.dedicated.applyTopology(this.ctx.router.shards);
      this.ctx.pubsub.applyTopology();
      this.keyRewrite.apply(snapshot.keyRewrite, this.hooks);
      this.emit('topology', snapshot.epoch);
    });
  }

  /** Fleet: the primary's lease deadline (see LeaseFence). */
  setFleetLease(validUntil: number | null, fence?: FenceSpec): void {
    this.ctx.fence.renew(validUntil, fence);
  }

  /** CLIENT LIST/KILL/PAUSE: the worker wires it to the other workers (src/supervisor/worker.ts). */
  get clientDirectory(): ClientDirectory {
    return this.ctx.clientDirectory;
  }

  /** The primary's health checks of every backend, shown in INFO (# Proxy); replicas' health and lag decide reads from replicas. */
  setBackendHealth(backends: BackendHealthSummary[]): void {
    this.ctx.backendHealth = backends;
    this.ctx.router.setBackendHealth(backends);
  }

  /**
   * Live settings: limits, client password (for new AUTHs; authenticated clients stay so), backend
   * credentials (from the next backend connection), timeouts, crossSlot, allowFlush. The hash
   * and the listen address are not live (the topology and the socket depend on them).
   */
  applyConfig(config: KvstoreConfig): void {
    this.ctx.config = config;
    this.ctx.engine = engineOptions(config);
    this.ctx.router.applyConfig(config);
    this.ctx.dedicated.applyConfig(config);
    this.ctx.pubsub.applyConfig(config);
    this.migration.applyConfig(config);
    for (const c of this.connections) c.applyIdleTimeout(config.timeouts.clientIdleMs);
    // Users change live: a client keeps its user (new rules); one whose user is gone is closed, as Redis does.
    for (const orphan of this.ctx.security.applyConfig(config, this.connections, Date.now())) (orphan as ClientConnection).destroy();
    this.ctx.observe.applyConfig(config);
    if (this.tlsServer !== null) {
      // New certificates for new handshakes; open TLS connections keep theirs.
      try {
        reloadClientTls(this.tlsServer, config.tls);
      } catch (err) {
        this.log.error({ err }, 'TLS certificates not reloaded; the previous ones stay in use');
      }
    }
  }

  get epoch(): number {
    return this.ctx.router.epoch;
  }

  get nativeEnabled(): boolean {
    return this.ctx.binding.hot.nativeEnabled;
  }

  /** What this worker has in flight on these backends (the primary's health checks ask). */
  backendActivity(addresses: string[]): BackendActivity[] {
    const ctx = this.ctx;
    return mergeActivity([...ctx.router.allBackends().map((b) => b.activity()), ...ctx.dedicated.activity()], addresses, ctx.clock.now());
  }

  stats(): WorkerStats {
    const ctx = this.ctx;
    const commands: WorkerStats['commands'] = {};
    for (let id = 0; id < ctx.routes.length; id++) {
      if (ctx.calls[id] > 0 || ctx.errors[id] > 0) commands[ctx.routes[id].name] = { calls: ctx.calls[id], errors: ctx.errors[id] };
    }
    const backends: WorkerStats['backends'] = {};
    for (const shard of ctx.router.shards) {
      shard.pool.forEach((b, i) => {
        backends[shard.pool.length > 1 ? `${shard.name}#${i}` : shard.name] = {
          address: b.address,
          connected: b.connected,
          pending: b.pending,
          errors: b.errors,
        };
      });
    }
    return {
      pid: process.pid,
      nativeEnabled: ctx.binding.hot.nativeEnabled,
      nativeIo: ctx.nativeIo,
      nativeIoClients: [...this.connections].filter((c) => c.nativeIo).length,
      nativeBuffers: nativeBuffers(),
      epoch: ctx.router.epoch,
      clients: this.connections.size,
      totalConnections: ctx.counters.totalConnections,
      commands,
      totalCommands: ctx.counters.totalCommands,
      totalErrors: ctx.counters.totalErrors,
      backends,
      observability: ctx.observe.stats(),
      memory: workerMemory(),
      pubsub: ctx.pubsub.stats(),
    };
  }

  /** Stop accepting, stop reading, let in-flight requests finish (up to drainMs), then close. */
  async close(drainMs: number): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const tlsServer = this.tlsServer;
    const serverClosed = Promise.all([
      this.listener?.close() ?? Promise.resolve(),
      new Promise<void>((resolve) => (tlsServer?.listening ? tlsServer.close(() => resolve()) : resolve())),
    ]);
    for (const c of this.connections) c.stopReading();
    const deadline = Date.now() + drainMs;
    while (Date.now() < deadline && [...this.connections].some((c) => !c.idle)) await new Promise((r) => setTimeout(r, 5));
    // Let the last replies reach the sockets (they are flushed in the check phase).
    await new Promise((r) => setImmediate(r));
    for (const c of this.connections) c.destroy();
    this.stopIdleSweep();
    this.ctx.dedicated.close();
    this.ctx.pubsub.close();
    await this.ctx.router.close(0);
    await serverClosed;
    this.ctx.observe.close();
    this.emit('close');
  }
}

function workerMemory(): WorkerMemoryStats {
  const m = process.memoryUsage();
  return { rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

/** Native buffered bytes of this worker for stats (absent without the addon's sockets). */
function nativeBuffers(): WorkerStats['nativeBuffers'] {
  return nativeIoTotals() ?? undefined;
}

function engineOptions(config: KvstoreConfig): EngineOptions {
  return {
    maxBulkBytes: config.limits.maxBulkBytes,
    maxInlineBytes: config.limits.maxInlineBytes,
    hash: config.hash,
    murmurSeed: config.murmurSeed,
  };
}
