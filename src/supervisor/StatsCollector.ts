/**
 * Stats from the workers, for GET /stats, /metrics and the ops/s gauge: asks every ready worker
 * over IPC (a `stats-request` with an id; the worker answers with its stats and its prom-client
 * registry as JSON), keeps each worker's last answer (a worker that does not answer in time
 * counts with it) and, when a worker exits, keeps its last counters (`retired`) so that totals
 * only go up across restarts. prom-client's aggregator sums it all (src/admin/metrics.ts).
 * Once a second it samples the total command count for `opsPerSec`.
 */
import { aggregateWorkers, metricValue, MetricsJson, Registry, retireMetrics } from '../admin/metrics';
import type { WorkerStats } from './messages';
import { aggregateStats, AggregatedStats } from './stats';
import type { WorkerPool, WorkerSlot } from './WorkerPool';

const STATS_TIMEOUT_MS = 2000;
const SAMPLE_EVERY_MS = 1000;

export interface LiveWorkerStats {
  id: number;
  restarts: number;
  stats: WorkerStats;
  metrics: MetricsJson;
}

interface WorkerReport {
  stats: WorkerStats;
  metrics: MetricsJson;
}

interface PendingRequest {
  want: Set<number>;
  got: Map<number, WorkerReport>;
  done: () => void;
}

export class StatsCollector {
  /** Counters of exited workers (folded into one entry when totals are computed). */
  private retired: MetricsJson[] = [];
  private readonly last = new Map<WorkerSlot, WorkerReport>();
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
    pool.on('stats', (slot: WorkerSlot, message: { requestId: number; stats: WorkerStats; metrics: MetricsJson }) => {
      const report = { stats: message.stats, metrics: message.metrics ?? [] };
      this.last.set(slot, report);
      const request = this.pending.get(message.requestId);
      if (request) {
        request.got.set(slot.id, report);
        this.settleIfComplete(request);
      }
    });
    pool.on('exit', (slot: WorkerSlot) => {
      const last = this.last.get(slot);
      if (last) this.retired.push(retireMetrics(last.metrics));
      this.last.delete(slot);
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
    const got = new Map<number, WorkerReport>();
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
      const report = got.get(s.id) ?? this.last.get(s);
      if (report) out.push({ id: s.id, restarts: s.restarts, ...report });
    }
    return out;
  }

  /** The workers' metrics summed by prom-client's aggregator: the live ones and the counters of exited ones. */
  async workerTotals(live: LiveWorkerStats[]): Promise<Registry> {
    if (this.retired.length > 1) {
      const folding = this.retired.length;
      const folded = await aggregateWorkers(this.retired.slice(0, folding)).getMetricsAsJSON();
      this.retired = [folded, ...this.retired.slice(folding)]; // workers may have exited meanwhile
    }
    return aggregateWorkers([...live.map((w) => w.metrics), ...this.retired]);
  }

  /** The workers' part of GET /metrics. */
  async workerMetrics(): Promise<Registry> {
    return this.workerTotals(await this.collect());
  }

  /** The JSON of GET /stats. */
  async aggregated(): Promise<AggregatedStats> {
    const live = await this.collect();
    const totals = await (await this.workerTotals(live)).getMetricsAsJSON();
    const { epoch, mode } = this.context();
    return aggregateStats(live, totals, {
      uptimeSec: this.uptimeSec(),
      epoch,
      mode,
      workerRestarts: this.pool.restartsTotal,
      opsPerSec: this.opsPerSec,
    });
  }

  /** Commands per second over the last sample (about 1 s). */
  get opsPerSecond(): number {
    return this.opsPerSec;
  }

  uptimeSec(): number {
    return Math.round((Date.now() - this.startedAt) / 1000);
  }

  private settleIfComplete(request: PendingRequest): void {
    if ([...request.want].every((id) => request.got.has(id))) request.done();
  }

  private async sample(): Promise<void> {
    const live = await this.collect(900);
    const total = metricValue(await (await this.workerTotals(live)).getMetricsAsJSON(), 'kvstore_commands_total');
    const now = Date.now();
    if (this.lastSample && now > this.lastSample.at) this.opsPerSec = Math.max(0, Math.round(((total - this.lastSample.total) * 1000) / (now - this.lastSample.at)));
    this.lastSample = { at: now, total };
  }
}
