/**
 * A fleet of three proxies on a 3-member etcd cluster (started by the test): losing one member
 * changes nothing; losing etcd altogether leaves every proxy serving its last topology without
 * refusing a command at any moment (each finds from its peers, before its lease deadline, that
 * etcd is down for everyone: src/coordination/CutOff.ts), while topology changes fail with a
 * clear error from `ctl`, and /health and /metrics say that automatic failover is suspended.
 */
import test from 'ava';
import Redis from 'ioredis';
import { startFleet } from '../helpers/fleet';
import { eventually, ctl } from '../helpers/kvstore';

/** SET/GET through every client back to back for `ms`: every error, with when it came. */
async function hammerFor(clients: Redis[], ms: number): Promise<{ ok: boolean; errors: string[] }> {
  const started = Date.now();
  const errors: string[] = [];
  let n = 0;
  while (Date.now() - started < ms) {
    await Promise.all(clients.map(async (c, i) => {
      const key = `h${i}:${n}`;
      try {
        if ((await c.set(key, 'x')) !== 'OK' || (await c.get(key)) !== 'x') errors.push(`${Date.now() - started} ms: p${i + 1} wrong reply`);
      } catch (err) {
        errors.push(`${Date.now() - started} ms: p${i + 1} ${(err as Error).message}`);
      }
    }));
    n++;
  }
  return { ok: n > 0, errors: errors.slice(0, 10) };
}

test('etcd faults: one of three members lost changes nothing; etcd gone: serving continues, ctl errors clearly, failover suspended', async (t) => {
  const fleet = await startFleet(t, { proxies: 3, shards: 2, etcdMembers: 3 });
  const clients = fleet.proxies.map((p) => {
    const c = new Redis({ port: p.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    c.on('error', () => undefined);
    return c;
  });
  t.teardown(() => clients.forEach((c) => c.disconnect()));
  await eventually(async () => (await fleet.proxiesSeenBy(fleet.proxies[2])).length === 3, 20_000, 'three members');

  // one etcd member down: a change through any proxy still works and reaches all
  await fleet.etcd.members[0].kill();
  const add = await ctl(fleet.proxies[1], 'key-rewrite', 'add', 'a:*');
  t.is(add.status, 0, add.stderr + add.stdout);
  const epochs = await Promise.all(fleet.proxies.map(async (p) => (await p.admin('GET', '/topology')).body.epoch));
  t.true(epochs.every((e) => e === epochs[0]), `epochs ${epochs}`);
  for (const p of fleet.proxies) t.is((await p.admin('GET', '/health')).body.fleet.etcd, 'ok');

  // etcd gone altogether
  await Promise.all(fleet.etcd.members.map((m) => m.kill()));
  const before = epochs[0];
  // Every proxy finds out before its lease deadline that none of its peers reaches etcd either:
  // no command is refused at any moment (no retry here on purpose).
  for (let i = 0; i < 3; i++) {
    t.is(await clients[i].set(`k${i}`, `v${i}`), 'OK');
    t.is(await clients[(i + 1) % 3].get(`k${i}`), `v${i}`, 'a key written through one proxy is read through another');
  }
  const hammer = hammerFor(clients, 4000); // runs on while the leases would expire
  const health = await eventually(async () => {
    const hs = await Promise.all(fleet.proxies.map(async (p) => (await p.admin('GET', '/health')).body));
    return hs.every((h) => h.fleet.etcd === 'unreachable' && h.fleet.failover === 'suspended' && h.fleet.cutOff === 'everyone') ? hs : undefined;
  }, 20_000, 'every proxy reporting etcd unreachable');
  t.true(health!.every((h) => h.epoch === before && h.status === 'ok'));
  const metrics = await fleet.proxies[0].admin('GET', '/metrics');
  t.regex(metrics.text, /^kvstore_fleet_etcd_up 0$/m);
  t.regex(metrics.text, /^kvstore_fleet_failover_suspended 1$/m);
  for (const p of fleet.proxies) {
    const r = await ctl(p, 'key-rewrite', 'add', 'b:*');
    t.not(r.status, 0);
    t.regex(r.stderr, /etcd unreachable .*topology changes are refused until it is back/);
  }
  const out = fleet.proxies[0].output();
  t.regex(out, /etcd unreachable: topology changes and automatic failover are suspended/);
  t.regex(out, /etcd is unreachable for the whole fleet: serving the last topology with no deadline/);
  t.deepEqual(await hammer, { ok: true, errors: [] }, 'commands through every proxy all along, past the lease deadlines');
  // still serving after the leases would have expired
  await new Promise((r) => setTimeout(r, 1000));
  for (let i = 0; i < 3; i++) t.is(await clients[i].get(`k${(i + 2) % 3}`), `v${(i + 2) % 3}`);

  // etcd back: coordination resumes, changes work again
  await Promise.all(fleet.etcd.members.map((m) => m.restart()));
  await eventually(async () => {
    const r = await ctl(fleet.proxies[2], 'key-rewrite', 'add', 'c:*');
    return r.status === 0;
  }, 30_000, 'a change accepted once etcd is back');
  const after = await eventually(async () => {
    const es = await Promise.all(fleet.proxies.map(async (p) => (await p.admin('GET', '/topology')).body.epoch));
    return es.every((e) => e === es[0] && e > before) ? es : undefined;
  }, 10_000, 'every proxy on the new epoch');
  t.truthy(after);
});
