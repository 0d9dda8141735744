/**
 * A worker's metrics (prom-client), read out of the proxy's stats when the primary asks for them
 * (src/supervisor/worker.ts answers a stats request with `stats` and these as JSON); the primary
 * sums the workers with prom-client's aggregator (src/admin/metrics.ts). Gauges that mean "every
 * worker" (native hot path on) take the minimum instead of the sum.
 *
 * `workerRegistry` is the worker process's registry: a metric the data path updates itself (a
 * latency histogram) registers there and reaches GET /metrics with no other change:
 *   export const commandSeconds = new Histogram({ name: 'kvstore_command_duration_seconds', help: '...', labelNames: ['command'], registers: [workerRegistry] });
 */
import { counterFrom, gaugeFrom, MetricsJson, Registry } from '../admin/metrics';
import type { WorkerStats } from './messages';
import { registerLatencyMetric } from '../observability/latencyMetric';
import { commands as commands_ } from '../commands/table';

export const workerRegistry = new Registry();

export class WorkerMetrics {
  private stats?: WorkerStats;

  constructor(readonly registry: Registry = workerRegistry) {
    const s = () => this.stats;
    const backends = (value: (b: WorkerStats['backends'][string]) => number) =>
      Object.entries(s()?.backends ?? {}).map(([backend, b]) => ({ labels: { backend, address: b.address }, value: value(b) }));
    const commands = (value: (c: { calls: number; errors: number }) => number) => Object.entries(s()?.commands ?? {}).map(([command, c]) => ({ labels: { command }, value: value(c) }));
    const backendLabels = { labelNames: ['backend', 'address'] };

    gaugeFrom(registry, 'kvstore_clients', 'Connected clients.', () => s()?.clients ?? 0);
    counterFrom(registry, 'kvstore_connections_total', 'Client connections accepted.', () => s()?.totalConnections ?? 0);
    counterFrom(registry, 'kvstore_commands_total', 'Commands processed, all commands.', () => s()?.totalCommands ?? 0);
    counterFrom(registry, 'kvstore_errors_total', 'Commands answered with an error, all commands.', () => s()?.totalErrors ?? 0);
    counterFrom(registry, 'kvstore_command_calls_total', 'Commands processed, per command.', () => commands((c) => c.calls), { labelNames: ['command'] });
    counterFrom(registry, 'kvstore_command_errors_total', 'Commands answered with an error, per command.', () => commands((c) => c.errors), { labelNames: ['command'] });
    gaugeFrom(registry, 'kvstore_backend_connected', 'Workers connected to the backend.', () => backends((b) => (b.connected ? 1 : 0)), backendLabels);
    gaugeFrom(registry, 'kvstore_backend_workers', 'Workers that use the backend (connected or not).', () => backends(() => 1), backendLabels);
    gaugeFrom(registry, 'kvstore_backend_pending', 'Requests waiting for a reply from the backend.', () => backends((b) => b.pending), backendLabels);
    counterFrom(registry, 'kvstore_backend_errors_total', 'Backend connection errors.', () => backends((b) => b.errors), backendLabels);
    gaugeFrom(registry, 'kvstore_native_enabled', '1 when workers run the C++ hot path.', () => (s()?.nativeEnabled ? 1 : 0), { aggregator: 'min' });
    registerLatencyMetric(registry, () => s()?.observability?.latency, commands_.map((c) => c.name));
    const nb = () => s()?.nativeBuffers;
    gaugeFrom(
      registry,
      'kvstore_native_buffered_bytes',
      "Bytes held by the addon's sockets outside the JS heap: output_queued (not taken by the kernel yet), input_held (read, not handed to JS yet), output_buffers (capacity held by streams), spare (pooled output buffers), read_arena (fixed).",
      () => {
        const n = nb();
        if (!n) return [];
        return [
          { labels: { kind: 'output_queued' }, value: n.outputQueued },
          { labels: { kind: 'input_held' }, value: n.inputHeld },
          { labels: { kind: 'output_buffers' }, value: n.outputAllocated },
          { labels: { kind: 'spare' }, value: n.poolBytes },
          { labels: { kind: 'read_arena' }, value: n.arenaBytes },
        ];
      },
      { labelNames: ['kind'] },
    );
    gaugeFrom(
      registry,
      'kvstore_worker_memory_bytes',
      "The workers' own memory (process.memoryUsage()): rss, heap_used, heap_total, external (Buffers included), array_buffers.",
      () => {
        const m = s()?.memory;
        if (!m) return [];
        return [
          { labels: { kind: 'rss' }, value: m.rss },
          { labels: { kind: 'heap_used' }, value: m.heapUsed },
          { labels: { kind: 'heap_total' }, value: m.heapTotal },
          { labels: { kind: 'external' }, value: m.external },
          { labels: { kind: 'array_buffers' }, value: m.arrayBuffers },
        ];
      },
      { labelNames: ['kind'] },
    );
    counterFrom(registry, 'kvstore_pubsub_slow_clients_cut_total', 'Subscribed clients disconnected for output over limits.pubsubOutput*.', () => s()?.pubsub?.slowClientsCut ?? 0);
    gaugeFrom(registry, 'kvstore_pubsub_peak_client_output_bytes', 'The most output one subscribed client had not handed to the kernel after a write, since the worker started (largest of any worker).', () => s()?.pubsub?.peakClientOutput ?? 0, { aggregator: 'max' });
    gaugeFrom(registry, 'kvstore_native_io', '1 when workers read and write their sockets through the addon (config io: native).', () => (s()?.nativeIo ? 1 : 0), { aggregator: 'min' });
  }

  /** The registry as JSON, the read-out metrics taken from `stats`. */
  async json(stats: WorkerStats): Promise<MetricsJson> {
    this.stats = stats;
    return this.registry.getMetricsAsJSON();
  }
}
