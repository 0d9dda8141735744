/**
 * The primary's side without workers: rules through the admin routes and the ctl command,
 * persisted across a TopologyStore reload, acks awaited before the call returns; and the reclaim
 * job against real redis-servers.
 */
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { AdminServer } from '../../src/admin/AdminServer';
import { main } from '../../src/cli/main';
import { registerKeyRewriteRoutes } from '../../src/keyrewrite/adminRoutes';
import { deriveName, SlotTagTable } from '../../src/keyrewrite/derivedName';
import { KeyRewriteAdmin } from '../../src/keyrewrite/KeyRewriteAdmin';
import { KeyRewriter } from '../../src/keyrewrite/KeyRewriter';
import { TopologyStore } from '../../src/topology/TopologyStore';
import { evenSlotRanges } from '../../src/topology/slots';
import type { TopologySnapshot } from '../../src/topology/types';
import { startRedisGroup } from '../helpers/redis';
import { specKeySlot as keySlot } from '../helpers/specSlot';

function topology(masters: string[]): TopologySnapshot {
  const ranges = evenSlotRanges(masters.length);
  return {
    epoch: 1, mode: 'cache', hash: 'crc16', migrations: [], keyRewrite: [],
    shards: masters.map((m, i) => ({ name: `s${i}`, master: m, replicas: [], state: 'up', slots: [ranges[i]] })),
  };
}

async function setup(t: import('ava').ExecutionContext, masters: string[]) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvstore-kr-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = new TopologyStore(dir, topology(masters));
  const acked: number[] = [];
  const admin = new KeyRewriteAdmin({
    snapshot: () => store.snapshot,
    slotOf: keySlot,
    updateTopology: async (mutate) => {
      const next = store.update(mutate);
      await new Promise((r) => setTimeout(r, 20)); // the workers take a moment to ack
      acked.push(next.epoch);
      return next;
    },
  });
  const server = new AdminServer({ host: '127.0.0.1', port: 0 });
  registerKeyRewriteRoutes(server, admin);
  const { port } = await server.listen();
  t.teardown(() => server.close());
  const lines: string[] = [];
  const errors: string[] = [];
  const io = { out: (l: string) => lines.push(l), err: (l: string) => errors.push(l) };
  const ctl = (...args: string[]) => main(['ctl', '--admin', `127.0.0.1:${port}`, 'key-rewrite', ...args], io);
  return { dir, store, admin, acked, ctl, lines, errors };
}

test('ctl key-rewrite add/list/remove: persisted, generation bumps, acks awaited', async (t) => {
  const { dir, store, acked, ctl, lines, errors } = await setup(t, ['127.0.0.1:1', '127.0.0.1:2']);

  t.is(await ctl('add', 'user:*'), 0);
  const first = store.snapshot.keyRewrite.find((r) => r.pattern === 'user:*')!;
  t.is(first.generation, store.snapshot.epoch);
  t.deepEqual(acked, [store.snapshot.epoch]); // returned only after the ack
  t.regex(lines.pop()!, /^added user:\* generation \d+/);

  t.is(await ctl('add', 'session:?'), 0);
  t.is(await ctl('add', 'user:*'), 0); // again: bumps the generation
  const second = store.snapshot.keyRewrite.find((r) => r.pattern === 'user:*')!;
  t.true(second.generation > first.generation);

  lines.length = 0;
  t.is(await ctl('list'), 0);
  t.is(lines.length, 1);
  t.regex(lines[0], new RegExp(`user:\\*\\s+${second.generation}\\n`));
  t.regex(lines[0], new RegExp(`session:\\?\\s+${store.snapshot.keyRewrite[1].generation}$`));
  t.is(await ctl('list', '--json'), 0);
  t.deepEqual(JSON.parse(lines.pop()!).rules, store.snapshot.keyRewrite);

  // Survives a restart: a new store reads the same file.
  const reloaded = new TopologyStore(dir, topology(['x:1']));
  t.deepEqual(reloaded.snapshot.keyRewrite, store.snapshot.keyRewrite);

  t.is(await ctl('remove', 'user:*'), 0);
  t.deepEqual(store.snapshot.keyRewrite.map((r) => r.pattern), ['session:?']);
  t.is(await ctl('remove', 'user:*'), 1);
  t.regex(errors.pop()!, /no key-rewrite pattern/);

  // remove + add again: a generation above every earlier one (old derived names stay dead).
  t.is(await ctl('add', 'user:*'), 0);
  t.true(store.snapshot.keyRewrite.find((r) => r.pattern === 'user:*')!.generation > second.generation);

  t.is(await ctl('add'), 2);
  t.is(await ctl('bogus'), 2);
  t.is(acked.length, 5); // 4 adds + 1 remove (the refused remove changed nothing)
});

test('reclaim unlinks dead generations on every shard and keeps visible keys, while clients are served', async (t) => {
  const servers = await startRedisGroup(2, t.teardown);
  const { admin, ctl } = await setup(t, servers.map((s) => s.address));
  const clients = servers.map((s) => new Redis({ port: s.port, host: '127.0.0.1' }));
  t.teardown(() => clients.forEach((c) => c.disconnect()));

  await admin.add('user:*');
  const gen = admin.list()[0].generation;
  const rw = new KeyRewriter(admin.list(), keySlot);
  const table = SlotTagTable.build(keySlot);

  // What workers would have left behind: dropped plain keys, an older generation, the live
  // generation, and unrelated keys.
  const live = new Set<string>();
  const N = 3000;
  for (let i = 0; i < N; i++) {
    const c = clients[i % 2];
    const user = Buffer.from(`user:${i}`);
    const item = Buffer.from(`item:${i}`);
    const pipe = c.pipeline();
    pipe.set(user, 'old'); // dead: dropped family
    pipe.set(deriveName(user, gen - 1, keySlot(user), table), 'older'); // dead: older generation
    pipe.set(item, 'keep'); // live
    live.add(item.toString('latin1'));
    if (i % 10 === 0) {
      const current = rw.rewrite(user)!;
      pipe.set(current, 'new'); // live: current generation
      live.add(current.toString('latin1'));
    }
    await pipe.exec();
  }
  const before = (await clients[0].dbsize()) + (await clients[1].dbsize());
  t.is(before, 3 * N + N / 10);

  // A client keeps reading while the job runs; it must be served between batches.
  let served = 0;
  let maxMs = 0;
  let reading = true;
  const reader = (async () => {
    while (reading) {
      const began = process.hrtime.bigint();
      t.is(await clients[served % 2].get(`item:${served % N}`), 'keep');
      maxMs = Math.max(maxMs, Number(process.hrtime.bigint() - began) / 1e6);
      served++;
    }
  })();

  t.is(await ctl('reclaim', '--batch', '100', '--rate', '20000', '--wait'), 0);
  reading = false;
  await reader;
  const status = admin.reclaimStatus();
  t.is(status.state, 'done');
  const batches = status.shards.reduce((a, s) => a + s.batches, 0);
  t.log(`reclaim: ${batches} batches, ${served} client GETs served meanwhile, slowest ${maxMs.toFixed(2)} ms`);
  t.true(batches > 10);
  t.true(served > batches, 'clients were served between batches');

  const after = (await clients[0].dbsize()) + (await clients[1].dbsize());
  t.is(after, live.size);
  t.is(status.shards.reduce((a, s) => a + s.unlinked, 0), before - after);
  const remaining = [...(await clients[0].keysBuffer('*')), ...(await clients[1].keysBuffer('*'))].map((k) => k.toString('latin1'));
  t.deepEqual(remaining.sort(), [...live].sort());
});

test('a rule change waits for the reclaim batch in flight and the next batch uses the new rules', async (t) => {
  const servers = await startRedisGroup(1, t.teardown);
  const { admin } = await setup(t, servers.map((s) => s.address));
  const client = new Redis({ port: servers[0].port, host: '127.0.0.1' });
  t.teardown(() => client.disconnect());
  await admin.add('user:*');
  const pipe = client.pipeline();
  for (let i = 0; i < 2000; i++) pipe.set(`user:${i}`, 'old');
  await pipe.exec();
  // Slow job, then remove the rule mid-way: the plain keys not yet reclaimed must survive.
  admin.startReclaim({ batchKeys: 20, keysPerSecond: 2000 });
  const deadline = Date.now() + 15_000;
  while (admin.reclaimStatus().shards[0].unlinked === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  await admin.remove('user:*');
  const left = await client.dbsize();
  await admin.reclaim.finished();
  t.true(left > 0 && left < 2000, `left ${left}`);
  t.is(await client.dbsize(), left, 'nothing unlinked after the rule was removed');
});
