/**
 * Key rewrite end to end: `kvstore start` (primary + 2 cluster workers) over real redis-servers,
 * rules managed with `kvstore ctl key-rewrite`.
 */
import test from 'ava';
import Redis from 'ioredis';
import { main } from '../../src/cli/main';
import { startKvstore, KvstoreProcess } from '../helpers/kvstore';

function ctl(kv: KvstoreProcess, ...args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  return main(['ctl', '--admin', `127.0.0.1:${kv.adminPort}`, 'key-rewrite', ...args], { out: (l) => out.push(l), err: (l) => err.push(l) }).then((code) => ({ code, out, err }));
}

function clients(t: import('ava').ExecutionContext, port: number, n: number): Redis[] {
  const list = Array.from({ length: n }, () => new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0 }));
  for (const c of list) c.on('error', () => undefined);
  t.teardown(() => list.forEach((c) => c.disconnect()));
  return list;
}

test('with 2 workers, no request sent after `key-rewrite add` returns sees the old generation', async (t) => {
  const kv = await startKvstore(t, { shards: 2, workers: 2 });
  t.is((await kv.workerPids()).length, 2);
  const conns = clients(t, kv.port, 12);
  for (let i = 0; i < 50; i++) await conns[0].set(`user:${i}`, 'old');

  let addReturnedAt = Infinity;
  let stop = false;
  const late: string[] = [];
  let checkedAfter = 0;
  const loops = conns.map(async (c, ci) => {
    for (let n = 0; !stop; n++) {
      const sentAt = performance.now();
      const value = await c.get(`user:${(ci * 7 + n) % 50}`);
      if (sentAt > addReturnedAt) {
        checkedAfter++;
        if (value !== null) late.push(`client ${ci}: ${value}`);
      }
    }
  });
  await new Promise((r) => setTimeout(r, 150));
  const added = await ctl(kv, 'add', 'user:*');
  addReturnedAt = performance.now();
  t.is(added.code, 0, added.err.join('\n'));
  // Keep going until plenty of requests were sent after the add returned (bounded in time).
  const deadline = Date.now() + 15_000;
  while (checkedAfter < 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  stop = true;
  await Promise.all(loops);
  t.true(checkedAfter >= 200, `only ${checkedAfter} requests after the add`);
  t.deepEqual(late, []);

  // And the other way: after `remove` returns, every request sees the old values again.
  const removed = await ctl(kv, 'remove', 'user:*');
  t.is(removed.code, 0);
  const values = await Promise.all(conns.map((c, i) => c.get(`user:${i}`)));
  t.deepEqual(values, conns.map(() => 'old'));
});

test('rules survive a restart; reclaim frees the old keys through the real cluster without blocking clients', async (t) => {
  const first = await startKvstore(t, { shards: 2, workers: 1 });
  const [c1] = clients(t, first.port, 1);
  for (let i = 0; i < 2000; i++) await c1.set(`user:${i}`, 'old');
  for (let i = 0; i < 200; i++) await c1.set(`item:${i}`, 'keep');
  t.is((await ctl(first, 'add', 'user:*')).code, 0);
  await c1.set('user:1', 'new');
  const listed = await ctl(first, 'list', '--json');
  const rules = JSON.parse(listed.out.join('\n')).rules;
  t.is(rules.length, 1);

  c1.disconnect();
  first.process.kill('SIGTERM');
  await first.exited;

  // Same state dir and shards, a new process.
  const second = await startKvstore(t, { shards: 1, workers: 2, config: { stateDir: first.config.stateDir, shards: first.config.shards } });
  const conns = clients(t, second.port, 2);
  const again = await ctl(second, 'list', '--json');
  t.deepEqual(JSON.parse(again.out.join('\n')).rules, rules);
  t.is(await conns[0].get('user:1'), 'new');
  t.is(await conns[1].get('user:2'), null);
  t.is(await conns[0].exists('user:3'), 0);

  const backends = first.redis.map((r) => new Redis({ port: r.port, host: '127.0.0.1' }));
  t.teardown(() => backends.forEach((b) => b.disconnect()));
  const size = async () => (await backends[0].dbsize()) + (await backends[1].dbsize());
  t.is(await size(), 2000 + 200 + 1);

  // Reclaim while a client keeps reading through the proxy.
  let stop = false;
  let served = 0;
  const reader = (async () => {
    while (!stop) {
      t.is(await conns[1].get(`item:${served % 200}`), 'keep');
      served++;
    }
  })();
  const reclaim = await ctl(second, 'reclaim', '--batch', '50', '--rate', '10000', '--wait');
  stop = true;
  await reader;
  t.is(reclaim.code, 0, reclaim.err.join('\n'));
  t.regex(reclaim.out.join('\n'), /reclaim: done/);
  t.is(await size(), 200 + 1);
  t.true(served > 20, `only ${served} reads during the reclaim`);
  t.is(await conns[0].get('user:1'), 'new');
  t.is(await conns[0].get('item:7'), 'keep');
  const metrics = (await second.admin('GET', '/metrics')).text;
  t.regex(metrics, /^kvstore_key_rewrite_rules 1$/m);
  t.regex(metrics, /^kvstore_key_rewrite_reclaim_unlinked_total 2000$/m);
});

test('rewritten keys move with their slots during online resharding', async (t) => {
  const kv = await startKvstore(t, { shards: 2, workers: 1, config: { migration: { batchKeys: 50, maxKeysPerSecond: 0 } } });
  const [c] = clients(t, kv.port, 1);
  for (let i = 0; i < 300; i++) await c.set(`user:${i}`, 'old');
  t.is((await ctl(kv, 'add', 'user:*')).code, 0);
  for (let i = 0; i < 300; i++) await c.set(`user:${i}`, `new${i}`);
  await c.sadd('user:{9}:a', 'x');
  await c.sadd('item:{9}', 'x');
  // Move every slot of shard 1 to shard 2, clients reading meanwhile.
  const out: string[] = [];
  const err: string[] = [];
  let stop = false;
  let wrong = 0;
  const reader = (async () => {
    for (let n = 0; !stop; n++) if ((await c.get(`user:${n % 300}`)) !== `new${n % 300}`) wrong++;
  })();
  const code = await main(['ctl', '--admin', `127.0.0.1:${kv.adminPort}`, 'move-slots', '0-8191', 's2', '--wait'], { out: (l) => out.push(l), err: (l) => err.push(l) });
  stop = true;
  await reader;
  t.is(code, 0, err.join('\n'));
  t.is(wrong, 0);
  const s1 = new Redis({ port: kv.redis[0].port, host: '127.0.0.1' });
  t.teardown(() => s1.disconnect());
  t.is(await s1.dbsize(), 0, 'derived and plain names left with their slots');
  const values = await c.mget(...Array.from({ length: 300 }, (_, i) => `user:${i}`));
  t.deepEqual(values, Array.from({ length: 300 }, (_, i) => `new${i}`));
  t.deepEqual(await c.sinter('user:{9}:a', 'item:{9}'), ['x']);
  t.is((await c.keys('user:*')).length, 301);
});
