/**
 * SLOWLOG GET/LEN/RESET and INFO latencystats for the whole proxy. Each worker keeps its own
 * SLOWLOG ring and histograms (WorkerObservability); a client's command asks every worker
 * through the same relay as CLIENT LIST (src/proxy/clients/ClientDirectory.ts →
 * src/supervisor/ClientsRelay.ts), so this file only says what one worker answers
 * (`answerObservabilityQuery`), how answers add up on the way back (`addObservabilityAnswer`),
 * and what the asking worker makes of the sum. Queries and answers are plain data (IPC).
 */
import { LatencyHistograms, HistogramSnapshot } from './LatencyHistograms';
import type { SlowlogEntry } from './SlowLog';
import type { WorkerObservability } from './WorkerObservability';

export type ObservabilityQuery =
  /** SLOWLOG GET count: each worker's newest `count` (< 0 = all); the asker keeps the newest overall. */
  | { op: 'slowlog-get'; count: number }
  | { op: 'slowlog-len' }
  | { op: 'slowlog-reset' }
  /** INFO latencystats: each worker's histogram rows. */
  | { op: 'latency' };

/** A worker's answer, or several workers' added up. */
export interface ObservabilityAnswer {
  slowlog?: SlowlogEntry[];
  slowlogLen?: number;
  latency?: HistogramSnapshot[];
}

const OPS: ReadonlySet<string> = new Set(['slowlog-get', 'slowlog-len', 'slowlog-reset', 'latency']);

export function isObservabilityQuery(query: { op: string }): query is ObservabilityQuery {
  return OPS.has(query.op);
}

/** What this worker answers. */
export function answerObservabilityQuery(observe: WorkerObservability, query: ObservabilityQuery): ObservabilityAnswer {
  switch (query.op) {
    case 'slowlog-get':
      return { slowlog: observe.slowlog.get(query.count) };
    case 'slowlog-len':
      return { slowlogLen: observe.slowlog.length };
    case 'slowlog-reset':
      observe.slowlog.reset();
      return {};
    case 'latency':
      return { latency: [observe.histograms.snapshot()] };
  }
}

/** Add one worker's answer to the sum (in the primary, as the answers come in). */
export function addObservabilityAnswer(into: ObservabilityAnswer, part: ObservabilityAnswer): void {
  if (part.slowlog) (into.slowlog ??= []).push(...part.slowlog);
  if (part.slowlogLen !== undefined) into.slowlogLen = (into.slowlogLen ?? 0) + part.slowlogLen;
  if (part.latency) (into.latency ??= []).push(...part.latency);
}

/** The workers' histograms added up (INFO latencystats of the whole proxy). */
export function mergedHistograms(commandCount: number, snapshots: readonly HistogramSnapshot[] | undefined): LatencyHistograms {
  const merged = new LatencyHistograms(commandCount);
  for (const s of snapshots ?? []) merged.merge(s);
  return merged;
}
