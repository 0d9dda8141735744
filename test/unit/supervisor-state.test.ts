/**
 * The supervisor's pure parts: how a config's shard list is merged into the live topology
 * (reconcileShards) and how worker stats add up across workers and restarts (aggregateStats).
 */
import test from 'ava';
import { parseConfig } from '../../src/config/load';
import { reconcileShards } from '../../src/supervisor/reconcile';
import { aggregateStats, RetiredCounters } from '../../src/supervisor/stats';
import type { WorkerStats } from '../../src/supervisor/messages';
import { initialTopology } from '../../src/topology/TopologyStore';

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

test('stats: summed over workers; a dead worker\'s counters are kept', (t) => {
  const retired = new RetiredCounters();
  retired.add(workerStats(10, 100, true));
  const s = aggregateStats(
    [
      { id: 1, restarts: 1, stats: workerStats(11, 7, true) },
      { id: 2, restarts: 0, stats: workerStats(12, 3, false) },
    ],
    retired,
    { uptimeSec: 9, epoch: 3, mode: 'cache', workerRestarts: 1, opsPerSec: 42 },
  );
  t.is(s.clients, 4);
  t.is(s.totalCommands, 110);
  t.is(s.totalConnections, 15);
  t.deepEqual(s.commands.get, { calls: 110, errors: 3 });
  t.deepEqual(s.backends.s1, { address: '127.0.0.1:1001', connectedWorkers: 1, workers: 2, connected: false, pending: 2, errors: 0 });
  t.deepEqual(s.workers.map((w) => [w.id, w.pid, w.restarts]), [[1, 11, 1], [2, 12, 0]]);
  t.is(s.opsPerSec, 42);
});

test('stats: native buffered bytes are summed over workers, the per-stream maxima are the largest', (t) => {
  const nb = (queued: number, maxQueued: number) => ({ streams: 3, outputQueued: queued, outputAllocated: queued + 100, poolBytes: 4096, inputHeld: 0, arenaBytes: 1 << 20, streamStateBytes: 900, maxStreamQueued: maxQueued, maxStreamAllocated: maxQueued + 100 });
  const s = aggregateStats(
    [
      { id: 1, restarts: 0, stats: { ...workerStats(11, 1, true), nativeBuffers: nb(500, 400) } },
      { id: 2, restarts: 0, stats: { ...workerStats(12, 1, true), nativeBuffers: nb(70, 70) } },
      { id: 3, restarts: 0, stats: workerStats(13, 1, true) }, // io: node: none
    ],
    new RetiredCounters(),
    { uptimeSec: 1, epoch: 1, mode: 'cache', workerRestarts: 0, opsPerSec: 0 },
  );
  t.deepEqual(s.nativeBuffers, { streams: 6, outputQueued: 570, outputAllocated: 770, poolBytes: 8192, inputHeld: 0, arenaBytes: 2 << 20, streamStateBytes: 1800, maxStreamQueued: 400, maxStreamAllocated: 500 });
  t.is(s.workers[0].nativeBuffers!.outputQueued, 500);
  t.is(s.workers[2].nativeBuffers, undefined);
});
