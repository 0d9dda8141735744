/**
 * One measured redis-benchmark run: the CPU time of the measured processes (and of the shards)
 * read from /proc before and after, as one Sample; and the interleaved loop over every cell.
 * Shared by the suite and the TLS benchmark.
 */
import os from 'node:os';
import { treeCpuSeconds } from './procStat';
import { runRedisBenchmark } from './redisBenchmark';
import type { Sample } from './results';
import type { Workload } from './workloads';

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

/** One system of an interleaved run: how redis-benchmark reaches it and whose CPU is its own. */
export interface MeasuredSystem {
  id: string;
  /** redis-benchmark's arguments for (workload, pipeline, requests). */
  args(workload: Workload, pipeline: number, requests: number): string[];
  roots: number[];
  shardPids: number[];
}

export interface InterleavedPlan {
  workloads: Workload[];
  pipelines: number[];
  reps: number;
  /** requests of one run of a workload at a pipeline depth */
  requests(workload: Workload, pipeline: number): number;
  maxSeconds: number;
  timeoutMs: number;
  log(line: string): void;
}

/**
 * Every (workload, pipeline, rep) cell, once per system, the systems interleaved (A B C, B C A,
 * ...: each takes each position in turn, so drift on a shared machine hits all alike). Stops
 * after `maxSeconds`, noting how many runs were left.
 */
export async function measureInterleaved(systems: MeasuredSystem[], plan: InterleavedPlan): Promise<{ samples: Sample[]; notes: string[] }> {
  const samples: Sample[] = [];
  const notes: string[] = [];
  const deadline = Date.now() + plan.maxSeconds * 1000;
  const total = plan.workloads.length * plan.pipelines.length * plan.reps * systems.length;
  let done = 0;
  outer: for (const w of plan.workloads) {
    for (const pipeline of plan.pipelines) {
      const requests = plan.requests(w, pipeline);
      for (let rep = 0; rep < plan.reps; rep++) {
        const order = systems.map((_, i) => systems[(i + rep) % systems.length]);
        for (const s of order) {
          if (Date.now() > deadline) {
            notes.push(`stopped measuring after --max-seconds ${plan.maxSeconds}: ${total - done} runs not done`);
            break outer;
          }
          const sample = await measureRun({
            system: s.id,
            workload: w.id,
            pipeline,
            rep,
            requests,
            args: s.args(w, pipeline, requests),
            roots: s.roots,
            shardPids: s.shardPids,
            timeoutMs: plan.timeoutMs,
          });
          samples.push(sample);
          done++;
          plan.log(
            `[${done}/${total}] ${w.id} -P ${pipeline} ${s.id} rep ${rep + 1}: ` +
              (sample.error ? `FAILED ${sample.error}` : `${Math.round(sample.rps ?? 0)} req/s, p50 ${sample.p50Ms} ms, p99 ${sample.p99Ms} ms, cpu ${sample.cpuSeconds}s`) +
              `, load ${os.loadavg()[0].toFixed(2)}`,
          );
        }
      }
    }
  }
  return { samples, notes };
}
