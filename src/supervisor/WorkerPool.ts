/**
 * The worker processes (node:cluster): one slot per configured worker, forked with the config
 * and topology of the moment (`init`), restarted with exponential backoff when a ready worker
 * dies. It only moves messages: what they mean is for the barrier (topology acks), the stats
 * collector (stats replies) and the supervisor; they subscribe to the pool's events:
 *   'ready'  (slot)              a worker listens (also after a restart)
 *   'ack'    (slot, epoch)       a worker routes by `epoch` now
 *   'stats'  (slot, message)     a worker answered a stats request
 *   'exit'   (slot, wasReady)    a worker process ended (restart already scheduled if it was ready)
 *   'script-change' (message)    a client loaded or flushed scripts/functions (src/scripts/)
 *   'clients' (slot, message)    CLIENT LIST/KILL/PAUSE across the workers (ClientsRelay)
 */
import cluster, { Worker } from 'node:cluster';
import { EventEmitter } from 'node:events';
import type { KvstoreConfig } from '../config/types';
import { KvstoreError } from '../errors';
import type { Logger } from '../log';
import type { TopologySnapshot } from '../topology/types';
import type { ListenPort } from './listen';
import type { PrimaryToWorker, WorkerToPrimary } from './messages';

/** One worker position; its process is replaced when it dies. */
export interface WorkerSlot {
  readonly id: number;
  worker?: Worker;
  pid?: number;
  ready: boolean;
  ackedEpoch: number;
  restarts: number;
  consecutiveFailures: number;
  startedAt: number;
  restartTimer?: NodeJS.Timeout;
}

/** A worker as GET /workers and /health show it. */
export interface WorkerInfo {
  id: number;
  pid?: number;
  ready: boolean;
  epoch: number;
  restarts: number;
}

/** What the epoch barrier and the topology publisher use of the pool (a fake in unit tests). */
export interface WorkerPoolView {
  readonly slots: readonly WorkerSlot[];
  on(event: 'ready' | 'ack' | 'stats' | 'exit', listener: (...args: any[]) => void): unknown;
  off(event: 'ready' | 'ack' | 'stats' | 'exit', listener: (...args: any[]) => void): unknown;
  send(slot: WorkerSlot, message: PrimaryToWorker): void;
  broadcast(message: PrimaryToWorker): void;
}

export interface WorkerPoolOptions {
  /** The worker entry script. */
  exec: string;
  logger: Logger;
  /** What a new worker is told at `init` (read at fork time: the config and topology of the moment). */
  init: () => { config: KvstoreConfig; snapshot: TopologySnapshot };
  /** Where the workers listen for clients (port 0: see ./listen.ts). */
  listen: ListenPort;
}

const READY_TIMEOUT_MS = 30_000;
const BACKOFF_BASE_MS = 100;
const BACKOFF_MAX_MS = 10_000;
/** A worker that lived this long is considered healthy again: its backoff resets. */
const STABLE_AFTER_MS = 10_000;

export class WorkerPool extends EventEmitter implements WorkerPoolView {
  readonly slots: WorkerSlot[] = [];
  /** Restarts after crashes, over all slots. */
  restartsTotal = 0;
  private stopping = false;
  private readonly onMessage = (worker: Worker, message: WorkerToPrimary) => this.onWorkerMessage(worker, message);
  private readonly onExit = (worker: Worker, code: number | null, signal: string | null) => this.onWorkerExit(worker, code, signal);

  constructor(private readonly options: WorkerPoolOptions) {
    super();
    cluster.setupPrimary({ exec: options.exec, silent: false });
    cluster.on('message', this.onMessage);
    cluster.on('exit', this.onExit);
  }

  /** Fork `count` workers; resolves when every one listens, rejects with the first start failure. */
  async start(count: number): Promise<void> {
    for (let id = 1; id <= count; id++) this.slots.push({ id, ready: false, ackedEpoch: 0, restarts: 0, consecutiveFailures: 0, startedAt: 0 });
    if (this.options.listen.fixedByFirstWorker && this.slots.length > 1) {
      // port 0 and workers binding their own sockets: the first one picks the port for all
      await this.forkAndWait(this.slots[0]);
      await Promise.all(this.slots.slice(1).map((slot) => this.forkAndWait(slot)));
    } else {
      await Promise.all(this.slots.map((slot) => this.forkAndWait(slot)));
    }
  }

  /** Workers and their state, for /health, /workers and tests. */
  info(): WorkerInfo[] {
    return this.slots.map((s) => ({ id: s.id, pid: s.pid, ready: s.ready, epoch: s.ackedEpoch, restarts: s.restarts }));
  }

  ready(): WorkerSlot[] {
    return this.slots.filter((s) => s.ready && s.worker);
  }

  send(slot: WorkerSlot, message: PrimaryToWorker): void {
    const worker = slot.worker;
    if (!worker || worker.isDead() || !worker.isConnected()) return;
    try {
      worker.send(message);
    } catch (err) {
      this.options.logger.warn({ err, pid: slot.pid }, 'IPC send to worker failed');
    }
  }

  /** Send to every ready worker (a worker still starting gets the state of the moment at `ready`). */
  broadcast(message: PrimaryToWorker): void {
    for (const slot of this.slots) if (slot.ready) this.send(slot, message);
  }

  /** Tell every live worker to drain within `drainMs`; SIGKILL those still running 5 s after. */
  async drain(drainMs: number): Promise<void> {
    this.stop();
    const alive = this.slots.filter((s) => s.worker && !s.worker.isDead());
    await Promise.all(
      alive.map(
        (slot) =>
          new Promise<void>((resolve) => {
            const worker = slot.worker!;
            if (worker.isDead()) return resolve();
            const kill = setTimeout(() => {
              this.options.logger.warn({ pid: slot.pid }, 'worker did not finish draining in time; killing it');
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
  }

  /** No more restarts (shutdown). */
  stop(): void {
    this.stopping = true;
    for (const slot of this.slots) if (slot.restartTimer) clearTimeout(slot.restartTimer);
  }

  /** Detach from node:cluster (after the workers exited). */
  close(): void {
    this.stop();
    cluster.off('message', this.onMessage);
    cluster.off('exit', this.onExit);
  }

  private fork(slot: WorkerSlot): Worker {
    const worker = cluster.fork({ KVSTORE_WORKER_ID: String(slot.id) });
    slot.worker = worker;
    slot.pid = worker.process.pid;
    slot.ready = false;
    slot.ackedEpoch = 0;
    slot.startedAt = Date.now();
    worker.on('online', () => {
      const { config, snapshot } = this.options.init();
      const othersListening = this.slots.some((s) => s !== slot && s.ready);
      this.send(slot, { type: 'init', config: { ...config, listen: this.options.listen.forWorker(othersListening) }, snapshot });
    });
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

  private onWorkerMessage(worker: Worker, message: WorkerToPrimary): void {
    const slot = this.slotOf(worker);
    if (!slot || !message || typeof message !== 'object') return;
    switch (message.type) {
      case 'ready':
        slot.ready = true;
        if (message.address) this.options.listen.bound(message.address);
        this.options.logger.info({ worker: slot.id, pid: message.pid, address: message.address }, 'worker ready');
        this.emit('ready', slot);
        break;
      case 'fatal':
        this.options.logger.error({ worker: slot.id, pid: slot.pid, message: message.message }, 'worker cannot run');
        break;
      case 'topology-ack':
        slot.ackedEpoch = Math.max(slot.ackedEpoch, message.epoch);
        this.emit('ack', slot, message.epoch);
        break;
      case 'stats':
        this.emit('stats', slot, message);
        break;
      case 'script':
      case 'script-flush':
      case 'functions':
        this.emit('script-change', message);
        break;
      case 'clients-query':
      case 'clients-local-result':
        this.emit('clients', slot, message);
        break;
      case 'activity':
        this.emit('activity', slot, message);
        break;
    }
  }

  private onWorkerExit(worker: Worker, code: number | null, signal: string | null): void {
    const slot = this.slotOf(worker);
    if (!slot) return;
    const wasReady = slot.ready;
    slot.ready = false;
    slot.worker = undefined;
    if (!this.stopping && wasReady) {
      // start failures are reported by forkAndWait
      this.options.logger.error({ worker: slot.id, pid: slot.pid, code, signal }, 'worker died; restarting it');
      this.scheduleRestart(slot);
    }
    this.emit('exit', slot, wasReady);
  }

  /** Restart with exponential backoff; a worker that lived long enough starts over at the base delay. */
  private scheduleRestart(slot: WorkerSlot): void {
    const lived = Date.now() - slot.startedAt;
    slot.consecutiveFailures = lived > STABLE_AFTER_MS ? 1 : slot.consecutiveFailures + 1;
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (slot.consecutiveFailures - 1));
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (this.stopping) return;
      slot.restarts += 1;
      this.restartsTotal += 1;
      this.forkAndWait(slot).catch((err) => {
        this.options.logger.error({ err: (err as Error).message, worker: slot.id, retryAfterFailures: slot.consecutiveFailures }, 'restarted worker failed to start');
        if (slot.worker && !slot.worker.isDead()) slot.worker.process.kill('SIGKILL');
        if (!this.stopping) this.scheduleRestart(slot);
      });
    }, delay);
  }
}
