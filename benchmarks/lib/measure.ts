/**
 * One measured redis-benchmark run: the CPU time of the measured processes (and of the shards)
 * read from /proc before and after, as one Sample. Shared by the suite and the TLS benchmark.
 */
import { treeCpuSeconds } from './procStat';
import { runRedisBenchmark } from './redisBenchmark';
import type { Sample } from './results';

export interface RunSpec {
  system: string;
  workload: string;
  pipeline: number;
  rep: number;
  requests: number;
  /** redis-benchmark's arguments */
  args: string[];
  /** the measured system's root processes (their trees' CPU is the system's) */
  roots: number[];
  /** the shards' pids (their CPU is recorded apart); empty when the system has no shards */
  shardPids: number[];
  timeoutMs: number;
}

function seconds(value: number): number {
  return Math.round(value * 1000) / 1000;
}

export async function measureRun(spec: RunSpec): Promise<Sample> {
  const cpuBefore = treeCpuSeconds(spec.roots);
  const shardBefore = spec.shardPids.length ? treeCpuSeconds(spec.shardPids).seconds : 0;
  const run = await runRedisBenchmark(spec.args, spec.timeoutMs);
  const cpuAfter = treeCpuSeconds(spec.roots);
  const shardAfter = spec.shardPids.length ? treeCpuSeconds(spec.shardPids).seconds : 0;
  return {
    system: spec.system,
    workload: spec.workload,
    pipeline: spec.pipeline,
    rep: spec.rep,
    requests: spec.requests,
    rps: run.row?.rps ?? null,
    p50Ms: run.row?.p50Ms ?? null,
    p99Ms: run.row?.p99Ms ?? null,
    cpuSeconds: seconds(cpuAfter.seconds - cpuBefore.seconds),
    cpuUserSeconds: seconds(cpuAfter.userSeconds - cpuBefore.userSeconds),
    shardCpuSeconds: seconds(shardAfter - shardBefore),
    wallSeconds: seconds(run.wallSeconds),
    error: run.error,
  };
}
