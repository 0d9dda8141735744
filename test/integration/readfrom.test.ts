/**
 * Reads from replicas end to end: the real program (primary + worker) over 2 shards of a master
 * and 2 replicas each. Where each command ran is read from the servers' own INFO commandstats:
 * READONLY clients' reads on replicas (spread over both), writes and other clients' reads on
 * masters; a replica whose link is down (no lag figure) and a killed replica are skipped;
 * readFrom: replica with no readable replica answers CLUSTERDOWN (applied by a live reload).
 */
import test from 'ava';
import { parseInfo, RespClient } from '../../src/resp';
import type { RedisProcess } from '../helpers/redis';
import { eventually, startKvstore } from '../helpers/kvstore';
import { loadKeySlot } from '../helpers/reshard';
import { FAST_HEALTH, startShards } from './failover-helpers';

const keySlot = loadKeySlot();

async function calls(server: RedisProcess, command: string): Promise<number> {
  const c = new RespClient(server.address, { strings: true });
  try {
    const stats = parseInfo(String(await c.command(['INFO', 'commandstats'])));
    return Number(/calls=(\d+)/.exec(stats[`cmdstat_${command}`] ?? '')?.[1] ?? 0);
  } finally {
    c.close();
  }
}

async function resetStats(servers: RedisProcess[]): Promise<void> {
  for (const s of servers) {
    const c = new RespClient(s.address);
    await c.command(['CONFIG', 'RESETSTAT']);
    c.close();
  }
}

test('readFrom: READONLY reads go to healthy replicas, writes to masters; lagging and dead replicas are skipped', async (t) => {
  const shards = await startShards(2, 2, t.teardown.bind(t));
  const servers = shards.flatMap((s) => [s.master, ...s.replicas]);
  const kv = await startKvstore(t, {
    shards: 0,
    workers: 1,
    config: {
      shards: shards.map((s) => ({ name: s.name, master: s.master.address, replicas: s.replicas.map((r) => r.address) })),
      readFrom: 'replica-preferred',
      maxReplicaLagMs: 1000,
      health: FAST_HEALTH,
    },
  });
  const writer = new RespClient(`127.0.0.1:${kv.port}`);
  t.teardown(() => writer.close());
  // Keys of both shards: slots 0-8191 are s1's, the rest s2's (even split of 2 shards).
  const keys = Array.from({ length: 200 }, (_, i) => `key:${i}`);
  const onS1 = keys.filter((k) => keySlot(Buffer.from(k)) < 8192);
  const onS2 = keys.filter((k) => keySlot(Buffer.from(k)) >= 8192);
  t.true(onS1.length > 50 && onS2.length > 50);
  for (const k of keys) await writer.command(['SET', k, `v-${k}`]);

  const readers = await Promise.all([0, 1, 2, 3].map(async () => {
    const c = new RespClient(`127.0.0.1:${kv.port}`);
    t.teardown(() => c.close());
    t.is(await c.command(['READONLY']), 'OK');
    return c;
  }));
  // Until the primary has measured the replicas' lag, reads stay on the masters.
  await eventually(async () => {
    await resetStats(servers);
    await readers[0].command(['GET', onS1[0]]);
    return (await calls(shards[0].replicas[0], 'get')) + (await calls(shards[0].replicas[1], 'get')) === 1;
  }, 15_000, 'the first read served by a replica');

  await resetStats(servers);
  for (const r of readers) for (const k of keys) t.is(String(await r.command(['GET', k])), `v-${k}`);
  // A replica would refuse it (-READONLY): OK means a master ran it.
  t.is(await readers[0].command(['SET', 'written', 'by a READONLY client']), 'OK');
  t.is(await calls(shards[0].master, 'get') + await calls(shards[1].master, 'get'), 0, 'no READONLY read on a master');
  const s1Reads = [await calls(shards[0].replicas[0], 'get'), await calls(shards[0].replicas[1], 'get')];
  const s2Reads = [await calls(shards[1].replicas[0], 'get'), await calls(shards[1].replicas[1], 'get')];
  t.is(s1Reads[0] + s1Reads[1], 4 * onS1.length);
  t.is(s2Reads[0] + s2Reads[1], 4 * onS2.length);
  t.true(s1Reads.every((n) => n > 0) && s2Reads.every((n) => n > 0), `spread over both replicas: ${s1Reads} ${s2Reads}`);
  t.is((await calls(shards[0].master, 'set')) + (await calls(shards[1].master, 'set')), 1, 'the write ran on a master');
  // MGET across both shards: one part per shard, each on a replica.
  t.deepEqual(((await readers[2].command(['MGET', onS1[0], onS2[0]])) as Buffer[]).map(String), [`v-${onS1[0]}`, `v-${onS2[0]}`]);
  t.is((await calls(shards[0].master, 'mget')) + (await calls(shards[1].master, 'mget')), 0);
  t.is((await calls(shards[0].replicas[0], 'mget')) + (await calls(shards[0].replicas[1], 'mget')), 1);
  t.is((await calls(shards[1].replicas[0], 'mget')) + (await calls(shards[1].replicas[1], 'mget')), 1);

  // Clients without READONLY, and after READWRITE, read from masters.
  await resetStats(servers);
  await writer.command(['GET', onS1[0]]);
  t.is(await readers[1].command(['READWRITE']), 'OK');
  await readers[1].command(['GET', onS1[1]]);
  t.is(await calls(shards[0].master, 'get'), 2);

  // A lagging replica: its link to the master is down, so it falls behind without limit (and
  // still answers PINGs, so the health checks keep it up). Reads skip it.
  const stale = shards[0].replicas[0];
  const staleClient = new RespClient(stale.address);
  t.teardown(() => staleClient.close());
  await staleClient.command(['REPLICAOF', '127.0.0.1', '1']);
  await writer.command(['SET', onS1[0], 'newer']);
  await eventually(async () => {
    await resetStats(servers);
    for (const r of [readers[0], readers[2], readers[3]]) for (const k of onS1.slice(0, 20)) await r.command(['GET', k]);
    return (await calls(stale, 'get')) === 0;
  }, 10_000, 'reads to skip the stale replica');
  t.is(await calls(shards[0].replicas[1], 'get'), 60);
  for (const r of [readers[0], readers[2], readers[3]]) t.is(String(await r.command(['GET', onS1[0]])), 'newer');

  // A dead shard-2 replica: reads go to the other one; both dead: to the master (replica-preferred).
  await shards[1].replicas[0].kill();
  await eventually(async () => {
    await resetStats([shards[1].master, shards[1].replicas[1]]);
    for (const r of [readers[0], readers[2], readers[3]]) await r.command(['GET', onS2[0]]);
    return (await calls(shards[1].replicas[1], 'get')) === 3;
  }, 10_000, 'reads to skip the dead replica');
  await shards[1].replicas[1].kill();
  await eventually(async () => {
    await resetStats([shards[1].master]);
    const v = await readers[0].command(['GET', onS2[0]]);
    return String(v) === `v-${onS2[0]}` && (await calls(shards[1].master, 'get')) === 1;
  }, 10_000, 'reads to fall back to the master');

  // readFrom: replica (live reload): no readable replica on s2 → CLUSTERDOWN; s1 still served.
  kv.writeConfig({ ...kv.config, readFrom: 'replica' });
  const reload = await kv.admin('POST', '/reload');
  t.is(reload.status, 200, reload.text);
  await t.throwsAsync(() => readers[0].command(['GET', onS2[0]]), {
    message: "CLUSTERDOWN The cluster is down: shard 's2' has no replica that is up and within maxReplicaLagMs (readFrom: replica)",
  });
  t.is(String(await readers[0].command(['GET', onS1[1]])), `v-${onS1[1]}`);
  t.is(String(await writer.command(['GET', onS2[0]])), `v-${onS2[0]}`, 'clients without READONLY are not affected');
  t.is(await readers[0].command(['RESET']), 'RESET');
  t.is(String(await readers[0].command(['GET', onS2[0]])), `v-${onS2[0]}`, 'RESET clears READONLY');
});
