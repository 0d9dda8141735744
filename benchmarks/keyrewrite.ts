/**
 * What key rewrite costs, in one run:
 *
 *   npm run build && node dist/benchmarks/keyrewrite.js [requests, default 200000]
 *
 * 1. Micro: ns per key for the fast-path test (`needsRewrite`) on keys no rule matches, with 1
 *    and 16 rules, and for a full rewrite of a matching key.
 * 2. redis-benchmark (SET/GET, 50 clients, -P 16, random keys `key:__rand_int__`) through one
 *    in-process worker over 3 shards: no rules; a rule that matches no key (every key is tested);
 *    a rule matching every key (every command takes the slow path).
 */
import { SlotHasher } from '../src/native/reference/hash';
import { KeyRewriter } from '../src/keyrewrite/KeyRewriter';
import { SlotTagTable } from '../src/keyrewrite/derivedName';
import type { KeyRewriteRule } from '../src/topology/types';
import { startProxy } from '../test/helpers/proxy';
import { runRedisBenchmark } from './lib/redisBenchmark';

/** SET and GET requests/s through `port` (redis-benchmark, 50 clients, -P 16). */
async function benchmark(port: number, requests: number): Promise<Record<string, number>> {
  const result: Record<string, number> = {};
  for (const test of ['set', 'get']) {
    const run = await runRedisBenchmark(['-p', String(port), '-t', test, '-P', '16', '-c', '50', '-n', String(requests), '-r', '100000', '--csv'], 120_000);
    if (run.row) result[test.toUpperCase()] = run.row.rps;
  }
  return result;
}

function micro(): void {
  const hasher = new SlotHasher();
  hasher.configure('crc16', 0);
  const slotOf = (k: Buffer) => hasher.slot(k, 0, k.length);
  const table = SlotTagTable.build(slotOf);
  const keys = Array.from({ length: 10000 }, (_, i) => Buffer.from(`key:${i}:profile`));
  const chunk = Buffer.concat(keys);
  const offsets = keys.map((k, i) => keys.slice(0, i).reduce((a, b) => a + b.length, 0));
  const run = (label: string, rules: KeyRewriteRule[], rewrite: boolean, print = true) => {
    const rw = new KeyRewriter(rules, slotOf, table);
    const rounds = 50;
    let hits = 0;
    const began = process.hrtime.bigint();
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < keys.length; i++) {
        const start = offsets[i];
        const end = start + keys[i].length;
        if (rewrite) hits += rw.rewrite(chunk, start, end) ? 1 : 0;
        else hits += rw.needsRewrite(chunk, start, end) ? 1 : 0;
      }
    }
    const ns = Number(process.hrtime.bigint() - began) / (rounds * keys.length);
    if (print) console.log(`${label.padEnd(48)} ${ns.toFixed(0).padStart(6)} ns/key  (${hits / rounds} of ${keys.length} matched)`);
  };
  const sixteen = Array.from({ length: 16 }, (_, i) => ({ pattern: `tenant${i}:*:session`, generation: 10 + i }));
  run('warm-up', [{ pattern: 'key:*', generation: 2 }], true, false);
  run('warm-up', [{ pattern: 'user:*', generation: 2 }], false, false);
  run('needsRewrite, 1 rule, no match (prefix differs)', [{ pattern: 'user:*', generation: 2 }], false);
  run('needsRewrite, 1 rule, no match (suffix differs)', [{ pattern: '*:session', generation: 2 }], false);
  run('needsRewrite, 1 rule, no match (glob runs)', [{ pattern: 'key:*[x]*', generation: 2 }], false);
  run('needsRewrite, 16 rules, no match', sixteen, false);
  run('rewrite, 1 rule, every key matches', [{ pattern: 'key:*', generation: 2 }], true);
}

async function main(): Promise<void> {
  const requests = Number(process.argv[2] ?? 200_000);
  micro();
  const teardowns: (() => Promise<void> | void)[] = [];
  const t = { teardown: (fn: () => Promise<void> | void) => teardowns.push(fn) };
  try {
    const kv = await startProxy(t, { shards: 3 });
    const scenarios: [string, KeyRewriteRule[]][] = [
      ['no rules', []],
      ['1 rule matching no key', [{ pattern: 'user:*', generation: 2 }]],
      ['1 rule matching every key', [{ pattern: 'key:*', generation: 3 }]],
    ];
    let epoch = 1;
    await benchmark(kv.port, Math.min(requests, 50_000)); // warm-up (JIT, connections)
    for (const [label, rules] of [...scenarios, scenarios[0]]) {
      kv.proxy.applyTopology({ ...kv.topology, epoch: ++epoch, keyRewrite: rules });
      await new Promise((r) => setTimeout(r, 200));
      const result = await benchmark(kv.port, requests);
      console.log(`${label.padEnd(28)} SET ${String(result.SET ?? '?').padStart(9)} req/s   GET ${String(result.GET ?? '?').padStart(9)} req/s`);
    }
  } finally {
    for (const fn of teardowns.reverse()) await fn();
  }
}

void main();
