/**
 * Aggregating worker stats for GET /stats and GET /metrics. Counters survive worker restarts:
 * when a worker exits, its last reported counters move into `retired`, so totals only go up.
 */
import type { NativeBufferStats, WorkerStats } from './messages';

export interface CommandCounts {
  calls: number;
  errors: number;
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
  /** Native buffered bytes summed over the workers (the max* fields: the largest of any worker). */
  nativeBuffers: NativeBufferStats;
}

export function emptyNativeBuffers(): NativeBufferStats {
  return { streams: 0, outputQueued: 0, outputAllocated: 0, poolBytes: 0, inputHeld: 0, arenaBytes: 0, streamStateBytes: 0, maxStreamQueued: 0, maxStreamAllocated: 0 };
}

function addNativeBuffers(into: NativeBufferStats, add: NativeBufferStats): void {
  into.streams += add.streams;
  into.outputQueued += add.outputQueued;
  into.outputAllocated += add.outputAllocated;
  into.poolBytes += add.poolBytes;
  into.inputHeld += add.inputHeld;
  into.arenaBytes += add.arenaBytes;
  into.streamStateBytes += add.streamStateBytes;
  into.maxStreamQueued = Math.max(into.maxStreamQueued, add.maxStreamQueued);
  into.maxStreamAllocated = Math.max(into.maxStreamAllocated, add.maxStreamAllocated);
}

/** Monotonic counters of workers that have exited. */
export class RetiredCounters {
  totalConnections = 0;
  totalCommands = 0;
  totalErrors = 0;
  commands: Record<string, CommandCounts> = {};
  backendErrors: Record<string, number> = {};

  add(stats: WorkerStats): void {
    this.totalConnections += stats.totalConnections;
    this.totalCommands += stats.totalCommands;
    this.totalErrors += stats.totalErrors;
    for (const [name, c] of Object.entries(stats.commands)) {
      const mine = (this.commands[name] ??= { calls: 0, errors: 0 });
      mine.calls += c.calls;
      mine.errors += c.errors;
    }
    for (const [key, b] of Object.entries(stats.backends)) this.backendErrors[key] = (this.backendErrors[key] ?? 0) + b.errors;
  }
}

export function aggregateStats(
  live: Array<{ id: number; restarts: number; stats: WorkerStats }>,
  retired: RetiredCounters,
  extra: { uptimeSec: number; epoch: number; mode: string; workerRestarts: number; opsPerSec: number },
): AggregatedStats {
  const out: AggregatedStats = {
    uptimeSec: extra.uptimeSec,
    epoch: extra.epoch,
    mode: extra.mode,
    workers: [],
    workerRestarts: extra.workerRestarts,
    clients: 0,
    totalConnections: retired.totalConnections,
    totalCommands: retired.totalCommands,
    totalErrors: retired.totalErrors,
    opsPerSec: extra.opsPerSec,
    commands: structuredClone(retired.commands),
    backends: {},
    nativeBuffers: emptyNativeBuffers(),
  };
  for (const [key, errors] of Object.entries(retired.backendErrors)) {
    out.backends[key] = { address: key, connectedWorkers: 0, workers: 0, connected: false, pending: 0, errors };
  }
  for (const { id, restarts, stats } of live) {
    out.workers.push({
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
    });
    if (stats.nativeBuffers) addNativeBuffers(out.nativeBuffers, stats.nativeBuffers);
    out.clients += stats.clients;
    out.totalConnections += stats.totalConnections;
    out.totalCommands += stats.totalCommands;
    out.totalErrors += stats.totalErrors;
    for (const [name, c] of Object.entries(stats.commands)) {
      const mine = (out.commands[name] ??= { calls: 0, errors: 0 });
      mine.calls += c.calls;
      mine.errors += c.errors;
    }
    for (const [key, b] of Object.entries(stats.backends)) {
      const mine = (out.backends[key] ??= { address: b.address, connectedWorkers: 0, workers: 0, connected: false, pending: 0, errors: 0 });
      mine.address = b.address;
      mine.workers += 1;
      if (b.connected) mine.connectedWorkers += 1;
      mine.pending += b.pending;
      mine.errors += b.errors;
    }
  }
  for (const b of Object.values(out.backends)) b.connected = b.workers > 0 && b.connectedWorkers === b.workers;
  out.workers.sort((a, b) => a.id - b.id);
  return out;
}
