/**
 * The two seams other helpers plug into: the migration hook (resharding) and the key-rewrite hook.
 * These tests use minimal hooks to prove the proxy calls them at the right place and honours what
 * they return; the real implementations live in src/proxy/Migration*.ts and the key-rewrite module.
 */
import test from 'ava';
import { ReferenceHotPath } from '../../src/native/reference/ReferenceHotPath';
import type { SlowCommand } from '../../src/proxy/Hooks';
import { startProxy } from '../helpers/proxy';

const hasher = new ReferenceHotPath();
hasher.configure({ maxBulkBytes: 1 << 29, maxInlineBytes: 65536, hash: 'crc16', murmurSeed: 0 });
const slotOf = (k: string) => hasher.keySlot(Buffer.from(k));
const ownerOf2 = (k: string) => (slotOf(k) <= 8191 ? 0 : 1);

test('migration hook: called only for keys in migrating slots, its reply goes back in order', async (t) => {
  const kv = await startProxy(t, { shards: 2 });
  const moving = 'moving-key';
  const from = ownerOf2(moving);
  const to = 1 - from;
  const slot = slotOf(moving);
  kv.proxy.applyTopology({ ...kv.topology, epoch: 2, migrations: [{ first: slot, last: slot, from: `s${from}`, to: `s${to}` }] });
  const seen: SlowCommand[] = [];
  kv.proxy.hooks.migration = (cmd, shards) => {
    seen.push(cmd);
    t.deepEqual(shards.migrationOf(slot), { from: `s${from}`, to: `s${to}` });
    if (cmd.name === 'get' || cmd.name === 'mget') return null; // forwarded normally (to the owner)
    // Everything else is sent to the destination shard, as a migrator would after moving the key.
    return shards.send(to, cmd.raw);
  };
  const r = kv.client();
  const p = r.pipeline();
  p.set('still-here', '1');
  p.set(moving, 'to-destination');
  p.get(moving);
  p.mget(moving, 'still-here');
  p.get('still-here');
  const res = (await p.exec())!.map(([e, v]) => e ?? v);
  t.deepEqual(res, ['OK', 'OK', null, [null, '1'], '1']);
  t.deepEqual(seen.map((c) => c.name), ['set', 'get', 'mget']);
  t.deepEqual(seen[0].keyIndexes, [1]);
  t.deepEqual(seen[0].keySlots, [slot]);
  t.is(await kv.shardClient(to).get(moving), 'to-destination');
  t.is(await kv.shardClient(from).get(moving), null);
  // A rejected promise becomes an error reply for that command only.
  kv.proxy.hooks.migration = () => Promise.reject(new Error('migration of slot failed'));
  await t.throwsAsync(r.set(moving, 'x'), { message: 'ERR Kvstore: migration of slot failed' });
  t.is(await r.get('still-here'), '1');
});

test('key-rewrite hook: rewritten keys decide the shard', async (t) => {
  const kv = await startProxy(t, { shards: 3 });
  kv.proxy.hooks.keyRewrite = {
    needsRewrite: () => true,
    rewrite: (cmd) => ({ args: cmd.args.map((a, i) => (cmd.keyIndexes.includes(i) ? Buffer.concat([Buffer.from('v2:'), a]) : a)) }),
  };
  const r = kv.client();
  t.is(await r.set('user:1', 'a'), 'OK');
  t.is(await r.mset('user:2', 'b', 'user:3', 'c'), 'OK');
  t.deepEqual(await r.mget('user:1', 'user:2', 'user:3'), ['a', 'b', 'c']);
  kv.proxy.hooks.keyRewrite = null;
  t.deepEqual(await r.mget('user:1', 'v2:user:1', 'v2:user:3'), [null, 'a', 'c']);
  const owner = (k: string) => {
    const s = slotOf(k);
    return s <= 5460 ? 0 : s <= 10922 ? 1 : 2;
  };
  t.is(await kv.shardClient(owner('v2:user:1')).get('v2:user:1'), 'a');
  t.is(await r.ping(), 'PONG');
});
