/**
 * RESP3 through real client libraries: node-redis 5 with `RESP: 3` (it opens with HELLO 3 and
 * decodes maps, sets, doubles and nulls into JS values) over 3 shards, next to an ioredis
 * (RESP2) client on the same proxy; and a RESP3 client when the shards need a password (the
 * proxy's RESP3 backend connections authenticate inside their HELLO 3).
 */
import test from 'ava';
import { createClient } from 'redis';
import { startProxy } from '../helpers/proxy';
import { RawClient } from '../helpers/raw';

async function resp3Client(t: { teardown(fn: () => void | Promise<void>): void }, port: number) {
  const client = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false }, RESP: 3 });
  client.on('error', () => undefined);
  await client.connect();
  t.teardown(() => client.destroy());
  return client;
}

test('node-redis with RESP: 3 and ioredis (RESP2) side by side on 3 shards', async (t) => {
  const kv = await startProxy(t, { shards: 3 });
  const r3 = await resp3Client(t, kv.port);
  const r2 = kv.client();

  t.is(await r3.set('a', '1'), 'OK');
  t.is(await r3.get('nokey'), null);
  await r3.mSet({ a: '1', b: '2', c: '3', d: '4' });
  t.deepEqual(await r3.mGet(['a', 'b', 'nokey', 'c', 'd']), ['1', '2', null, '3', '4']);
  await r3.hSet('h', { f1: 'v1', f2: 'v2' });
  t.deepEqual({ ...(await r3.hGetAll('h')) }, { f1: 'v1', f2: 'v2' }, 'HGETALL is a map');
  await r3.sAdd('s', ['x', 'y']);
  t.deepEqual([...(await r3.sMembers('s'))].sort(), ['x', 'y'], 'SMEMBERS is a set');
  await r3.zAdd('z', { score: 1.5, value: 'm' });
  t.is(await r3.zScore('z', 'm'), 1.5, 'ZSCORE is a double');
  t.is(await r3.del(['a', 'b', 'c', 'nokey']), 3);
  t.is(await r3.dbSize(), 4);
  t.regex(String(await r3.info('keyspace')), /db0:keys=4/);
  t.is(await r3.clientGetName(), null);
  const id = await r3.clientId();
  t.true(Number(id) > 0);
  t.regex(String(await r3.clientInfo().then((i) => JSON.stringify(i))), /"resp":3|resp=3/);

  // The RESP2 client on the same proxy and shards still gets RESP2.
  t.deepEqual(await r2.hgetall('h'), { f1: 'v1', f2: 'v2' });
  t.is(await r2.get('nokey'), null);
  const raw = await RawClient.connect(kv.port);
  t.teardown(() => raw.close());
  t.is((await raw.call('GET', 'nokey')).toString(), '$-1\r\n');
  t.is((await raw.call('HGETALL', 'h')).toString().slice(0, 4), '*4\r\n');
  t.regex((await raw.call('HELLO', '3')).toString(), /^%7\r\n/);
  t.is((await raw.call('GET', 'nokey')).toString(), '_\r\n', 'after HELLO 3 the same connection gets RESP3');
  t.is((await raw.call('HGETALL', 'h')).toString().slice(0, 4), '%2\r\n');
  t.is((await raw.call('CLIENT', 'GETNAME')).toString(), '_\r\n');
  t.regex((await raw.call('INFO', 'server')).toString(), /^=\d+\r\ntxt:# Server\r\n/);
  t.regex((await raw.call('HELLO', '2')).toString(), /^\*14\r\n/);
  t.is((await raw.call('GET', 'nokey')).toString(), '$-1\r\n', 'HELLO 2 switches back');
  t.regex((await raw.call('HELLO', '3', 'SETNAME', 'me')).toString(), /^%7\r\n/);
  t.is((await raw.call('CLIENT', 'GETNAME')).toString(), '$2\r\nme\r\n');
  t.is((await raw.call('RESET')).toString(), '+RESET\r\n');
  t.is((await raw.call('GET', 'nokey')).toString(), '$-1\r\n', 'RESET goes back to RESP2');
});

test('HELLO: errors in Redis 7.0 order; AUTH inside HELLO; RESP3 backends authenticate with HELLO 3 AUTH', async (t) => {
  const kv = await startProxy(t, {
    shards: 2,
    redis: { args: ['--requirepass', 'shardpw'] },
    config: { password: 'clientpw', backend: { password: 'shardpw' } },
  });
  const raw = await RawClient.connect(kv.port);
  t.teardown(() => raw.close());
  t.regex((await raw.call('HELLO', '3')).toString(), /^-NOAUTH HELLO must be called with the client already authenticated/);
  t.is((await raw.call('HELLO', '3', 'AUTH', 'default', 'bad')).toString(), '-WRONGPASS invalid username-password pair or user is disabled.\r\n');
  t.is((await raw.call('HELLO', '3', 'AUTH', 'default')).toString(), "-ERR Syntax error in HELLO option 'AUTH'\r\n");
  t.is((await raw.call('HELLO', '1')).toString(), '-NOPROTO unsupported protocol version\r\n');
  t.regex((await raw.call('HELLO', '3', 'AUTH', 'default', 'clientpw', 'SETNAME', 'n1')).toString(), /^%7\r\n.*\$5\r\nproto\r\n:3\r\n/s);
  t.is((await raw.call('SET', 'k', 'v')).toString(), '+OK\r\n');
  t.is((await raw.call('GET', 'nokey')).toString(), '_\r\n');
  t.is((await raw.call('HGETALL', 'nokey')).toString(), '%0\r\n', 'an empty map');
  t.is((await raw.call('CLIENT', 'GETNAME')).toString(), '$2\r\nn1\r\n');
});

test('node-redis with RESP: 3: blocking commands and MULTI/EXEC get RESP3 from their dedicated connections', async (t) => {
  const kv = await startProxy(t, { shards: 3 });
  const r3 = await resp3Client(t, kv.port);
  const pusher = await resp3Client(t, kv.port);

  t.is(await r3.blPop('{b}jobs', 0.05), null, 'BLPOP timeout');
  const woken = r3.blPop('{b}jobs', 0);
  await new Promise((r) => setTimeout(r, 100));
  await pusher.rPush('{b}jobs', 'job1');
  t.deepEqual({ ...(await woken) }, { key: '{b}jobs', element: 'job1' }, 'BLPOP woken');
  await pusher.zAdd('{b}z', { score: 2.5, value: 'm' });
  const popped = await r3.bzPopMin('{b}z', 0);
  t.is(popped?.score, 2.5, 'BZPOPMIN: the score is a RESP3 double (a RESP2 bulk would decode to the string "2.5")');

  await r3.hSet('{m}h', { f1: 'v1', f2: 'v2' });
  await r3.sAdd('{m}s', 'x');
  await r3.zAdd('{m}z', { score: 1.5, value: 'm' });
  const [map, set, score, float, missing] = await r3.multi()
    .hGetAll('{m}h')
    .sMembers('{m}s')
    .zScore('{m}z', 'm')
    .incrByFloat('{m}f', 0.5)
    .get('{m}none')
    .exec();
  t.false(Array.isArray(map), 'HGETALL inside EXEC is a RESP3 map, not a flat array');
  t.deepEqual({ ...(map as unknown as Record<string, string>) }, { f1: 'v1', f2: 'v2' });
  t.deepEqual([...(set as unknown as string[])], ['x']);
  t.is(score as unknown, 1.5, 'ZSCORE inside EXEC is a RESP3 double');
  t.is(float as unknown, '0.5');
  t.is(missing as unknown, null);
  // WATCH conflict: EXEC answers null.
  const watcher = await resp3Client(t, kv.port);
  await watcher.watch('{m}f');
  await pusher.set('{m}f', '9');
  await t.throwsAsync(watcher.multi().incr('{m}f').exec(), { message: /WATCH|aborted/i });
});
