/**
 * The supervisor's pure parts: how a config's shard list is merged into the live topology
 * (reconcileShards), how worker metrics add up across workers and restarts (prom-client's
 * aggregator, aggregateStats) and the read-out metric helpers.
 */
import test from 'ava';
import { parseConfig } from '../../src/config/load';
import { reconcileShards } from '../../src/supervisor/reconcile';
import { aggregateWorkers, counterFrom, gaugeFrom, Histogram, metricSamples, metricValue, Registry, renderRegistries, retireMetrics } from '../../src/admin/metrics';
import { aggregateStats } from '../../src/supervisor/stats';
import { WorkerMetrics } from '../../src/supervisor/workerMetrics';
import type { WorkerStats } from '../../src/supervisor/messages';
import { initialTopology } from '../../src/topology/TopologyStore';
import { commands } from '../../src/commands/table';
import { LatencyHistograms } from '../../src/observability/LatencyHistograms';

const config = (shards: Array<{ name: string; master: string; replicas?: string[] }>) => parseConfig({ shards }, { env: {} });

test('reconcile: unchanged config changes nothing', (t) => {
  const c = config([{ name: 'a', master: '127.0.0.1:1001', replicas: ['127.0.0.1:1002'] }, { name: 'b', master: '127.0.0.1:1003' }]);
  const r = reconcileShards(initialTopology(c), c);
  t.false(r.changed);
  t.deepEqual(r.applied, []);
  t.deepEqual(r.warnings, []);
});

test('reconcile: new shards join without slots, changed addresses apply, slots stay', (t) => {
  const before = initialTopology(config([{ name: 'a', master: '127.0.0.1:1001' }, { name: 'b', master: '127.0.0.1:1003' }]));
  const after = config([{ name: 'a', master: '127.0.0.1:2001', replicas: ['127.0.0.1:2002'] }, { name: 'b', master: '127.0.0.1:1003' }, { name: 'c', master: '127.0.0.1:1005' }]);
  const r = reconcileShards(before, after);
  t.true(r.changed);
  t.deepEqual(r.snapshot.shards.map((s) => [s.name, s.master, s.replicas, s.slots]), [
    ['a', '127.0.0.1:2001', ['127.0.0.1:2002'], before.shards[0].slots],
    ['b', '127.0.0.1:1003', [], before.shards[1].slots],
    ['c', '127.0.0.1:1005', [], []],
  ]);
  t.is(r.applied.length, 2);
  t.is(before.shards.length, 2, 'the input snapshot is not modified');
});

test('reconcile: a failover (roles swapped) is kept; a shard missing from the config stays', (t) => {
  const c = config([{ name: 'a', master: '127.0.0.1:1001', replicas: ['127.0.0.1:1002'] }, { name: 'b', master: '127.0.0.1:1003' }]);
  const live = initialTopology(c);
  live.shards[0].master = '127.0.0.1:1002';
  live.shards[0].replicas = ['127.0.0.1:1001'];
  const r = reconcileShards(live, config([{ name: 'a', master: '127.0.0.1:1001', replicas: ['127.0.0.1:1002'] }]));
  t.false(r.changed);
  t.is(r.snapshot.shards[0].master, '127.0.0.1:1002');
  t.regex(r.warnings.join('\n'), /a: the config names 127\.0\.0\.1:1001 as master but 127\.0\.0\.1:1002 is master now/);
  t.regex(r.warnings.join('\n'), /b is in the topology but not in the config; it stays/);
});

function workerStats(pid: number, calls: number, connected: boolean): WorkerStats {
  return {
    pid,
    nativeEnabled: true,
    epoch: 3,
    clients: 2,
    totalConnections: 5,
    commands: { get: { calls, errors: 1 } },
    totalCommands: calls,
    totalErrors: 1,
    backends: { s1: { address: '127.0.0.1:1001', connected, pending: 1, errors: 0 } },
  };
}

/** A worker's metrics JSON as it sends them (the real read-out definitions over fake stats). */
function workerJson(stats: WorkerStats) {
  return new WorkerMetrics(new Registry()).json(stats);
}

test('stats: summed over workers by prom-client\'s aggregator; a dead worker\'s counters are kept, its gauges are not', async (t) => {
  const dead = workerStats(10, 100, true);
  dead.backends.gone = { address: '127.0.0.1:1009', connected: true, pending: 4, errors: 2 };
  const retired = retireMetrics(await workerJson(dead));
  const live = [
    { id: 1, restarts: 1, stats: workerStats(11, 7, true) },
    { id: 2, restarts: 0, stats: { ...workerStats(12, 3, false), nativeEnabled: false } },
  ];
  const perWorker = await Promise.all(live.map((w) => workerJson(w.stats)));
  const totals = await aggregateWorkers([...perWorker, retired]).getMetricsAsJSON();
  const s = aggregateStats(live, totals, { uptimeSec: 9, epoch: 3, mode: 'cache', workerRestarts: 1, opsPerSec: 42 });
  t.is(s.clients, 4, 'clients of the live workers only');
  t.is(s.totalCommands, 110);
  t.is(s.totalConnections, 15);
  t.deepEqual(s.commands.get, { calls: 110, errors: 3 });
  t.deepEqual(s.backends.s1, { address: '127.0.0.1:1001', connectedWorkers: 1, workers: 2, connected: false, pending: 2, errors: 0 });
  t.deepEqual(s.backends.gone, { address: '127.0.0.1:1009', connectedWorkers: 0, workers: 0, connected: false, pending: 0, errors: 2 });
  t.deepEqual(s.workers.map((w) => [w.id, w.pid, w.restarts]), [[1, 11, 1], [2, 12, 0]]);
  t.is(s.opsPerSec, 42);
  // "every worker" gauges take the minimum, not the sum
  t.is(metricValue(totals, 'kvstore_native_enabled'), 0);
  t.is(metricValue(await aggregateWorkers([perWorker[0], perWorker[0]]).getMetricsAsJSON(), 'kvstore_native_enabled'), 1);
});

test('metrics: read-out gauges and counters render as Prometheus text; labels are escaped, bad names refused', async (t) => {
  const registry = new Registry();
  let n = 3;
  counterFrom(registry, 'x_total', 'a "counter"', () => [{ labels: { k: 'a"b\\c\nd' }, value: n }], { labelNames: ['k'] });
  gaugeFrom(registry, 'g', 'gauge', () => 1.5);
  t.is(await renderRegistries([registry]), '# HELP x_total a "counter"\n# TYPE x_total counter\nx_total{k="a\\"b\\\\c\\nd"} 3\n\n# HELP g gauge\n# TYPE g gauge\ng 1.5\n');
  n = 5;
  t.regex(await renderRegistries([registry]), /x_total\{k=".*"\} 5\n/, 'read again at every scrape');
  t.throws(() => gaugeFrom(registry, 'bad-name', 'x', () => 0), { message: /Invalid metric name/ });
});

test('metrics: a histogram in the workers is summed per bucket by the aggregator and kept when a worker exits', async (t) => {
  const worker = () => {
    const registry = new Registry();
    const h = new Histogram({ name: 'kvstore_test_seconds', help: 'h', labelNames: ['command'], buckets: [0.001, 0.01], registers: [registry] });
    return { registry, h };
  };
  const a = worker();
  const b = worker();
  a.h.observe({ command: 'get' }, 0.0005);
  b.h.observe({ command: 'get' }, 0.005);
  b.h.observe({ command: 'get' }, 0.5);
  const exited = retireMetrics(await b.registry.getMetricsAsJSON());
  const text = await renderRegistries([aggregateWorkers([await a.registry.getMetricsAsJSON(), exited])]);
  t.regex(text, /^# TYPE kvstore_test_seconds histogram$/m);
  t.regex(text, /^kvstore_test_seconds_bucket\{le="0\.001",command="get"\} 1$/m);
  t.regex(text, /^kvstore_test_seconds_bucket\{le="0\.01",command="get"\} 2$/m);
  t.regex(text, /^kvstore_test_seconds_bucket\{le="\+Inf",command="get"\} 3$/m);
  t.regex(text, /^kvstore_test_seconds_count\{command="get"\} 3$/m);
});

test('stats: native buffered bytes are summed over workers (the per-stream maxima: the largest), in /stats and /metrics', async (t) => {
  const nb = (queued: number, maxQueued: number) => ({ streams: 3, outputQueued: queued, outputAllocated: queued + 100, poolBytes: 4096, inputHeld: 0, arenaBytes: 1 << 20, streamStateBytes: 900, maxStreamQueued: maxQueued, maxStreamAllocated: maxQueued + 100 });
  const live = [
    { id: 1, restarts: 0, stats: { ...workerStats(11, 1, true), nativeBuffers: nb(500, 400) } },
    { id: 2, restarts: 0, stats: { ...workerStats(12, 1, true), nativeBuffers: nb(70, 70) } },
    { id: 3, restarts: 0, stats: workerStats(13, 1, true) }, // io: node: none
  ];
  const totals = await aggregateWorkers(await Promise.all(live.map((w) => workerJson(w.stats)))).getMetricsAsJSON();
  const s = aggregateStats(live, totals, { uptimeSec: 1, epoch: 1, mode: 'cache', workerRestarts: 0, opsPerSec: 0 });
  t.deepEqual(s.nativeBuffers, { streams: 6, outputQueued: 570, outputAllocated: 770, poolBytes: 8192, inputHeld: 0, arenaBytes: 2 << 20, streamStateBytes: 1800, maxStreamQueued: 400, maxStreamAllocated: 500 });
  t.is(s.workers[0].nativeBuffers!.outputQueued, 500);
  t.is(s.workers[2].nativeBuffers, undefined);
  const sample = (kind: string) => metricSamples(totals, 'kvstore_native_buffered_bytes').find((x) => x.labels.kind === kind)?.value;
  t.is(sample('output_queued'), 570);
  t.is(sample('output_buffers'), 770);
  t.is(sample('read_arena'), 2 << 20);
});

test('stats: workers\' JS memory per worker and summed in /metrics; pub/sub summed, its peak output the largest', async (t) => {
  const mem = (heapUsed: number) => ({ rss: 50 << 20, heapTotal: heapUsed * 2, heapUsed, external: 3 << 20, arrayBuffers: 1 << 20 });
  const live = [
    { id: 1, restarts: 0, stats: { ...workerStats(11, 1, true), memory: mem(10 << 20), pubsub: { subscriberConnections: 3, slowClientsCut: 2, peakClientOutput: 5000 } } },
    { id: 2, restarts: 0, stats: { ...workerStats(12, 1, true), memory: mem(20 << 20), pubsub: { subscriberConnections: 1, slowClientsCut: 1, peakClientOutput: 9000 } } },
    { id: 3, restarts: 0, stats: workerStats(13, 1, true) }, // an older worker without these
  ];
  const totals = await aggregateWorkers(await Promise.all(live.map((w) => workerJson(w.stats)))).getMetricsAsJSON();
  const s = aggregateStats(live, totals, { uptimeSec: 1, epoch: 1, mode: 'cache', workerRestarts: 0, opsPerSec: 0 });
  t.is(s.workers[1].memory!.heapUsed, 20 << 20);
  t.is(s.workers[2].memory, undefined);
  t.deepEqual(s.pubsub, { subscriberConnections: 4, slowClientsCut: 3, peakClientOutput: 9000 });
  const memory = (kind: string) => metricSamples(totals, 'kvstore_worker_memory_bytes').find((x) => x.labels.kind === kind)?.value;
  t.is(memory('heap_used'), 30 << 20);
  t.is(memory('rss'), 100 << 20);
  t.is(metricValue(totals, 'kvstore_pubsub_slow_clients_cut_total'), 3);
  t.is(metricValue(totals, 'kvstore_pubsub_peak_client_output_bytes'), 9000);
});

test('stats: latency percentiles per command from every live worker\'s histograms added up', async (t) => {
  const getId = commands.findIndex((c) => c.name === 'get');
  const setId = commands.findIndex((c) => c.name === 'set');
  const histograms = () => new LatencyHistograms(commands.length);
  const [w1, w2] = [histograms(), histograms()];
  for (let i = 0; i < 99; i++) w1.record(getId, 10);
  w2.record(getId, 5000); // the slowest 1 %: only the other worker saw it
  w2.record(setId, 20);
  const observed = (h: LatencyHistograms) => ({ latency: h.snapshot(), slowlog: [], hotKeys: [], bigKeys: [] });
  const live = [
    { id: 1, restarts: 0, stats: { ...workerStats(11, 1, true), observability: observed(w1) } },
    { id: 2, restarts: 0, stats: { ...workerStats(12, 1, true), observability: observed(w2) } },
    { id: 3, restarts: 0, stats: workerStats(13, 1, true) }, // sent none
  ];
  const totals = await aggregateWorkers(await Promise.all(live.map((w) => workerJson(w.stats)))).getMetricsAsJSON();
  const s = aggregateStats(live, totals, { uptimeSec: 1, epoch: 1, mode: 'cache', workerRestarts: 0, opsPerSec: 0 });
  t.like(s.commands.get, { p50: 10, p99: 10 });
  t.true(s.commands.get.p999! >= 5000 && s.commands.get.p999! <= 5000 * (1 + 1 / 16), `p99.9 ${s.commands.get.p999}`);
  t.like(s.commands.set, { calls: 0, errors: 0, p50: 20, p99: 20, p999: 20 });
  t.false('del' in s.commands, 'no calls, no samples: not listed');
});
