/**
 * The JSON of GET /stats, built from the workers' metrics summed by prom-client's aggregator
 * (src/admin/metrics.ts; totals include the counters of exited workers, so they only go up) and
 * the per-worker list from each worker's own stats.
 */
import { metricSamples, metricValue, MetricsJson } from '../admin/metrics';
import { commands as commandTable } from '../commands/table';
import { mergedHistograms } from '../observability/ObservabilityQuery';
import type { NativeBufferStats, PubSubStats, WorkerMemoryStats, WorkerStats } from './messages';

export interface CommandCounts {
  calls: number;
  errors: number;
  /**
   * Latency percentiles in µs (first byte read to reply written), the live workers' histograms
   * added up (an exited worker's are gone); absent for a command no live worker timed.
   */
  p50?: number;
  p99?: number;
  p999?: number;
}

export interface BackendSummary {
  address: string;
  /** Workers whose connection to this backend is up, out of `workers`. */
  connectedWorkers: number;
  workers: number;
  connected: boolean;
  pending: number;
  errors: number;
}

export interface WorkerSummary {
  id: number;
  pid: number;
  epoch: number;
  nativeEnabled: boolean;
  nativeIo: boolean;
  clients: number;
  totalConnections: number;
  totalCommands: number;
  totalErrors: number;
  restarts: number;
  /** Bytes held by the addon's sockets (absent when the worker uses net.Socket). */
  nativeBuffers?: NativeBufferStats;
  /** The worker process's memory (process.memoryUsage()). */
  memory?: WorkerMemoryStats;
  pubsub?: PubSubStats;
}

/** The JSON of GET /stats (and `kvstore ctl stats --json`). */
export interface AggregatedStats {
  uptimeSec: number;
  epoch: number;
  mode: string;
  workers: WorkerSummary[];
  workerRestarts: number;
  clients: number;
  totalConnections: number;
  totalCommands: number;
  totalErrors: number;
  /** Commands per second over the last sampling interval (about 1 s). */
  opsPerSec: number;
  commands: Record<string, CommandCounts>;
  backends: Record<string, BackendSummary>;
  /** Native buffered bytes summed over the live workers (max*: the largest of any worker). */
  nativeBuffers: NativeBufferStats;
  /** Pub/sub summed over the live workers (peakClientOutput: the largest of any worker). */
  pubsub: PubSubStats;
}

export function emptyNativeBuffers(): NativeBufferStats {
  return { streams: 0, outputQueued: 0, outputAllocated: 0, poolBytes: 0, inputHeld: 0, arenaBytes: 0, streamStateBytes: 0, maxStreamQueued: 0, maxStreamAllocated: 0 };
}

function addNativeBuffers(into: NativeBufferStats, add: NativeBufferStats): NativeBufferStats {
  into.streams += add.streams;
  into.outputQueued += add.outputQueued;
  into.outputAllocated += add.outputAllocated;
  into.poolBytes += add.poolBytes;
  into.inputHeld += add.inputHeld;
  into.arenaBytes += add.arenaBytes;
  into.streamStateBytes += add.streamStateBytes;
  into.maxStreamQueued = Math.max(into.maxStreamQueued, add.maxStreamQueued);
  into.maxStreamAllocated = Math.max(into.maxStreamAllocated, add.maxStreamAllocated);
  return into;
}

function addPubSub(into: PubSubStats, add: PubSubStats): PubSubStats {
  into.subscriberConnections += add.subscriberConnections;
  into.slowClientsCut += add.slowClientsCut;
  into.peakClientOutput = Math.max(into.peakClientOutput, add.peakClientOutput);
  return into;
}

export function aggregateStats(
  live: Array<{ id: number; restarts: number; stats: WorkerStats }>,
  /** The workers' metrics, aggregated (live and exited workers). */
  totals: MetricsJson,
  extra: { uptimeSec: number; epoch: number; mode: string; workerRestarts: number; opsPerSec: number },
): AggregatedStats {
  const commands: Record<string, CommandCounts> = {};
  for (const { labels, value } of metricSamples(totals, 'kvstore_command_calls_total')) (commands[labels.command] ??= { calls: 0, errors: 0 }).calls = value;
  for (const { labels, value } of metricSamples(totals, 'kvstore_command_errors_total')) (commands[labels.command] ??= { calls: 0, errors: 0 }).errors = value;

  const latency = mergedHistograms(commandTable.length, live.flatMap(({ stats }) => (stats.observability ? [stats.observability.latency] : [])));
  commandTable.forEach(({ name }, id) => {
    if (latency.totals[id] === 0) return;
    const c = (commands[name] ??= { calls: 0, errors: 0 });
    [c.p50, c.p99, c.p999] = [latency.percentile(id, 50), latency.percentile(id, 99), latency.percentile(id, 99.9)];
  });

  const backends: Record<string, BackendSummary> = {};
  const backend = (labels: Record<string, string>) => (backends[labels.backend] ??= { address: labels.address, connectedWorkers: 0, workers: 0, connected: false, pending: 0, errors: 0 });
  for (const { labels, value } of metricSamples(totals, 'kvstore_backend_errors_total')) backend(labels).errors += value;
  for (const { labels, value } of metricSamples(totals, 'kvstore_backend_workers')) {
    // a live worker's current address wins over an exited worker's (the errors label)
    backend(labels).address = labels.address;
    backend(labels).workers += value;
  }
  for (const { labels, value } of metricSamples(totals, 'kvstore_backend_connected')) backend(labels).connectedWorkers += value;
  for (const { labels, value } of metricSamples(totals, 'kvstore_backend_pending')) backend(labels).pending += value;
  for (const b of Object.values(backends)) b.connected = b.workers > 0 && b.connectedWorkers === b.workers;

  const workers: WorkerSummary[] = live
    .map(({ id, restarts, stats }) => ({
      id,
      pid: stats.pid,
      epoch: stats.epoch,
      nativeEnabled: stats.nativeEnabled,
      nativeIo: stats.nativeIo === true,
      clients: stats.clients,
      totalConnections: stats.totalConnections,
      totalCommands: stats.totalCommands,
      totalErrors: stats.totalErrors,
      restarts,
      ...(stats.nativeBuffers ? { nativeBuffers: stats.nativeBuffers } : {}),
      ...(stats.memory ? { memory: stats.memory } : {}),
      ...(stats.pubsub ? { pubsub: stats.pubsub } : {}),
    }))
    .sort((a, b) => a.id - b.id);

  return {
    uptimeSec: extra.uptimeSec,
    epoch: extra.epoch,
    mode: extra.mode,
    workers,
    workerRestarts: extra.workerRestarts,
    clients: metricValue(totals, 'kvstore_clients'),
    totalConnections: metricValue(totals, 'kvstore_connections_total'),
    totalCommands: metricValue(totals, 'kvstore_commands_total'),
    totalErrors: metricValue(totals, 'kvstore_errors_total'),
    opsPerSec: extra.opsPerSec,
    commands,
    backends,
    nativeBuffers: live.reduce((sum, { stats }) => (stats.nativeBuffers ? addNativeBuffers(sum, stats.nativeBuffers) : sum), emptyNativeBuffers()),
    pubsub: live.reduce((sum, { stats }) => (stats.pubsub ? addPubSub(sum, stats.pubsub) : sum), { subscriberConnections: 0, slowClientsCut: 0, peakClientOutput: 0 }),
  };
}
