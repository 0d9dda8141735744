/**
 * A shard that is merely slow is never ejected or failed over: `kvstore start` (primary + 2
 * workers) over real redis-servers, default health settings, a steady ioredis load through the
 * proxy, and a command that keeps one master silent for seconds — a 4 s Lua busy loop (below
 * Redis's default busy-reply-threshold of 5 s, so the server answers nothing, not even -BUSY)
 * or a KEYS over 1.5 M keys. From outside this looks exactly like a hang (SIGSTOP); the workers
 * know the command is in flight and the health checker counts the silence as slowness
 * (`slowEpisodes`). The hang itself is in failover-e2e.test.ts.
 */
import test, { ExecutionContext } from 'ava';
import Redis from 'ioredis';
import type { KvstoreProcess } from '../helpers/kvstore';
import {
  filledLoad, proxyClient, Shard, ioredisOptions, ready, shardOf, sleep, startShards, startCluster, topologyOf,
} from './failover-helpers';

/** A script that spins for `seconds` (TIME is allowed in scripts: effects replication). */
const spin = (seconds: number) =>
  `local t = redis.call("TIME") local s = t[1] + t[2] / 1e6 while true do local n = redis.call("TIME") if n[1] + n[2] / 1e6 - s > ${seconds} then break end end return 1`;



interface FailoverView {
  backends: Array<{ address: string; state: string; slowEpisodes: number; failures: number; lastError: string | null }>;
  events: Array<{ kind: string; shard: string }>;
}

async function failoverView(kv: KvstoreProcess): Promise<FailoverView> {
  return (await kv.admin<FailoverView>('GET', '/failover')).body;
}

/**
 * Run `slow` (a command keeping shard s1's master silent) through the proxy under load and check
 * that nothing was ejected or failed over. Returns how long the command took.
 */
async function slowCommandUnderLoad(
  t: ExecutionContext,
  mode: 'cache' | 'store',
  label: string,
  prepare: (master: Redis) => Promise<void>,
  slow: (client: Redis, keyOnS1: string) => Promise<unknown>,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const shards = await startShards(2, mode === 'store' ? 1 : 0, t.teardown, { s1: { args: ['--enable-debug-command', 'yes'] } });
  const s1 = shards[0].master;
  const direct = new Redis({ ...ioredisOptions(s1.port), commandTimeout: 60_000 });
  direct.on('error', () => undefined);
  t.teardown(() => direct.disconnect());
  await prepare(await ready(direct));
  const kv = await startCluster(t, shards, mode, extra);
  const { load } = await filledLoad(t, proxyClient(kv.port), { workers: 6, keysPerWorker: 100, pauseMs: 1 });
  const before = await topologyOf(kv);
  const keyOnS1 = Array.from({ length: 200 }, (_, i) => `slow:${i}`).find((k) => shardOf(before, k) === 's1')!;
  const client = new Redis({ ...ioredisOptions(kv.port), commandTimeout: 30_000 });
  client.on('error', () => undefined);
  t.teardown(() => client.disconnect());
  await ready(client);

  load.start();
  await sleep(1000);
  const started = Date.now();
  t.teardown(() => {
    // the health checker's reasoning, for a failed run
    const lines = kv.output().split('\n').filter((l) => /"name":"(health|failover-store|failover-cache)"/.test(l));
    if (lines.length) t.log(lines.slice(-10).join('\n'));
    require('fs').writeFileSync('/tmp/s4h-kv-output.log', kv.output());
  });
  await slow(client, keyOnS1);
  const tookMs = Date.now() - started;
  await sleep(3000); // the health checks' next rounds see it answer again
  await load.stop();

  const after = await topologyOf(kv);
  const view = await failoverView(kv);
  const h = view.backends.find((b) => b.address === s1.address)!;
  const errs = load.errorsSince(started);
  t.log(`${label}: took ${tookMs} ms; s1 master ${h.state}, explained silences ${h.slowEpisodes}, failed checks ${h.failures} (${h.lastError}); load: ${errs.length} failed of ${load.ops} ops`);
  t.true(h.slowEpisodes >= 1, `the health checker saw s1 silent and explained it (slowEpisodes ${h.slowEpisodes}): the scenario ran`);
  const metrics = (await kv.admin('GET', '/metrics')).text;
  t.regex(metrics, new RegExp(`kvstore_backend_health_slow_total\\{address="${s1.address}",shard="s1",role="master"\\} [1-9]`));
  t.is(h.state, 'up');
  t.deepEqual(view.events, [], 'no ejection, promotion or shard-down');
  t.is(after.epoch, before.epoch, 'the topology did not change');
  t.is(after.shards[0].master, s1.address);
  t.is(after.shards[0].state, 'up');
  t.deepEqual(load.staleReads, []);
  // The load's own client timeout (10 s) may pass during a long KEYS; no error may come from the proxy.
  t.deepEqual(errs.map((e) => e.message).filter((m) => !/^Command timed out/.test(m)), [], 'no client saw an error from the proxy');
}

test('store mode: a 4 s script through the proxy keeps a master silent; it is slow, not failed over', async (t) => {
  await slowCommandUnderLoad(t, 'store', 'STORE 4 s EVAL', async () => undefined, async (client, key) => {
    t.is(await client.eval(spin(4), 1, key), 1);
  });
});

test('cache mode: a 4 s script through the proxy keeps a master silent; it is slow, not ejected', async (t) => {
  await slowCommandUnderLoad(t, 'cache', 'CACHE 4 s EVAL', async () => undefined, async (client, key) => {
    t.is(await client.eval(spin(4), 1, key), 1);
  });
});

test('store mode: a slow KEYS through the proxy keeps a master silent; it is slow, not failed over', async (t) => {
  // 1.5 M keys on s1 alone (DEBUG POPULATE on the server directly, ~150 MB): KEYS walks every
  // key, so s1 answers nothing for seconds (1-15 s on this shared machine, so the request timeout
  // and the bound for such a silence are raised: the KEYS itself must get its answer)
  await slowCommandUnderLoad(
    t,
    'store',
    'STORE slow KEYS',
    async (master) => {
      await master.call('DEBUG', 'POPULATE', '1500000', 'a'.repeat(40), '1');
    },
    async (client) => {
      t.deepEqual(await client.keys('*a*a*a*a*a*a*a*a*a*a*a*a*b'), []);
    },
    { timeouts: { requestMs: 60_000 }, health: { slowCommandMaxMs: 60_000 } },
  );
});
