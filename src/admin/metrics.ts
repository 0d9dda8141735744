/**
 * Metrics through prom-client. Two kinds of registries:
 * - each worker has one (src/supervisor/workerMetrics.ts): clients, commands, backends. The
 *   worker sends it as JSON (`registry.getMetricsAsJSON()`) in its reply to the primary's stats
 *   request, and the primary sums the workers with prom-client's cluster aggregator
 *   (`AggregatorRegistry.aggregate`, each metric by its `aggregator`: sum unless it says
 *   otherwise);
 * - the primary has one (PrimaryContext.metrics): topology, workers, and what plugins add.
 * GET /metrics merges the aggregated workers' registry and the primary's.
 *
 * Why not `AggregatorRegistry#clusterMetrics()`, prom-client's own IPC: it asks every process in
 * `cluster.workers` (also one still starting, which does not answer yet, failing the whole scrape
 * after a 5 s timeout) and forgets the counters of a worker that exited, so a restart would make
 * every total go down. Our stats request already has per-worker timeouts and a last known value,
 * and the counters of exited workers are kept here (`retireMetrics`). Its message types
 * (`prom-client:*`) are never sent, so they do not clash with ours (src/supervisor/messages.ts).
 *
 * Most of our metrics are read out of state that lives elsewhere when scraped: `gaugeFrom` and
 * `counterFrom` define one in a line. A histogram or a counter incremented in place is a plain
 * prom-client metric registered in the worker's registry, e.g.
 *   new Histogram({ name: 'kvstore_command_duration_seconds', help: '...', labelNames: ['command'], registers: [workerRegistry] })
 */
import { AggregatorRegistry, Counter, Gauge, MetricObjectWithValues, MetricValue, Registry } from 'prom-client';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';
export type { Aggregator } from 'prom-client';

/** One registry as JSON (what workers send and the aggregator reads). */
export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

export const PROMETHEUS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

export type Labels = Record<string, string>;
export type Samples = number | Array<{ labels: Labels; value: number }>;

interface ReadOutOptions {
  /** Label names of the samples `read` returns. */
  labelNames?: string[];
  /** How the primary combines the workers' values (worker metrics only; default sum). */
  aggregator?: 'sum' | 'min' | 'max' | 'first' | 'average';
}

function samples(read: Samples): Array<{ labels: Labels; value: number }> {
  return typeof read === 'number' ? [{ labels: {}, value: read }] : read;
}

/** The options both read-out metrics take: `collect` replaces the values with `read()`'s. */
function readOut<T extends Gauge<string> | Counter<string>>(registry: Registry, name: string, help: string, read: () => Samples | Promise<Samples>, options: ReadOutOptions, put: (metric: T, labels: Labels, value: number) => void) {
  return {
    name,
    help,
    labelNames: options.labelNames ?? [],
    aggregator: options.aggregator ?? 'sum',
    registers: [registry],
    async collect(this: T) {
      const values = samples(await read());
      this.reset();
      for (const s of values) put(this, s.labels, s.value);
    },
  };
}

/** A gauge whose values are read from `read()` at every scrape. */
export function gaugeFrom(registry: Registry, name: string, help: string, read: () => Samples | Promise<Samples>, options: ReadOutOptions = {}): Gauge<string> {
  return new Gauge(readOut<Gauge<string>>(registry, name, help, read, options, (g, labels, value) => g.set(labels, value)));
}

/** A counter whose totals are read from `read()` at every scrape (the count is kept elsewhere, monotonic). */
export function counterFrom(registry: Registry, name: string, help: string, read: () => Samples | Promise<Samples>, options: ReadOutOptions = {}): Counter<string> {
  return new Counter(readOut<Counter<string>>(registry, name, help, read, options, (c, labels, value) => c.inc(labels, value)));
}

/** The workers' registries (as JSON) combined into one, each metric by its aggregator. */
export function aggregateWorkers(perWorker: MetricsJson[]): Registry {
  return AggregatorRegistry.aggregate(perWorker);
}

/**
 * What of an exited worker's metrics stays in the totals: counters and histograms (monotonic);
 * gauges (clients, pending requests) left with it.
 */
export function retireMetrics(last: MetricsJson): MetricsJson {
  return last.filter((m) => String(m.type) === 'counter' || String(m.type) === 'histogram');
}

/** Prometheus text of several registries (metric names must not repeat across them). */
export function renderRegistries(registries: Registry[]): Promise<string> {
  return Registry.merge(registries).metrics();
}

/** The value of `name` with exactly `labels` (0 when absent), from a registry's JSON. */
export function metricValue(json: MetricsJson, name: string, labels: Labels = {}): number {
  const metric = json.find((m) => m.name === name);
  const want = Object.entries(labels);
  const sample = metric?.values.find((v) => Object.keys(v.labels).length === want.length && want.every(([k, val]) => String(v.labels[k]) === val));
  return sample?.value ?? 0;
}

/** Every sample of `name`, from a registry's JSON. */
export function metricSamples(json: MetricsJson, name: string): Array<{ labels: Labels; value: number }> {
  const metric = json.find((m) => m.name === name);
  return (metric?.values ?? []).map((v) => ({ labels: Object.fromEntries(Object.entries(v.labels).map(([k, val]) => [k, String(val)])), value: v.value }));
}
