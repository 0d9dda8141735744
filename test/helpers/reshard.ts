/**
 * Helpers for the resharding tests: a load generator that writes and reads throughout and knows
 * the latest value and TTL of every key it wrote, and checks over every backend (SCAN).
 */
import path from 'node:path';
import { RespArg, RespClient, RespValue } from '../../src/resp';
import { ownerTable } from '../../src/topology/slots';
import type { TopologySnapshot } from '../../src/topology/types';

/** Slot of a key (CRC16 + hash tags) from the native addon built by `npm install`. */
export function loadKeySlot(): (key: Buffer) => number {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const addon = require(path.resolve(__dirname, '../../../build/Release/kvstore_native.node')) as { keySlot(k: Buffer): number };
  return (key) => addon.keySlot(key);
}

/** Anything that runs a command for the load generator (the proxy, or a simulated worker). */
export type Runner = (args: RespArg[]) => Promise<RespValue>;

export interface Expected {
  value: string;
  /** Absolute expiry (ms since epoch), or 0 for no TTL. */
  expiresAt: number;
}

/** Preload `count` keys in batches of MSET-free SETs through `run` (pipelined). */
export async function preload(run: Runner, prefix: string, count: number, expected: Map<string, Expected>, valueSize = 16): Promise<void> {
  const pad = 'x'.repeat(Math.max(0, valueSize - 8));
  const batch = 500;
  for (let i = 0; i < count; i += batch) {
    const jobs: Promise<RespValue>[] = [];
    for (let j = i; j < Math.min(count, i + batch); j++) {
      const key = `${prefix}:${j}`;
      const value = `v0-${j}-${pad}`;
      // Every 5th key has a TTL far enough away not to expire during the test.
      const withTtl = j % 5 === 0;
      jobs.push(run(withTtl ? ['SET', key, value, 'PX', 600_000] : ['SET', key, value]));
      expected.set(key, { value, expiresAt: withTtl ? Date.now() + 600_000 : 0 });
    }
    await Promise.all(jobs);
  }
}

export interface LoadStats {
  ops: number;
  failures: string[];
  latenciesUs: number[];
}

/**
 * `concurrency` loops, each owning its own keys (so it knows their latest value): SET with a new
 * version (some with PX), GET and compare, MSET/MGET of hash-tagged pairs. Runs until stop().
 */
export function startLoad(
  run: Runner,
  expected: Map<string, Expected>,
  options: { concurrency: number; keysPerLoop: number; prefix: string; /** also rewrite preloaded keys `${prefix}:${j}`, j < count */ rewrite?: { prefix: string; count: number } },
) {
  const stats: LoadStats = { ops: 0, failures: [], latenciesUs: [] };
  let stopped = false;
  const timed = async (args: RespArg[]) => {
    const t0 = process.hrtime.bigint();
    try {
      return await run(args);
    } finally {
      stats.latenciesUs.push(Number(process.hrtime.bigint() - t0) / 1000);
      stats.ops++;
    }
  };
  const loop = async (id: number) => {
    let version = 0;
    while (!stopped) {
      version++;
      const n = version % options.keysPerLoop;
      const key = `${options.prefix}:${id}:${n}`;
      const value = `v${version}-${id}-${n}`;
      try {
        if (version % 7 === 0) {
          await timed(['SET', key, value, 'PX', 600_000]);
          expected.set(key, { value, expiresAt: Date.now() + 600_000 });
        } else {
          await timed(['SET', key, value]);
          expected.set(key, { value, expiresAt: 0 });
        }
        const got = await timed(['GET', key]);
        if (String(got) !== value) stats.failures.push(`GET ${key}: expected ${value}, got ${String(got)}`);
        // A multi-key pair in one slot (hash tag): MSET then MGET.
        const a = `{${options.prefix}:${id}:t${n}}:a`;
        const b = `{${options.prefix}:${id}:t${n}}:b`;
        await timed(['MSET', a, `${value}a`, b, `${value}b`]);
        expected.set(a, { value: `${value}a`, expiresAt: 0 });
        expected.set(b, { value: `${value}b`, expiresAt: 0 });
        const pair = (await timed(['MGET', a, b])) as RespValue[];
        if (String(pair[0]) !== `${value}a` || String(pair[1]) !== `${value}b`) stats.failures.push(`MGET ${a} ${b}: got ${pair.map(String)}`);
        if (options.rewrite) {
          // Read then overwrite a preloaded key (the migrator may be moving it right now).
          const j = (version * options.concurrency + id) % options.rewrite.count;
          const old = `${options.rewrite.prefix}:${j}`;
          const before = expected.get(old);
          const seen = await timed(['GET', old]);
          if (before && String(seen) !== before.value) stats.failures.push(`GET ${old}: expected ${before.value}, got ${String(seen)}`);
          const fresh = `r${version}-${id}`;
          await timed(['SET', old, fresh, 'KEEPTTL']);
          expected.set(old, { value: fresh, expiresAt: before?.expiresAt ?? 0 });
        }
      } catch (err) {
        stats.failures.push(`${key}: ${(err as Error).message}`);
      }
    }
  };
  const loops = Array.from({ length: options.concurrency }, (_, i) => loop(i));
  return {
    stats,
    async stop(): Promise<LoadStats> {
      stopped = true;
      await Promise.all(loops);
      return stats;
    },
  };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export interface BackendCheck {
  /** Keys found on a shard that does not own their slot. */
  misplaced: string[];
  /** Keys present on more than one backend. */
  duplicated: string[];
  /** Expected keys missing or with another value / TTL. */
  wrong: string[];
  total: number;
}

/** SCAN every master; every key must be on its slot's owner only, with its latest value and TTL. */
export async function checkBackends(topology: TopologySnapshot, keySlot: (k: Buffer) => number, expected: Map<string, Expected>): Promise<BackendCheck> {
  const owners = ownerTable(topology);
  const seen = new Map<string, number>();
  const result: BackendCheck = { misplaced: [], duplicated: [], wrong: [], total: 0 };
  for (let index = 0; index < topology.shards.length; index++) {
    const client = new RespClient(topology.shards[index].master);
    try {
      let cursor = '0';
      do {
        const [next, keys] = (await client.command(['SCAN', cursor, 'COUNT', 1000])) as [Buffer, Buffer[]];
        cursor = next.toString();
        for (const key of keys) {
          const name = key.toString();
          result.total++;
          if (owners[keySlot(key)] !== index) result.misplaced.push(`${name} on ${topology.shards[index].name}`);
          if (seen.has(name)) result.duplicated.push(name);
          seen.set(name, index);
        }
      } while (cursor !== '0');
      // Values and TTLs of the expected keys this shard owns.
      const mine = [...expected].filter(([k]) => owners[keySlot(Buffer.from(k))] === index);
      for (let i = 0; i < mine.length; i += 500) {
        const chunk = mine.slice(i, i + 500);
        const replies = await client.pipeline(chunk.flatMap(([k]) => [['GET', k], ['PTTL', k]]));
        chunk.forEach(([k, exp], j) => {
          const value = replies[2 * j];
          const pttl = Number(replies[2 * j + 1]);
          if (String(value) !== exp.value) result.wrong.push(`${k}: value ${String(value)} != ${exp.value}`);
          else if (exp.expiresAt === 0 && pttl !== -1) result.wrong.push(`${k}: PTTL ${pttl}, expected none`);
          else if (exp.expiresAt > 0) {
            const left = exp.expiresAt - Date.now();
            if (pttl < 0 || Math.abs(pttl - left) > 30_000) result.wrong.push(`${k}: PTTL ${pttl}, expected ~${left}`);
          }
        });
      }
    } finally {
      client.close();
    }
  }
  for (const k of expected.keys()) if (!seen.has(k)) result.wrong.push(`${k}: missing`);
  return result;
}

export function slotCounts(topology: TopologySnapshot): number[] {
  return topology.shards.map((s) => s.slots.reduce((n, [a, b]) => n + b - a + 1, 0));
}
