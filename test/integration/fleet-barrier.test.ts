/**
 * The coordination part alone (no data path): 50 simulated proxies on one real etcd; each
 * topology change (compare-and-swap) is released by the barrier only once every member has
 * acknowledged its epoch. The latency is logged (benchmarks/fleet-barrier.ts reports it).
 */
import test from 'ava';
import { runBarrierSimulation } from '../../benchmarks/lib/fleetBarrier';
import { startEtcd } from '../helpers/etcd';
import { percentile } from '../helpers/reshard';

test('fleet barrier with 50 members: every change released only after every member acknowledged it', async (t) => {
  const etcd = await startEtcd(t.teardown.bind(t));
  const results = await runBarrierSimulation([etcd.endpoint], 50, 10);
  t.is(results.length, 10);
  results.forEach((r, i) => {
    t.is(r.behindAtRelease, 0, `round ${i}`);
    if (i > 0) t.is(r.epoch, results[i - 1].epoch + 1, 'one epoch per change');
  });
  const b = results.map((r) => r.barrierMs);
  t.log(`barrier with 50 members: p50 ${percentile(b, 50).toFixed(1)} ms, max ${Math.max(...b).toFixed(1)} ms`);
});
