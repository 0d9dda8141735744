/**
 * The primary's own metrics (GET /metrics also has the workers' ones, src/supervisor/
 * workerMetrics.ts, summed over the workers): up, uptime, workers, topology and shards.
 */
import { counterFrom, gaugeFrom, Registry } from '../admin/metrics';
import type { TopologySnapshot } from '../topology/types';

export interface CoreMetricsSource {
  uptimeSec(): number;
  workersReady(): number;
  workerRestarts(): number;
  opsPerSecond(): number;
  topology(): TopologySnapshot;
}

export function registerCoreMetrics(registry: Registry, src: CoreMetricsSource): void {
  gaugeFrom(registry, 'kvstore_up', '1 while the proxy serves.', () => 1);
  gaugeFrom(registry, 'kvstore_uptime_seconds', 'Seconds since the primary started.', () => src.uptimeSec());
  gaugeFrom(registry, 'kvstore_workers', 'Worker processes ready.', () => src.workersReady());
  counterFrom(registry, 'kvstore_worker_restarts_total', 'Workers restarted after a crash.', () => src.workerRestarts());
  gaugeFrom(registry, 'kvstore_topology_epoch', 'Current topology epoch.', () => src.topology().epoch);
  gaugeFrom(registry, 'kvstore_ops_per_second', 'Commands per second over the last second.', () => src.opsPerSecond());
  gaugeFrom(registry, 'kvstore_shard_up', '1 when the shard serves, 0 otherwise.', () => src.topology().shards.map((sh) => ({ labels: { shard: sh.name, state: sh.state }, value: sh.state === 'up' ? 1 : 0 })), {
    labelNames: ['shard', 'state'],
  });
  gaugeFrom(registry, 'kvstore_shard_slots', 'Slots owned by the shard.', () => src.topology().shards.map((sh) => ({ labels: { shard: sh.name }, value: sh.slots.reduce((n, [a, b]) => n + b - a + 1, 0) })), {
    labelNames: ['shard'],
  });
}
