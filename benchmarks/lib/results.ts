/**
 * The suite's result model: one sample per redis-benchmark run, aggregated into one cell per
 * (workload, pipeline, system) by medians, with ratios against Twemproxy and direct Redis and
 * the targets of issue 8 checked against Kvstore's best worker count.
 */
import { median, ratio } from './stats';

export const DIRECT = 'redis';
export const TWEMPROXY = 'twemproxy';
export const KVSTORE_PREFIX = 'kvstore';

export interface Sample {
  system: string;
  workload: string;
  pipeline: number;
  rep: number;
  requests: number;
  rps: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  /** CPU seconds of the system's own processes during the run (proxy tree, or the direct redis-server) */
  cpuSeconds: number | null;
  /** the user-space part of cpuSeconds (the rest is kernel: syscalls and loopback TCP) */
  cpuUserSeconds: number | null;
  /** CPU seconds of the 3 shard redis-servers during the run (0 for direct Redis) */
  shardCpuSeconds: number | null;
  wallSeconds: number;
  error: string | null;
}

export interface Cell {
  workload: string;
  pipeline: number;
  system: string;
  runs: number;
  failed: number;
  rps: number | null;
  /** spread of requests/s over the repetitions */
  rpsMin: number | null;
  rpsMax: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  /** the system's own CPU per request, microseconds (median over runs) */
  cpuUsPerRequest: number | null;
  /** user-space part of cpuUsPerRequest */
  cpuUserUsPerRequest: number | null;
  shardCpuUsPerRequest: number | null;
  rpsVsTwemproxy: number | null;
  rpsVsDirect: number | null;
  cpuVsTwemproxy: number | null;
  p99VsTwemproxy: number | null;
  errors: string[];
}

function perRequestUs(cpuSeconds: number | null, requests: number): number | null {
  if (cpuSeconds === null || requests <= 0) return null;
  return (cpuSeconds / requests) * 1e6;
}

/** One cell per (workload, pipeline, system), in the order the keys first appear in `order`. */
export function aggregate(samples: Sample[], order: { workloads: string[]; pipelines: number[]; systems: string[] }): Cell[] {
  const cells: Cell[] = [];
  for (const workload of order.workloads) {
    for (const pipeline of order.pipelines) {
      const row: Cell[] = [];
      for (const system of order.systems) {
        const mine = samples.filter((s) => s.workload === workload && s.pipeline === pipeline && s.system === system);
        if (mine.length === 0) continue;
        const ok = mine.filter((s) => s.error === null);
        row.push({
          workload,
          pipeline,
          system,
          runs: ok.length,
          failed: mine.length - ok.length,
          rps: median(ok.map((s) => s.rps)),
          rpsMin: ok.length ? Math.min(...ok.map((s) => s.rps ?? Infinity)) : null,
          rpsMax: ok.length ? Math.max(...ok.map((s) => s.rps ?? -Infinity)) : null,
          p50Ms: median(ok.map((s) => s.p50Ms)),
          p99Ms: median(ok.map((s) => s.p99Ms)),
          cpuUsPerRequest: median(ok.map((s) => perRequestUs(s.cpuSeconds, s.requests))),
          cpuUserUsPerRequest: median(ok.map((s) => perRequestUs(s.cpuUserSeconds, s.requests))),
          shardCpuUsPerRequest: median(ok.map((s) => perRequestUs(s.shardCpuSeconds, s.requests))),
          rpsVsTwemproxy: null,
          rpsVsDirect: null,
          cpuVsTwemproxy: null,
          p99VsTwemproxy: null,
          errors: [...new Set(mine.map((s) => s.error).filter((e): e is string => e !== null))],
        });
      }
      addRatios(row);
      cells.push(...row);
    }
  }
  return cells;
}

/** Fill the ratio fields of one (workload, pipeline) row of cells in place. */
export function addRatios(row: Cell[]): void {
  const twem = row.find((c) => c.system === TWEMPROXY);
  const direct = row.find((c) => c.system === DIRECT);
  for (const cell of row) {
    cell.rpsVsDirect = cell.system === DIRECT ? null : ratio(cell.rps, direct?.rps);
    if (cell.system === TWEMPROXY || cell.system === DIRECT) continue;
    cell.rpsVsTwemproxy = ratio(cell.rps, twem?.rps);
    cell.cpuVsTwemproxy = ratio(cell.cpuUsPerRequest, twem?.cpuUsPerRequest);
    cell.p99VsTwemproxy = ratio(cell.p99Ms, twem?.p99Ms);
  }
}

export interface TargetCheck {
  workload: string;
  pipeline: number;
  /** Kvstore's system id with the highest throughput in this cell */
  best: string | null;
  throughputNeeded: number;
  throughput: number | null;
  throughputOk: boolean | null;
  cpu: number | null;
  cpuOk: boolean | null;
  p99: number | null;
  p99Ok: boolean | null;
}

const MULTI_KEY_WORKLOADS = new Set(['mset10', 'mget10']);

/**
 * Issue 8's targets, per cell, for Kvstore at its best worker count: throughput ≥ Twemproxy's
 * (≥ 1.5x for MSET/MGET), CPU per request ≤ 1.5x Twemproxy's, p99 ≤ Twemproxy's.
 * Null where Twemproxy or Kvstore was not measured.
 */
export function checkTargets(cells: Cell[]): TargetCheck[] {
  const out: TargetCheck[] = [];
  const keys = [...new Set(cells.map((c) => `${c.workload}\u0000${c.pipeline}`))];
  for (const key of keys) {
    const [workload, p] = key.split('\u0000');
    const pipeline = Number(p);
    const row = cells.filter((c) => c.workload === workload && c.pipeline === pipeline);
    const kv = row.filter((c) => c.system.startsWith(KVSTORE_PREFIX) && c.rps !== null);
    const best = kv.sort((a, b) => (b.rps ?? 0) - (a.rps ?? 0))[0] ?? null;
    const needed = MULTI_KEY_WORKLOADS.has(workload) ? 1.5 : 1;
    const throughput = best?.rpsVsTwemproxy ?? null;
    const cpu = best?.cpuVsTwemproxy ?? null;
    const p99 = best?.p99VsTwemproxy ?? null;
    out.push({
      workload,
      pipeline,
      best: best?.system ?? null,
      throughputNeeded: needed,
      throughput,
      throughputOk: throughput === null ? null : throughput >= needed,
      cpu,
      cpuOk: cpu === null ? null : cpu <= 1.5,
      p99,
      p99Ok: p99 === null ? null : p99 <= 1,
    });
  }
  return out;
}
