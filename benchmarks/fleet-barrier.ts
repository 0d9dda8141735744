/**
 * Fleet barrier latency with the coordination part alone (no data path): one etcd on free
 * loopback ports (started here, stopped by PID), N simulated proxies, R topology changes; for
 * each, the time of the compare-and-swap write and of the barrier (until every member has
 * acknowledged the epoch in etcd).
 *
 *   node dist/benchmarks/fleet-barrier.js [--members 50] [--rounds 30]
 */
import { percentile } from '../test/helpers/reshard';
import { startEtcd } from '../test/helpers/etcd';
import { runBarrierSimulation } from './lib/fleetBarrier';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const members = arg('members', 50);
  const rounds = arg('rounds', 30);
  const cleanups: Array<() => Promise<void>> = [];
  try {
    const etcd = await startEtcd((fn) => cleanups.push(fn));
    const results = await runBarrierSimulation([etcd.endpoint], members, rounds);
    const barrier = results.map((r) => r.barrierMs);
    const write = results.map((r) => r.writeMs);
    const fmt = (v: number) => v.toFixed(1).padStart(7);
    console.log(`fleet barrier, ${members} members, ${rounds} changes, one etcd on loopback`);
    console.log('            p50     p95     max  (ms)');
    console.log(`CAS write ${fmt(percentile(write, 50))} ${fmt(percentile(write, 95))} ${fmt(Math.max(...write))}`);
    console.log(`barrier   ${fmt(percentile(barrier, 50))} ${fmt(percentile(barrier, 95))} ${fmt(Math.max(...barrier))}`);
    console.log(`members behind at release (must be 0): ${results.reduce((n, r) => n + r.behindAtRelease, 0)}`);
  } finally {
    for (const c of cleanups) await c();
  }
}

void main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
