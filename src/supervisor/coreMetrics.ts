/** The core metric families of GET /metrics: workers, topology, clients, commands, backends. */
import type { MetricFamily, MetricSample } from '../admin/metrics';
import type { TopologySnapshot } from '../topology/types';
import type { AggregatedStats } from './stats';

export function coreMetricFamilies(s: AggregatedStats, topo: TopologySnapshot, workersReady: number): MetricFamily[] {
  const counter = (name: string, help: string, samples: MetricSample[]): MetricFamily => ({ name, help, type: 'counter', samples });
  const gauge = (name: string, help: string, samples: MetricSample[]): MetricFamily => ({ name, help, type: 'gauge', samples });
  return [
    gauge('kvstore_up', '1 while the proxy serves.', [{ value: 1 }]),
    gauge('kvstore_uptime_seconds', 'Seconds since the primary started.', [{ value: s.uptimeSec }]),
    gauge('kvstore_workers', 'Worker processes ready.', [{ value: workersReady }]),
    counter('kvstore_worker_restarts_total', 'Workers restarted after a crash.', [{ value: s.workerRestarts }]),
    gauge('kvstore_topology_epoch', 'Current topology epoch.', [{ value: topo.epoch }]),
    gauge('kvstore_clients', 'Connected clients.', [{ value: s.clients }]),
    counter('kvstore_connections_total', 'Client connections accepted.', [{ value: s.totalConnections }]),
    counter('kvstore_commands_total', 'Commands processed, all commands.', [{ value: s.totalCommands }]),
    counter('kvstore_errors_total', 'Commands answered with an error, all commands.', [{ value: s.totalErrors }]),
    gauge('kvstore_ops_per_second', 'Commands per second over the last second.', [{ value: s.opsPerSec }]),
    counter('kvstore_command_calls_total', 'Commands processed, per command.', Object.entries(s.commands).map(([command, c]) => ({ labels: { command }, value: c.calls }))),
    counter('kvstore_command_errors_total', 'Commands answered with an error, per command.', Object.entries(s.commands).map(([command, c]) => ({ labels: { command }, value: c.errors }))),
    gauge('kvstore_shard_up', '1 when the shard serves, 0 otherwise.', topo.shards.map((sh) => ({ labels: { shard: sh.name, state: sh.state }, value: sh.state === 'up' ? 1 : 0 }))),
    gauge('kvstore_shard_slots', 'Slots owned by the shard.', topo.shards.map((sh) => ({ labels: { shard: sh.name }, value: sh.slots.reduce((n, [a, b]) => n + b - a + 1, 0) }))),
    gauge('kvstore_backend_connected', 'Workers connected to the backend.', Object.entries(s.backends).map(([backend, b]) => ({ labels: { backend, address: b.address }, value: b.connectedWorkers }))),
    gauge('kvstore_backend_pending', 'Requests waiting for a reply from the backend.', Object.entries(s.backends).map(([backend, b]) => ({ labels: { backend, address: b.address }, value: b.pending }))),
    counter('kvstore_backend_errors_total', 'Backend connection errors.', Object.entries(s.backends).map(([backend, b]) => ({ labels: { backend, address: b.address }, value: b.errors }))),
    gauge('kvstore_native_enabled', '1 when workers run the C++ hot path.', [{ value: s.workers.length > 0 && s.workers.every((w) => w.nativeEnabled) ? 1 : 0 }]),
    gauge('kvstore_native_io', '1 when workers read and write their sockets through the addon (config io: native).', [{ value: s.workers.length > 0 && s.workers.every((w) => w.nativeIo) ? 1 : 0 }]),
  ];
}
