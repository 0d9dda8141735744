/**
 * Import benchmark (issue #18): keys/s of `kvstore ctl import` and the source's latency while it
 * runs, with the scenario at full size.
 *
 *   npm run build && node dist/benchmarks/import.js [--keys 100000] [--big 1000000] [--rate 0] [--writer 2000]
 *
 * The real program (primary + 2 workers) over 3 shards; a source redis-server with --keys keys of
 * every type (a third with TTLs) and a hash of --big fields; a writer doing --writer ops/s on the
 * source throughout. A probe PINGs the source every 5 ms from its own connection: p50/p99/max
 * before the import and during it. Also timed: one DUMP of the big hash, i.e. how long the source
 * would stall if big keys were DUMPed instead of copied in chunks. After cutover every key is
 * compared (type, value, TTL within 1 s).
 */
import { RespClient } from '../src/resp';
import type { ImportInfo } from '../src/import/types';
import { allKeys, compareKeys, populate, startWriter } from '../test/helpers/importData';
import { adminRequest, startKvstore } from '../test/helpers/kvstore';
import { startRedis } from '../test/helpers/redis';
import { percentile } from '../test/helpers/reshard';
import os from 'node:os';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const teardowns: Array<() => Promise<void> | void> = [];
const t = { teardown: (fn: () => Promise<void> | void) => teardowns.push(fn), log: console.log };

function probe(address: string): { stop(): Promise<number[]> } {
  const client = new RespClient(address);
  const samples: number[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const t0 = process.hrtime.bigint();
      await client.command(['PING']);
      samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      client.close();
      return samples;
    },
  };
}

const fmt = (s: number[]) => `p50 ${percentile(s, 50).toFixed(2)} ms, p99 ${percentile(s, 99).toFixed(2)} ms, max ${Math.max(...s).toFixed(1)} ms (${s.length} PINGs)`;

async function run(): Promise<void> {
  const keys = arg('keys', 100_000);
  const big = arg('big', 1_000_000);
  const rate = arg('rate', 0);
  const writerOps = arg('writer', 2000);
  console.log(`load average before: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const source = await startRedis();
  teardowns.push(() => source.stop());
  const kv = await startKvstore(t, { shards: 3, workers: 2 });
  const src = new RespClient(source.address);
  teardowns.push(() => src.close());
  await populate(src, keys);
  if (big > 0) {
    for (let from = 0; from < big; from += 1000) {
      const fields: string[] = [];
      for (let j = from; j < Math.min(big, from + 1000); j++) fields.push(`field-${j}`, `value-${j}`);
      await src.command(['HSET', 'k:huge', ...fields]);
    }
    // Redis's own time for the command (commandstats), not the transfer of its reply.
    await src.command(['CONFIG', 'RESETSTAT']);
    const dump = (await src.command(['DUMP', 'k:huge'])) as Buffer;
    const stats = String(await src.command(['INFO', 'commandstats']));
    const usec = Number(/cmdstat_dump:calls=1,usec=(\d+)/.exec(stats)?.[1]);
    console.log(`DUMP of a hash of ${big} fields: ${(usec / 1000).toFixed(0)} ms inside Redis (${(dump.length / 1e6).toFixed(1)} MB) — the source serves nothing else meanwhile`);
  }
  console.log(`source: ${Number(await src.command(['DBSIZE']))} keys`);

  const idle = probe(source.address);
  await new Promise((r) => setTimeout(r, 2000));
  console.log(`source latency, no import, no writer: ${fmt(await idle.stop())}`);

  const writerConn = new RespClient(source.address);
  teardowns.push(() => writerConn.close());
  const writer = startWriter(writerConn, keys, writerOps);
  const base = probe(source.address);
  await new Promise((r) => setTimeout(r, 2000));
  console.log(`source latency, writer only (${writerOps} ops/s): ${fmt(await base.stop())}`);

  // Redis's own account of what blocked it: every command of 2 ms or more during the import.
  await src.command(['CONFIG', 'SET', 'slowlog-log-slower-than', 2000]);
  await src.command(['CONFIG', 'SET', 'slowlog-max-len', 1000]);
  await src.command(['SLOWLOG', 'RESET']);
  const during = probe(source.address);
  const started = Date.now();
  const res = await adminRequest(kv.adminPort, 'POST', '/import', { from: source.address, rate, onExisting: 'replace' });
  if (res.status !== 202) throw new Error(`POST /import: ${res.status} ${res.text}`);
  let info: ImportInfo;
  for (;;) {
    info = (await adminRequest(kv.adminPort, 'GET', '/import')).body.import;
    if (info.state !== 'running') throw new Error(`import ${info.state}: ${info.error}`);
    if (info.caughtUp) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const seconds = (Date.now() - started) / 1000;
  const duringSamples = await during.stop();
  console.log(`full pass + catch-up: ${info.keysCopied} keys (${info.bigKeys} in chunks) in ${seconds.toFixed(1)} s = ${Math.round(info.keysCopied / seconds)} keys/s (rate ${rate || 'unpaced'}); live phase applied ${info.liveCopied} copies, ${info.liveDeleted} deletions meanwhile`);
  console.log(`source latency during the import (+ writer): ${fmt(duringSamples)}`);
  const slow = (await src.command(['SLOWLOG', 'GET', 1000])) as unknown[][];
  const longest = slow.reduce<unknown[] | null>((a, e) => (!a || Number(e[2]) > Number(a[2]) ? e : a), null);
  console.log(
    `source SLOWLOG during the import: ${slow.length} command(s) of >= 2 ms` +
      (longest ? `; longest ${(Number(longest[2]) / 1000).toFixed(1)} ms: ${(longest[3] as Buffer[]).slice(0, 4).map(String).join(' ')}` : ''),
  );
  await new Promise((r) => setTimeout(r, 1000));
  await writer.stop();
  console.log(`writer: ${writer.ops} ops`);
  const cutStart = Date.now();
  await adminRequest(kv.adminPort, 'POST', '/import/cutover');
  for (;;) {
    info = (await adminRequest(kv.adminPort, 'GET', '/import')).body.import;
    if (info.state !== 'running') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  console.log(`cutover: ${info.state} in ${Date.now() - cutStart} ms`);
  const proxy = new RespClient(`127.0.0.1:${kv.port}`);
  teardowns.push(() => proxy.close());
  const all = await allKeys(src);
  const cmp = await compareKeys(src, proxy, all, 1000, new Set(['k:huge']));
  const kvCount = Number(await proxy.command(['DBSIZE']));
  for (const list of [cmp.missing, cmp.different, cmp.ttlOff]) if (list.length) console.log(list.slice(0, 10).join('\n'));
  console.log(`compared ${cmp.keys} keys: ${cmp.missing.length} missing, ${cmp.different.length} different, ${cmp.ttlOff.length} TTLs off by > 1 s (largest TTL difference ${cmp.maxTtlDiffMs} ms); Kvstore DBSIZE ${kvCount}`);
  console.log(`load average after: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  if (cmp.missing.length || cmp.different.length || cmp.ttlOff.length || kvCount !== all.length) process.exitCode = 1;
}

run()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const fn of teardowns.reverse()) await fn();
  });
