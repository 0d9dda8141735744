/**
 * Stats from the workers, for GET /stats, /metrics and the ops/s gauge: asks every ready worker
 * over IPC (a `stats-request` with an id; the worker answers with its counters), keeps each
 * worker's last answer (a worker that does not answer in time counts with it) and, when a worker
 * exits, moves its last counters into `retired` so that totals only go up across restarts.
 * Once a second it samples the total command count for `opsPerSec`.
 */
import type { WorkerStats } from './messages';
import { aggregateStats, AggregatedStats, RetiredCounters } from './stats';
import type { WorkerPool, WorkerSlot } from './WorkerPool';

const STATS_TIMEOUT_MS = 2000;
const SAMPLE_EVERY_MS = 1000;

export interface LiveWorkerStats {
  id: number;
  restarts: number;
  stats: WorkerStats;
}

interface PendingRequest {
  want: Set<number>;
  got: Map<number, WorkerStats>;
  done: () => void;
}

export class StatsCollector {
  readonly retired = new RetiredCounters();
  private nextRequestId = 1;
  private readonly pending = new Map<number, PendingRequest>();
  private sampler?: NodeJS.Timeout;
  private lastSample?: { at: number; total: number };
  private opsPerSec = 0;
  private readonly startedAt = Date.now();

  constructor(
    private readonly pool: WorkerPool,
    /** The primary's own part of /stats. */
    private readonly context: () => { epoch: number; mode: string },
  ) {
    pool.on('stats', (slot: WorkerSlot, message: { requestId: number; stats: WorkerStats }) => {
      slot.lastStats = message.stats;
      const request = this.pending.get(message.requestId);
      if (request) {
        request.got.set(slot.id, message.stats);
        this.settleIfComplete(request);
      }
    });
    pool.on('exit', (slot: WorkerSlot) => {
      if (slot.lastStats) this.retired.add(slot.lastStats);
      slot.lastStats = undefined;
      for (const request of this.pending.values()) {
        request.want.delete(slot.id);
        this.settleIfComplete(request);
      }
    });
  }

  /** Start sampling ops/s (once the workers run). */
  start(): void {
    this.sampler = setInterval(() => void this.sample(), SAMPLE_EVERY_MS);
    this.sampler.unref();
  }

  stop(): void {
    if (this.sampler) clearInterval(this.sampler);
    this.sampler = undefined;
  }

  /** Ask every ready worker for its stats (those that do not answer in time: their last known). */
  async collect(timeoutMs = STATS_TIMEOUT_MS): Promise<LiveWorkerStats[]> {
    const ready = this.pool.ready();
    const requestId = this.nextRequestId++;
    const got = new Map<number, WorkerStats>();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(finish, timeoutMs);
      const request: PendingRequest = { want: new Set(ready.map((s) => s.id)), got, done: finish };
      function finish() {
        clearTimeout(timer);
        resolve();
      }
      this.pending.set(requestId, request);
      if (request.want.size === 0) finish();
      for (const s of ready) this.pool.send(s, { type: 'stats-request', requestId });
    });
    this.pending.delete(requestId);
    const out: LiveWorkerStats[] = [];
    for (const s of ready) {
      const stats = got.get(s.id) ?? s.lastStats;
      if (stats) {
        s.lastStats = stats;
        out.push({ id: s.id, restarts: s.restarts, stats });
      }
    }
    return out;
  }

  /** The JSON of GET /stats. */
  async aggregated(): Promise<AggregatedStats> {
    const live = await this.collect();
    const { epoch, mode } = this.context();
    return aggregateStats(live, this.retired, {
      uptimeSec: this.uptimeSec(),
      epoch,
      mode,
      workerRestarts: this.pool.restartsTotal,
      opsPerSec: this.opsPerSec,
    });
  }

  uptimeSec(): number {
    return Math.round((Date.now() - this.startedAt) / 1000);
  }

  private settleIfComplete(request: PendingRequest): void {
    if ([...request.want].every((id) => request.got.has(id))) request.done();
  }

  private async sample(): Promise<void> {
    const live = await this.collect(900);
    const total = this.retired.totalCommands + live.reduce((n, w) => n + w.stats.totalCommands, 0);
    const now = Date.now();
    if (this.lastSample && now > this.lastSample.at) this.opsPerSec = Math.max(0, Math.round(((total - this.lastSample.total) * 1000) / (now - this.lastSample.at)));
    this.lastSample = { at: now, total };
  }
}
