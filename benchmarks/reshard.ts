/**
 * Resharding benchmark (issue #6 targets: >= 10,000 small keys/s migrated; client p99 during a
 * migration within 5x of the p99 without).
 *
 *   npm run build && node dist/benchmarks/reshard.js [--keys 200000] [--batch 100] [--rate 0]
 *
 * Part 1, migrator throughput: one redis-server holding N small keys (16-byte values), a second
 * empty one; an unpaced rebalance 1 → 2 shards moves half of the keys with MIGRATE ... KEYS.
 * Part 2, client latency: the real program (primary + 2 workers) over 3 shards with N keys;
 * 8 clients doing GET/SET on random keys, p50/p99 for 3 s without a migration, then while a
 * 4th shard is added and a rebalance runs (paced at --rate keys/s, 0 = unpaced).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JobManager } from '../src/reshard/JobManager';
import { RespClient } from '../src/resp';
import { perKeySlotFilter } from '../src/reshard/SourceScan';
import { initialTopology, TopologyStore } from '../src/topology/TopologyStore';
import type { KvstoreConfig } from '../src/config/types';
import type { JobInfo } from '../src/reshard/JobManager';
import { adminRequest, startKvstore } from '../test/helpers/kvstore';
import { startRedisGroup } from '../test/helpers/redis';
import { loadKeySlot, percentile } from '../test/helpers/reshard';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const KEYS = arg('keys', 200_000);
const BATCH = arg('batch', 100);
const RATE = arg('rate', 0);

const teardowns: Array<() => void | Promise<void>> = [];
const ctx = { teardown: (fn: () => void | Promise<void>) => void teardowns.push(fn), log: (...v: unknown[]) => console.log(...v) };

async function fill(address: string, count: number, prefix: string): Promise<void> {
  const c = new RespClient(address);
  const value = 'v'.repeat(16);
  for (let i = 0; i < count; i += 1000) {
    const batch: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(count, i + 1000); j++) batch.push(c.command(['SET', `${prefix}:${j}`, value]));
    await Promise.all(batch);
  }
  c.close();
}

async function migratorThroughput(): Promise<void> {
  const [a, b] = await startRedisGroup(2, ctx.teardown);
  await fill(a.address, KEYS, 'k');
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvstore-bench-reshard-'));
  teardowns.push(() => fs.rmSync(stateDir, { recursive: true, force: true }));
  const config = { mode: 'store', hash: 'crc16', shards: [{ name: 'a', master: a.address, replicas: [] }] } as unknown as KvstoreConfig;
  const store = new TopologyStore(stateDir, initialTopology(config));
  const keySlot = loadKeySlot();
  const jobs = new JobManager({
    snapshot: () => store.snapshot,
    apply: async (mutate) => store.update(mutate),
    filter: perKeySlotFilter(keySlot),
    settings: () => ({ batchKeys: BATCH, maxKeysPerSecond: 0, backend: { username: '', password: '' } }),
    stateDir,
  });
  await jobs.addShard({ name: 'b', master: b.address });
  const started = Date.now();
  const job = jobs.rebalance();
  await jobs.whenIdle();
  const info = jobs.get(job.id)!;
  const seconds = (Date.now() - started) / 1000;
  console.log(`migrator: ${info.keysMoved} small keys moved in ${seconds.toFixed(2)} s = ${Math.round(info.keysMoved / seconds)} keys/s (batch ${BATCH}, scanned ${info.keysScanned}, state ${info.state})`);
}

const keySlot = loadKeySlot();

interface Window {
  p50: number;
  p99: number;
  ops: number;
  errors: number;
  /** [slot, latency µs, ms since the window started] per request, to split afterwards. */
  samples: Array<[number, number, number]>;
}

async function latencyWindow(port: number, untilDone: () => Promise<boolean>, minMs: number): Promise<Window> {
  const clients = Array.from({ length: 8 }, () => new RespClient(`127.0.0.1:${port}`));
  const lat: number[] = [];
  const samples: Array<[number, number, number]> = [];
  let errors = 0;
  let stop = false;
  const started = Date.now();
  const loops = clients.map(async (c, id) => {
    let i = 0;
    while (!stop) {
      const key = `k:${Math.floor(Math.random() * KEYS)}`;
      const t0 = process.hrtime.bigint();
      try {
        if (i++ % 2 === 0) await c.command(['GET', key]);
        else await c.command(['SET', key, `w${id}-${i}`]);
      } catch {
        errors++;
      }
      const us = Number(process.hrtime.bigint() - t0) / 1000;
      lat.push(us);
      samples.push([keySlot(Buffer.from(key)), us, Date.now() - started]);
    }
  });
  for (;;) {
    await new Promise((r) => setTimeout(r, 100));
    if (Date.now() - started >= minMs && (await untilDone())) break;
  }
  stop = true;
  await Promise.all(loops);
  clients.forEach((c) => c.close());
  return { p50: percentile(lat, 50), p99: percentile(lat, 99), ops: lat.length, errors, samples };
}

async function clientLatency(): Promise<void> {
  const kv = await startKvstore(ctx, { shards: 3, workers: 2, config: { migration: { batchKeys: BATCH, maxKeysPerSecond: RATE } } });
  const [extra] = await startRedisGroup(1, ctx.teardown);
  // Fill through the proxy so every key lands on its owner.
  await fill(`127.0.0.1:${kv.port}`, KEYS, 'k');
  const idle = await latencyWindow(kv.port, async () => true, 3000);
  console.log(`client without migration: p50 ${idle.p50.toFixed(0)} µs, p99 ${idle.p99.toFixed(0)} µs (${idle.ops} ops, ${idle.errors} errors)`);
  await kv.admin('POST', '/shards', { name: 's4', master: extra.address });
  const started = await kv.admin('POST', '/reshard/rebalance', {});
  let job: JobInfo = started.body;
  const during = await latencyWindow(kv.port, async () => {
    job = (await adminRequest(kv.adminPort, 'GET', `/jobs/${job.id}`)).body;
    return job.state !== 'running';
  }, 0);
  console.log(`client during migration: p50 ${during.p50.toFixed(0)} µs, p99 ${during.p99.toFixed(0)} µs (${during.ops} ops, ${during.errors} errors)`);
  // Which requests touched a moving slot (the slots the new shard owns now), and when.
  const after = (await adminRequest(kv.adminPort, 'GET', '/topology')).body as { shards: Array<{ name: string; slots: Array<[number, number]> }> };
  const moved = after.shards.find((x) => x.name === 's4')!.slots;
  const isMoved = (slot: number) => moved.some(([a, b]) => slot >= a && slot <= b);
  const movingLat = during.samples.filter(([slot]) => isMoved(slot)).map(([, us]) => us);
  const otherLat = during.samples.filter(([slot]) => !isMoved(slot)).map(([, us]) => us);
  const slowest = [...during.samples].sort((a, b) => b[1] - a[1]).slice(0, 5);
  console.log(`  p99 of keys in moving slots ${percentile(movingLat, 99).toFixed(0)} µs (${movingLat.length}), of the others ${percentile(otherLat, 99).toFixed(0)} µs (${otherLat.length})`);
  const buckets = new Map<number, { n: number; slow: number }>();
  for (const [, us, at] of during.samples) {
    const b = buckets.get(Math.floor(at / 100)) ?? { n: 0, slow: 0 };
    b.n++;
    if (us > 10_000) b.slow++;
    buckets.set(Math.floor(at / 100), b);
  }
  console.log(`  per 100 ms (requests/slower than 10 ms): ${[...buckets].map(([k, b]) => `${k * 100}:${b.n}/${b.slow}`).join(' ')}`);
  console.log(`  slowest: ${slowest.map(([slot, us, at]) => `${(us / 1000).toFixed(1)} ms at +${at} ms (${isMoved(slot) ? 'moving' : 'other'})`).join(', ')}`);
  console.log(`  migration: ${job.keysMoved} keys in ${job.elapsedMs} ms = ${job.keysPerSecond} keys/s (rate limit ${RATE || 'none'}), state ${job.state}`);
  console.log(`  p99 ratio during/without: ${(during.p99 / idle.p99).toFixed(2)}x (target <= 5x)`);
}

async function main(): Promise<void> {
  try {
    await migratorThroughput();
    await clientLatency();
  } finally {
    for (const fn of teardowns.reverse()) await fn();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
