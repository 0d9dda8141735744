/**
 * `kvstore_command_duration_seconds{command}`: the latency histograms as a Prometheus histogram
 * in a prom-client registry. It reads a worker's histogram snapshot when the registry is read
 * (no prom-client observe per command: see LatencyHistograms.ts); workers' buckets are then
 * summed by prom-client's aggregator in the primary like any histogram.
 */
import type { Registry } from 'prom-client';
import { bucketHigh, HistogramSnapshot, PROMETHEUS_BOUNDS_US } from './LatencyHistograms';

export const LATENCY_METRIC = 'kvstore_command_duration_seconds';

interface Value {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

/** The histogram's samples for one snapshot (command names by id). */
export function latencySamples(snapshot: HistogramSnapshot | undefined, names: readonly string[]): Value[] {
  const values: Value[] = [];
  for (const [key, [sumUs, pairs]] of Object.entries(snapshot ?? {})) {
    const command = names[Number(key)];
    if (command === undefined) continue;
    let total = 0;
    for (let i = 1; i < pairs.length; i += 2) total += pairs[i];
    let p = 0;
    let cumulative = 0;
    for (const bound of PROMETHEUS_BOUNDS_US) {
      while (p < pairs.length && bucketHigh(pairs[p]) <= bound) {
        cumulative += pairs[p + 1];
        p += 2;
      }
      values.push({ labels: { command, le: bound / 1e6 }, value: cumulative, metricName: `${LATENCY_METRIC}_bucket` });
    }
    values.push({ labels: { command, le: '+Inf' }, value: total, metricName: `${LATENCY_METRIC}_bucket` });
    values.push({ labels: { command }, value: sumUs / 1e6, metricName: `${LATENCY_METRIC}_sum` });
    values.push({ labels: { command }, value: total, metricName: `${LATENCY_METRIC}_count` });
  }
  return values;
}

/** Register the histogram in `registry`, read from `snapshot()` at each collection. */
export function registerLatencyMetric(registry: Registry, snapshot: () => HistogramSnapshot | undefined, names: readonly string[]): void {
  const help = 'Time from the first byte of a command read to its reply written (worker clock, per read batch), per command.';
  registry.registerMetric({
    name: LATENCY_METRIC,
    help,
    get: async () => ({ name: LATENCY_METRIC, help, type: 'histogram', aggregator: 'sum', values: latencySamples(snapshot(), names) }),
  } as never);
}
