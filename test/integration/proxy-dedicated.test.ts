/**
 * Transactions, blocking commands, WAIT and CLIENT KILL/UNBLOCK through the proxy, against real
 * redis-servers (src/proxy/dedicated/): replies byte for byte as a direct redis-server gives
 * them, Redis Cluster's CROSSSLOT/EXECABORT rules, and the dedicated connections coming back.
 */
import test, { ExecutionContext } from 'ava';
import { startProxy } from '../helpers/proxy';
import { startRedis } from '../helpers/redis';
import { RawClient, encodeCommand } from '../helpers/raw';
import { specKeySlot } from '../helpers/specSlot';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Backend connections a redis-server has (CLIENT LIST lines), minus the asking one. */
async function connectionCount(port: number): Promise<number> {
  const c = await RawClient.connect(port);
  const reply = (await c.call('CLIENT', 'LIST')).toString('latin1');
  c.close();
  return reply.split('\n').filter((l) => l.startsWith('id=') || l.includes(' id=')).length - 1;
}

async function eventually(check: () => Promise<boolean>, ms = 3000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(25);
  }
  return check();
}

test('XREAD BLOCK on a shard no longer delays other clients of that shard (reply order)', async (t) => {
  const kv = await startProxy(t, { shards: 2 });
  const blocker = await RawClient.connect(kv.port);
  const other = await RawClient.connect(kv.port);
  t.teardown(() => { blocker.close(); other.close(); });
  const order: string[] = [];
  const started = Date.now();
  blocker.write(encodeCommand(['XREAD', 'BLOCK', '1500', 'STREAMS', '{st}s', '$']));
  const blocked = blocker.reply(5000).then((r) => { order.push('xread'); return r; });
  await sleep(50);
  const getStart = Date.now();
  const got = await other.call('GET', '{st}k');
  const getMs = Date.now() - getStart;
  order.push('get');
  t.deepEqual(got, Buffer.from('$-1\r\n'));
  t.deepEqual(await blocked, Buffer.from('*-1\r\n'));
  t.deepEqual(order, ['get', 'xread']);
  t.true(Date.now() - started >= 1450, 'XREAD BLOCK waited for its own timeout');
  // XREADGROUP ... BLOCK too
  t.deepEqual(await other.call('XGROUP', 'CREATE', '{st}s', 'g', '$', 'MKSTREAM'), Buffer.from('+OK\r\n'));
  blocker.write(encodeCommand(['XREADGROUP', 'GROUP', 'g', 'c', 'BLOCK', '800', 'STREAMS', '{st}s', '>']));
  const blocked2 = blocker.reply(5000).then((r) => { order.push('xreadgroup'); return r; });
  await sleep(50);
  t.deepEqual(await other.call('SET', '{st}k', 'v'), Buffer.from('+OK\r\n'));
  order.push('set');
  t.deepEqual(await blocked2, Buffer.from('*-1\r\n'));
  t.deepEqual(order.slice(2), ['set', 'xreadgroup']);
  t.log(`GET on the shard of a client in XREAD BLOCK 1500: ${getMs} ms (was ~1500 ms on the shared connection)`);
});

/** One session of commands; each reply must be byte-identical direct and through the proxy. */
const SAME_SLOT_SESSION: string[][] = [
  ['MULTI'], ['SET', '{u}a', '1'], ['INCR', '{u}a'], ['GET', '{u}a'], ['PING'], ['ECHO', 'x'], ['LPUSH', '{u}l', 'x', 'y'], ['EXEC'],
  ['MULTI'], ['PING'], ['EXEC'],
  ['MULTI'], ['EXEC'],
  ['MULTI'], ['MULTI'], ['WATCH', '{u}a'], ['SET', '{u}a'], ['NOSUCHCMD', 'x'], ['GET', '{u}a'], ['EXEC'],
  ['EXEC'], ['DISCARD'], ['UNWATCH'],
  ['MULTI'], ['SET', '{u}a', '5'], ['DISCARD'], ['GET', '{u}a'],
  ['MULTI'], ['HSET', '{u}a', 'f', 'v'], ['INCR', '{u}a'], ['LRANGE', '{u}l', '0', '-1'], ['EXEC'],
  ['WATCH', '{u}a', '{u}b'], ['GET', '{u}a'], ['MULTI'], ['INCR', '{u}a'], ['EXEC'],
  ['WATCH', '{u}a'], ['UNWATCH'], ['MULTI'], ['INCRBY', '{u}a', '10'], ['EXEC'],
  ['WATCH', '{u}a'], ['SET', '{u}a', 'mine'], ['MULTI'], ['GET', '{u}a'], ['EXEC'],
  ['MULTI'], ['BLPOP', '{u}empty', '0'], ['BRPOPLPUSH', '{u}l', '{u}l2', '0'], ['XREAD', 'BLOCK', '0', 'STREAMS', '{u}s', '0'], ['EXEC'],
  ['MULTI'], ['MSET', '{u}m1', '1', '{u}m2', '2'], ['MGET', '{u}m1', '{u}m2'], ['DEL', '{u}m1', '{u}m2'], ['EXEC'],
  ['MULTI'], ['SET', '{u}r', '1'], ['RESET'], ['EXEC'], ['GET', '{u}r'],
  ['BLPOP', '{u}l', '0'], ['BLPOP', '{u}empty', '0.2'], ['LPUSH', '{u}empty', 'late'], ['BLMOVE', '{u}empty', '{u}l', 'LEFT', 'RIGHT', '0'],
  ['BZPOPMIN', '{u}z', '0.1'], ['ZADD', '{u}z', '1', 'one'], ['BZPOPMAX', '{u}z', '0'], ['BLMPOP', '0.1', '2', '{u}l', '{u}l2', 'LEFT'],
  ['BZMPOP', '0.1', '1', '{u}z', 'MIN'], ['BLPOP', '{u}q', 'x'], ['BLPOP', '{u}q', '-1'],
  ['XREAD', 'BLOCK', 'x', 'STREAMS', '{u}s', '0'], ['XADD', '{u}s', '1-1', 'f', 'v'], ['XREAD', 'BLOCK', '0', 'STREAMS', '{u}s', '0'],
  ['XREAD', 'BLOCK', '20', 'STREAMS', '{u}s', '$'],
  // replies whose shape differs in RESP3 (maps, sets, doubles, nulls) inside EXEC, and queued proxy-answered commands
  ['HSET', '{u}h', 'f', 'v', 'g', 'w'], ['SADD', '{u}set', 'a'], ['ZADD', '{u}zz', '1.5', 'm'],
  ['MULTI'], ['HGETALL', '{u}h'], ['SMEMBERS', '{u}set'], ['ZSCORE', '{u}zz', 'm'], ['INCRBYFLOAT', '{u}f', '1.25'], ['GET', '{u}none'],
  ['HRANDFIELD', '{u}none'], ['ZRANGE', '{u}zz', '0', '-1', 'WITHSCORES'], ['EXEC'],
  ['MULTI'], ['PING'], ['ECHO', 'x'], ['SELECT', '0'], ['COMMAND', 'COUNT'], ['EXEC'],
  ['WATCH', '{u}h'], ['HSET', '{u}h', 'f', 'changed'], ['MULTI'], ['HGETALL', '{u}h'], ['EXEC'],
  ['WAIT', '0', '0'], ['WAIT', '1', '20'],
];

/** HELLO's reply but for the connection id (the proxy's own). */
const noId = (r: Buffer) => r.toString('latin1').replace(/\$2\r\nid\r\n:\d+\r\n/, '');
/** The same for every HELLO reply in it (EXEC's of a transaction with several). */
const noIds = (r: Buffer) => r.toString('latin1').replace(/\$2\r\nid\r\n:\d+\r\n/g, '');

for (const proto of [2, 3] as const) {
test(`same-slot transactions and blocking commands: every reply byte for byte as a direct redis-server (RESP${proto})`, async (t) => {
  const kv = await startProxy(t, { shards: 3 });
  const direct = await startRedis();
  t.teardown(() => direct.kill());
  const a = await RawClient.connect(direct.port);
  const b = await RawClient.connect(kv.port);
  t.teardown(() => { a.close(); b.close(); });
  if (proto === 3) t.is(noId(await b.call('HELLO', '3')), noId(await a.call('HELLO', '3')));
  for (const cmd of SAME_SLOT_SESSION) {
    const expected = await a.call(...cmd);
    const got = await b.call(...cmd);
    t.is(got.toString('latin1'), expected.toString('latin1'), cmd.join(' '));
  }
  // Pipelined: everything after a blocking command runs after it, in order (as on Redis).
  const pipeline = [['BLPOP', '{u}p', '0.3'], ['LPUSH', '{u}p', 'a'], ['LLEN', '{u}p'], ['MULTI'], ['RPOP', '{u}p'], ['EXEC'], ['PING']];
  const bytes = Buffer.concat(pipeline.map((c) => encodeCommand(c)));
  const started = Date.now();
  a.write(bytes);
  b.write(bytes);
  const expected = await a.replies(pipeline.length);
  const got = await b.replies(pipeline.length);
  t.true(Date.now() - started >= 290, 'BLPOP kept its 0.3 s timeout');
  t.deepEqual(got.map((r) => r.toString('latin1')), expected.map((r) => r.toString('latin1')));
});

test(`blocked clients woken by another client, or by CLIENT UNBLOCK: byte for byte as a direct redis-server (RESP${proto})`, async (t) => {
  const kv = await startProxy(t, { shards: 3 });
  const direct = await startRedis();
  t.teardown(() => direct.kill());
  const sides = await Promise.all([direct.port, kv.port].map(async (port) => {
    const blocked = await RawClient.connect(port);
    const other = await RawClient.connect(port);
    t.teardown(() => { blocked.close(); other.close(); });
    if (proto === 3) await blocked.call('HELLO', '3');
    const id = (await blocked.call('CLIENT', 'ID')).toString().slice(1, -2);
    return { blocked, other, id };
  }));
  /** Block with `cmd` on both sides, then run `wake` from the other connection; the blocked replies must be equal. */
  const wokenBy = async (cmd: string[], wake: (s: (typeof sides)[number]) => string[]) => {
    const replies = sides.map((s) => {
      s.blocked.write(encodeCommand(cmd));
      return s.blocked.reply(5000);
    });
    await sleep(100);
    const wakes = await Promise.all(sides.map((s) => s.other.call(...wake(s))));
    t.is(wakes[1].toString('latin1'), wakes[0].toString('latin1'), wake(sides[0]).join(' '));
    const [want, got] = await Promise.all(replies);
    t.is(got.toString('latin1'), want.toString('latin1'), `${cmd.join(' ')} woken by ${wake(sides[0])[0]}`);
    return got.toString('latin1');
  };
  t.is(await wokenBy(['BLPOP', '{w}l', '0'], () => ['RPUSH', '{w}l', 'x']), '*2\r\n$4\r\n{w}l\r\n$1\r\nx\r\n');
  t.is(await wokenBy(['BZPOPMIN', '{w}z', '0'], () => ['ZADD', '{w}z', '2.5', 'm']), proto === 3 ? '*3\r\n$4\r\n{w}z\r\n$1\r\nm\r\n,2.5\r\n' : '*3\r\n$4\r\n{w}z\r\n$1\r\nm\r\n$3\r\n2.5\r\n');
  t.regex(await wokenBy(['XREAD', 'BLOCK', '0', 'STREAMS', '{w}s', '$'], () => ['XADD', '{w}s', '1-1', 'f', 'v']), proto === 3 ? /^%1\r\n/ : /^\*1\r\n/);
  t.is(await wokenBy(['BLPOP', '{w}l', '0'], (s) => ['CLIENT', 'UNBLOCK', s.id]), proto === 3 ? '_\r\n' : '*-1\r\n');
  t.is(await wokenBy(['BLMOVE', '{w}l', '{w}m', 'LEFT', 'RIGHT', '0'], (s) => ['CLIENT', 'UNBLOCK', s.id, 'ERROR']), '-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n');
  t.is(await wokenBy(['XREAD', 'BLOCK', '0', 'STREAMS', '{w}s', '$'], (s) => ['CLIENT', 'UNBLOCK', s.id]), proto === 3 ? '_\r\n' : '*-1\r\n');
});
}

test('a client switching HELLO 2 / HELLO 3 between commands, holding a WATCH connection or not: byte for byte as a direct redis-server; the pool keeps each protocol apart', async (t) => {
  const kv = await startProxy(t, { shards: 2, config: { dedicated: { idlePerShard: 1 } } });
  const direct = await startRedis();
  t.teardown(() => direct.kill());
  const a = await RawClient.connect(direct.port);
  const b = await RawClient.connect(kv.port);
  t.teardown(() => { a.close(); b.close(); });
  const session: string[][] = [
    ['HSET', '{p}h', 'f', 'v'], ['HELLO', '3'], ['BLPOP', '{p}l', '0.01'], ['HELLO', '2'], ['BLPOP', '{p}l', '0.01'],
    ['WATCH', '{p}h'], ['HGETALL', '{p}h'], ['HELLO', '3'], ['HGETALL', '{p}h'], ['GET', '{p}none'], ['MULTI'], ['HGETALL', '{p}h'], ['ZSCORE', '{p}none', 'm'], ['EXEC'],
    ['WATCH', '{p}h'], ['HELLO', '2'], ['MULTI'], ['HGETALL', '{p}h'], ['GET', '{p}none'], ['EXEC'],
    ['HELLO', '3'], ['WATCH', '{p}h'], ['HELLO', '2'], ['UNWATCH'], ['HELLO', '3'], ['MULTI'], ['HGETALL', '{p}h'], ['EXEC'],
    ['MULTI'], ['HELLO', '2'], ['EXEC'],
    ['WATCH', '{p}h'], ['HELLO', '2'], ['HSET', '{p}h', 'f', 'w'], ['MULTI'], ['HGETALL', '{p}h'], ['EXEC'],
    ['BLPOP', '{p}l', '0.01'], ['HELLO', '3'], ['BLPOP', '{p}l', '0.01'], ['RESET'], ['BLPOP', '{p}l', '0.01'],
  ];
  // HELLO inside MULTI is queued and switches at EXEC, as on Redis (src/proxy/dedicated/helloInMulti.ts).
  for (const cmd of session) {
    const [want, got] = [await a.call(...cmd), await b.call(...cmd)];
    t.is(noIds(got), noIds(want), cmd.join(' '));
  }
  // Every connection in the pool speaks the protocol it is filed under: a RESP2 client after all
  // this gets RESP2 from transactions and blocking commands on every shard, and a RESP3 one RESP3.
  const r2 = await RawClient.connect(kv.port);
  const r3 = await RawClient.connect(kv.port);
  t.teardown(() => { r2.close(); r3.close(); });
  await r3.call('HELLO', '3');
  for (const key of ['{p}l', '{q}l', '{r}l', '{s}l']) {
    t.is((await r2.call('BLPOP', key, '0.01')).toString(), '*-1\r\n', key);
    t.is((await r3.call('BLPOP', key, '0.01')).toString(), '_\r\n', key);
    await r2.call('MULTI');
    await r2.call('GET', key);
    t.is((await r2.call('EXEC')).toString(), '*1\r\n$-1\r\n', key);
    await r3.call('MULTI');
    await r3.call('GET', key);
    t.is((await r3.call('EXEC')).toString(), '*1\r\n_\r\n', key);
  }
});

test('HELLO inside MULTI: +QUEUED, run at EXEC in its place (errors as elements), the replies after it and after EXEC in its protocol; a failed WATCH or DISCARD switches nothing; byte for byte as a direct redis-server', async (t) => {
  const kv = await startProxy(t, { shards: 2, config: { dedicated: { idlePerShard: 1 } } });
  const direct = await startRedis();
  t.teardown(() => direct.kill());
  const sides = await Promise.all([direct.port, kv.port].map(async (port) => {
    const c = await RawClient.connect(port);
    const other = await RawClient.connect(port);
    t.teardown(() => { c.close(); other.close(); });
    return { c, other };
  }));
  const both = async (cmd: string[], who: 'c' | 'other' = 'c') => {
    const [want, got] = [await sides[0][who].call(...cmd), await sides[1][who].call(...cmd)];
    t.is(noIds(got), noIds(want), cmd.join(' '));
    return got.toString('latin1');
  };
  await both(['HSET', '{h}h', 'f', 'v']);
  // A key chose the shard before HELLO; RESP2 → RESP3 in the middle of EXEC's array.
  for (const cmd of [['MULTI'], ['HGETALL', '{h}h'], ['HELLO', '3'], ['HGETALL', '{h}h'], ['GET', '{h}none']]) await both(cmd);
  t.regex(await both(['EXEC']), /^\*4\r\n\*2\r\n\$1\r\nf\r\n\$1\r\nv\r\n%7\r\n.*%1\r\n\$1\r\nf\r\n\$1\r\nv\r\n_\r\n$/s);
  t.is(await both(['GET', '{h}none']), '_\r\n', 'RESP3 after EXEC');
  t.is(await both(['BLPOP', '{h}l', '0.01']), '_\r\n', 'and on a dedicated connection');
  // HELLO before any key (kept by the proxy until a key chooses the shard), then errors as elements.
  for (const cmd of [['MULTI'], ['HELLO', '2'], ['HELLO', '4'], ['HELLO', '3', 'SETNAME', 'bad name'], ['HELLO', 'x'], ['HELLO', '3', 'NOSUCHOPT'], ['HELLO', '2', 'SETNAME', 'named'], ['HGETALL', '{h}h']]) await both(cmd);
  await both(['EXEC']);
  t.is(await both(['CLIENT', 'GETNAME']), '$5\r\nnamed\r\n', 'SETNAME applied at EXEC');
  t.is(await both(['GET', '{h}none']), '$-1\r\n', 'RESP2 after EXEC');
  // No key at all: the transaction runs on the keyless shard at EXEC; two HELLOs, the last wins.
  for (const cmd of [['MULTI'], ['HELLO', '3'], ['PING'], ['HELLO', '2'], ['ECHO', 'x'], ['HELLO', '3', 'AUTH', 'default', 'any'], ['EXEC']]) await both(cmd);
  t.is(await both(['GET', '{h}none']), '_\r\n');
  // A failed WATCH runs nothing: no switch.
  await both(['WATCH', '{h}h']);
  await both(['HSET', '{h}h', 'f', 'changed'], 'other');
  for (const cmd of [['MULTI'], ['HELLO', '2'], ['GET', '{h}none']]) await both(cmd);
  t.is(await both(['EXEC']), '_\r\n', 'RESP3 null: the transaction did not run');
  t.is(await both(['GET', '{h}none']), '_\r\n', 'still RESP3');
  // DISCARD, RESET: nothing switches either.
  for (const cmd of [['MULTI'], ['HELLO', '2'], ['DISCARD'], ['GET', '{h}none']]) await both(cmd);
  // A queue-time error aborts the transaction: HELLO does not run.
  for (const cmd of [['MULTI'], ['HELLO', '2'], ['GET'], ['EXEC'], ['GET', '{h}none']]) await both(cmd);
  t.regex(await both(['HELLO']), /^%7\r\n/, 'HELLO with no version: still RESP3');
  // CLIENT LIST of a client in MULTI with HELLO queued: multi= counts it, as Redis.
  for (const cmd of [['MULTI'], ['HELLO', '2'], ['GET', '{h}k']]) await both(cmd);
  const multiField = async (s: (typeof sides)[number]) => /multi=(-?\d+)/.exec((await s.other.call('CLIENT', 'LIST')).toString().split('\n').find((l) => / flags=x /.test(l)) ?? '')?.[1];
  t.is(await multiField(sides[1]), await multiField(sides[0]));
  t.is(await multiField(sides[1]), '2');
  await both(['EXEC']);
  t.is(await both(['GET', '{h}none']), '$-1\r\n');
  // Every pooled connection speaks the protocol it is filed under.
  const r2 = await RawClient.connect(kv.port);
  const r3 = await RawClient.connect(kv.port);
  t.teardown(() => { r2.close(); r3.close(); });
  await r3.call('HELLO', '3');
  for (const key of ['{h}l', '{p}l', '{q}l', '{r}l']) {
    t.is((await r2.call('BLPOP', key, '0.01')).toString(), '*-1\r\n', key);
    t.is((await r3.call('BLPOP', key, '0.01')).toString(), '_\r\n', key);
  }
});

test('CROSSSLOT at queue time, then EXECABORT; nothing of the transaction runs', async (t) => {
  const kv = await startProxy(t, { shards: 3 });
  const c = await RawClient.connect(kv.port);
  t.teardown(() => c.close());
  t.is(specKeySlot(Buffer.from('a')) === specKeySlot(Buffer.from('b')), false);
  t.is((await c.call('MULTI')).toString(), '+OK\r\n');
  t.is((await c.call('SET', 'a', '1')).toString(), '+QUEUED\r\n');
  t.is((await c.call('SET', 'b', '2')).toString(), "-CROSSSLOT Keys in request don't hash to the same slot\r\n");
  t.is((await c.call('MGET', 'a', 'b')).toString(), "-CROSSSLOT Keys in request don't hash to the same slot\r\n");
  t.is((await c.call('DBSIZE')).toString(), '-ERR Kvstore does not support DBSIZE inside a transaction: the proxy answers it (from every shard or for the proxy connection), no single shard can queue it\r\n');
  t.is((await c.call('EXEC')).toString(), '-EXECABORT Transaction discarded because of previous errors.\r\n');
  t.is((await c.call('GET', 'a')).toString(), '$-1\r\n');
  // WATCH keys must share the transaction's slot too.
  t.is((await c.call('WATCH', 'a', 'b')).toString(), "-CROSSSLOT Keys in request don't hash to the same slot\r\n");
  t.is((await c.call('WATCH', 'a')).toString(), '+OK\r\n');
  t.is((await c.call('MULTI')).toString(), '+OK\r\n');
  t.is((await c.call('SET', 'b', '1')).toString(), "-CROSSSLOT Keys in request don't hash to the same slot\r\n");
  t.is((await c.call('EXEC')).toString(), '-EXECABORT Transaction discarded because of previous errors.\r\n');
  // The keyless commands queued before the first key go to that key's shard.
  t.is((await c.call('MULTI')).toString(), '+OK\r\n');
  t.is((await c.call('PING')).toString(), '+QUEUED\r\n');
  t.is((await c.call('SET', 'b', 'x')).toString(), '+QUEUED\r\n');
  t.is((await c.call('EXEC')).toString(), '*2\r\n+PONG\r\n+OK\r\n');
});

test('crossSlot: shard lets a transaction use several slots of one shard', async (t) => {
  const kv = await startProxy(t, { shards: 1, config: { crossSlot: 'shard' } });
  const c = await RawClient.connect(kv.port);
  t.teardown(() => c.close());
  t.is((await c.call('MULTI')).toString(), '+OK\r\n');
  t.is((await c.call('SET', 'a', '1')).toString(), '+QUEUED\r\n');
  t.is((await c.call('SET', 'b', '2')).toString(), '+QUEUED\r\n');
  t.is((await c.call('EXEC')).toString(), '*2\r\n+OK\r\n+OK\r\n');
});

test('WATCH conflict from another client through the proxy: EXEC answers nil', async (t) => {
  const kv = await startProxy(t, { shards: 3 });
  const c1 = await RawClient.connect(kv.port);
  const c2 = await RawClient.connect(kv.port);
  t.teardown(() => { c1.close(); c2.close(); });
  t.is((await c1.call('SET', 'wk', '0')).toString(), '+OK\r\n');
  t.is((await c1.call('WATCH', 'wk')).toString(), '+OK\r\n');
  t.is((await c2.call('SET', 'wk', 'other')).toString(), '+OK\r\n');
  t.is((await c1.call('MULTI')).toString(), '+OK\r\n');
  t.is((await c1.call('SET', 'wk', 'mine')).toString(), '+QUEUED\r\n');
  t.is((await c1.call('EXEC')).toString(), '*-1\r\n');
  t.is((await c1.call('GET', 'wk')).toString(), '$5\r\nother\r\n');
  // Without a conflict the same transaction runs.
  t.is((await c1.call('WATCH', 'wk')).toString(), '+OK\r\n');
  t.is((await c1.call('MULTI')).toString(), '+OK\r\n');
  t.is((await c1.call('SET', 'wk', 'mine')).toString(), '+QUEUED\r\n');
  t.is((await c1.call('EXEC')).toString(), '*1\r\n+OK\r\n');
});

test('a BLPOP blocked through the proxy is woken by an LPUSH from another client', async (t) => {
  const kv = await startProxy(t, { shards: 3 });
  const c1 = await RawClient.connect(kv.port);
  const c2 = await RawClient.connect(kv.port);
  t.teardown(() => { c1.close(); c2.close(); });
  c1.write(encodeCommand(['BLPOP', 'jobs', '0']));
  const reply = c1.reply(5000);
  await sleep(100);
  t.is((await c2.call('LPUSH', 'jobs', 'job1')).toString(), ':1\r\n');
  t.is((await reply).toString(), '*2\r\n$4\r\njobs\r\n$4\r\njob1\r\n');
  // Timeouts are Redis's own: 0.3 s → nil after 0.3 s.
  const started = Date.now();
  t.is((await c1.call('BRPOP', 'jobs', '0.3')).toString(), '*-1\r\n');
  t.true(Date.now() - started >= 290, 'BRPOP kept its 0.3 s timeout');
});

test('a client that disconnects while blocked releases its backend connection', async (t) => {
  const kv = await startProxy(t, { shards: 1 });
  const port = kv.redis[0].port;
  const warm = await RawClient.connect(kv.port);
  t.teardown(() => warm.close());
  await warm.call('GET', 'x'); // the shared connection exists
  await sleep(200); // the idle dedicated connections are up
  const baseline = await connectionCount(port);
  const clients = await Promise.all(Array.from({ length: 5 }, () => RawClient.connect(kv.port)));
  for (const c of clients) c.write(encodeCommand(['BLPOP', 'nothing', '0']));
  t.true(await eventually(async () => (await connectionCount(port)) >= baseline + 5), 'five blocked connections');
  for (const c of clients) c.close();
  const back = await eventually(async () => (await connectionCount(port)) === baseline);
  t.true(back, `back to the baseline ${baseline}: ${await connectionCount(port)}`);
  t.log(`backend connections: baseline ${baseline}, back to ${await connectionCount(port)}`);
  // Nothing is left blocked on the server either.
  const info = (await (await RawClient.connect(port)).call('INFO', 'clients')).toString();
  t.regex(info, /blocked_clients:0/);
});

test('CLIENT UNBLOCK and CLIENT KILL act on the proxy\'s own clients', async (t) => {
  const kv = await startProxy(t, { shards: 2 });
  const blocked = await RawClient.connect(kv.port);
  const admin = await RawClient.connect(kv.port);
  t.teardown(() => { blocked.close(); admin.close(); });
  const id = (await blocked.call('CLIENT', 'ID')).toString().slice(1, -2);
  blocked.write(encodeCommand(['BLPOP', 'q', '0']));
  const r1 = blocked.reply(5000);
  await sleep(100);
  t.is((await admin.call('CLIENT', 'UNBLOCK', id)).toString(), ':1\r\n');
  t.is((await r1).toString(), '*-1\r\n');
  t.is((await admin.call('CLIENT', 'UNBLOCK', id)).toString(), ':0\r\n');
  blocked.write(encodeCommand(['BLPOP', 'q', '0']));
  const r2 = blocked.reply(5000);
  await sleep(100);
  t.is((await admin.call('CLIENT', 'UNBLOCK', id, 'ERROR')).toString(), ':1\r\n');
  t.is((await r2).toString(), '-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n');
  t.is((await admin.call('CLIENT', 'UNBLOCK', id, 'FOO')).toString(), '-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n');
  t.is((await admin.call('CLIENT', 'UNBLOCK', 'x')).toString(), '-ERR value is not an integer or out of range\r\n');
  t.is((await admin.call('CLIENT', 'KILL', 'ID', '0')).toString(), '-ERR client-id should be greater than 0\r\n');
  t.is((await admin.call('CLIENT', 'KILL', 'TYPE', 'foo')).toString(), "-ERR Unknown client type 'foo'\r\n");
  t.is((await admin.call('CLIENT', 'KILL', '1.2.3.4:5')).toString(), '-ERR No such client\r\n');
  t.is((await admin.call('CLIENT', 'KILL', 'ID', '999999')).toString(), ':0\r\n');
  blocked.write(encodeCommand(['BLPOP', 'q', '0']));
  await sleep(100);
  t.is((await admin.call('CLIENT', 'KILL', 'ID', id)).toString(), ':1\r\n');
  t.true(await blocked.closesWithin(2000));
  const total = async () => (await connectionCount(kv.redis[0].port)) + (await connectionCount(kv.redis[1].port));
  const ok = await eventually(async () => (await total()) <= 6);
  t.true(ok, `its dedicated connection is closed (backend connections: ${await total()}, expected 2 shared + 2 x 2 idle)`);
});

test('dedicated connection limits answer -ERR at once, never a stall', async (t) => {
  const kv = await startProxy(t, { shards: 1, config: { dedicated: { maxConnections: 2, maxPerClient: 1, idlePerShard: 1 } } });
  const cs = await Promise.all(Array.from({ length: 3 }, () => RawClient.connect(kv.port)));
  t.teardown(() => cs.forEach((c) => c.close()));
  cs[0].write(encodeCommand(['BLPOP', 'l1', '0']));
  cs[1].write(encodeCommand(['BLPOP', 'l2', '0']));
  await sleep(100);
  t.regex((await cs[2].call('BLPOP', 'l3', '0')).toString(), /^-ERR Kvstore: every dedicated backend connection of this worker is in use \(dedicated.maxConnections = 2\)/);
  t.is((await cs[2].call('LPUSH', 'l1', 'v')).toString(), ':1\r\n');
  t.is((await cs[0].reply()).toString(), '*2\r\n$2\r\nl1\r\n$1\r\nv\r\n');
  // Per client: WATCH holds one, a blocking command on another shard would need a second.
  t.is((await cs[0].call('WATCH', 'l1')).toString(), '+OK\r\n');
  t.is((await cs[0].call('BLPOP', 'l1', '0.1')).toString(), '*-1\r\n'); // same shard: the WATCH connection
});

/**
 * On shard 0 (slots 0..8191): client `c` inside MULTI with a SET queued, client `b` blocked in
 * BLPOP (its reply pending).
 */
async function transactionAndBlockedOnShard0(t: ExecutionContext, port: number): Promise<{ c: RawClient; key: string; blockedReply: Promise<Buffer> }> {
  const c = await RawClient.connect(port);
  const b = await RawClient.connect(port);
  t.teardown(() => { c.close(); b.close(); });
  const key = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].find((k) => specKeySlot(Buffer.from(k)) < 8192)!;
  t.is((await c.call('MULTI')).toString(), '+OK\r\n');
  t.is((await c.call('SET', key, '1')).toString(), '+QUEUED\r\n');
  b.write(encodeCommand(['BLPOP', `{${key}}q`, '0']));
  const blockedReply = b.reply(5000);
  await sleep(100);
  return { c, key, blockedReply };
}

test('a shard that fails mid-transaction or while clients are blocked: clear errors, no hang', async (t) => {
  const kv = await startProxy(t, { shards: 2 });
  const { c, blockedReply } = await transactionAndBlockedOnShard0(t, kv.port);
  await kv.redis[0].kill();
  t.regex((await blockedReply).toString(), /^-ERR Kvstore: shard 's0' \(127\.0\.0\.1:\d+\) connection/);
  t.regex((await c.call('EXEC')).toString(), /^-EXECABORT Transaction discarded: the dedicated connection failed before EXEC \(/);
});

test('WAIT counts the replicas that acknowledged this client\'s writes (store mode, one replica)', async (t) => {
  const master = await startRedis();
  const replica = await startRedis({ args: ['--replicaof', '127.0.0.1', '0'] });
  t.teardown(async () => { await replica.kill(); await master.kill(); });
  const rc = await RawClient.connect(replica.port);
  await rc.call('REPLICAOF', '127.0.0.1', String(master.port));
  t.true(await eventually(async () => /master_link_status:up/.test((await rc.call('INFO', 'replication')).toString()), 15000), 'the replica is in sync');
  rc.close();
  // WAIT 0 0 counts the replicas the master has online; the replica says `up` a little earlier.
  const mc = await RawClient.connect(master.port);
  t.true(await eventually(async () => /slave0:.*state=online/.test((await mc.call('INFO', 'replication')).toString()), 15000), 'the master has the replica online');
  mc.close();
  const kv = await startProxy(t, { servers: [master], config: { mode: 'store' } });
  const c = await RawClient.connect(kv.port);
  t.teardown(() => c.close());
  t.is((await c.call('WAIT', '0', '0')).toString(), ':1\r\n', 'no write yet: the connected replicas');
  t.is((await c.call('SET', 'k', 'v')).toString(), '+OK\r\n');
  const started = Date.now();
  t.is((await c.call('WAIT', '1', '2000')).toString(), ':1\r\n');
  t.log(`WAIT 1 2000 after a SET: ${Date.now() - started} ms`);
  t.is((await c.call('SET', 'k', 'w')).toString(), '+OK\r\n');
  const s2 = Date.now();
  t.is((await c.call('WAIT', '2', '300')).toString(), ':1\r\n', 'only one replica: times out with 1');
  const waited = Date.now() - s2;
  t.true(waited >= 290, `WAIT 2 300 kept its timeout (${waited} ms)`);
  t.is((await c.call('WAIT', 'x', '0')).toString(), '-ERR value is not an integer or out of range\r\n');
  t.is((await c.call('WAIT', '0', '-1')).toString(), '-ERR timeout is negative\r\n');
  t.is((await c.call('WAIT', '0', '1.5')).toString(), '-ERR timeout is not an integer or out of range\r\n');
});

test('key rewrite applies inside transactions, WATCH and blocking commands', async (t) => {
  const kv = await startProxy(t, { shards: 3 });
  const c = await RawClient.connect(kv.port);
  const other = await RawClient.connect(kv.port);
  t.teardown(() => { c.close(); other.close(); });
  t.is((await c.call('SET', 'user:{1}:a', 'old')).toString(), '+OK\r\n');
  kv.proxy.applyTopology({ ...kv.topology, epoch: 2, keyRewrite: [{ pattern: 'user:*', generation: 2 }] });
  t.is((await c.call('WATCH', 'user:{1}:a')).toString(), '+OK\r\n');
  t.is((await c.call('MULTI')).toString(), '+OK\r\n');
  t.is((await c.call('GET', 'user:{1}:a')).toString(), '+QUEUED\r\n');
  t.is((await c.call('SET', 'user:{1}:a', 'new')).toString(), '+QUEUED\r\n');
  t.is((await c.call('RPUSH', 'user:{1}:q', 'job')).toString(), '+QUEUED\r\n');
  t.is((await c.call('EXEC')).toString(), '*3\r\n$-1\r\n+OK\r\n:1\r\n', 'the old value is hidden by the rule');
  t.is((await other.call('GET', 'user:{1}:a')).toString(), '$3\r\nnew\r\n');
  // BLPOP's reply names the key as the client wrote it.
  t.is((await c.call('BLPOP', 'user:{1}:q', '0')).toString(), '*2\r\n$10\r\nuser:{1}:q\r\n$3\r\njob\r\n');
  // The derived names live on the shard, under the reserved prefix.
  const shard = kv.redis.findIndex((_, i) => kv.topology.shards[i].slots.some(([a, b]) => specKeySlot(Buffer.from('1')) >= a && specKeySlot(Buffer.from('1')) <= b));
  const names = (await (await RawClient.connect(kv.redis[shard].port)).call('KEYS', '*')).toString('latin1');
  t.regex(names, /\xffkr:2\{[^}]*\}user:\{1\}:a/);
});

test('a slot that starts migrating while a client is blocked on it: -TRYAGAIN, never a hang', async (t) => {
  const kv = await startProxy(t, { shards: 2 });
  const c = await RawClient.connect(kv.port);
  t.teardown(() => c.close());
  const slot = specKeySlot(Buffer.from('mq'));
  const from = slot < 8192 ? 's0' : 's1';
  const to = from === 's0' ? 's1' : 's0';
  c.write(encodeCommand(['BLPOP', 'mq', '0']));
  const reply = c.reply(5000);
  await sleep(150);
  await kv.proxy.applyTopology({ ...kv.topology, epoch: 2, migrations: [{ first: slot, last: slot, from, to }] });
  t.is((await reply).toString(), `-TRYAGAIN Kvstore: slot ${slot} moved to another shard while the client was blocked; retry\r\n`);
  // The connection was unblocked cleanly and the client goes on.
  t.is((await c.call('PING')).toString(), '+PONG\r\n');
  t.is((await c.call('BLPOP', 'mq', '0')).toString(), '-TRYAGAIN Kvstore: a key of this command is in a slot being migrated; retry\r\n');
});

test('a shard whose master changes mid-transaction or while a client is blocked: EXECABORT / an error at once', async (t) => {
  const kv = await startProxy(t, { shards: 2 });
  const { c, key, blockedReply } = await transactionAndBlockedOnShard0(t, kv.port);
  // A failover: shard s0's master is now another server (here: a fresh one).
  const replacement = await startRedis();
  t.teardown(() => replacement.kill());
  const shards = kv.topology.shards.map((s, i) => (i === 0 ? { ...s, master: replacement.address } : s));
  await kv.proxy.applyTopology({ ...kv.topology, epoch: 2, shards });
  t.is((await blockedReply).toString(), `-ERR Kvstore: shard 's0' (${kv.redis[0].address}) master changed to ${replacement.address}: request aborted, retry\r\n`);
  t.is((await c.call('EXEC')).toString(), `-EXECABORT Transaction discarded: the dedicated connection failed before EXEC (master changed to ${replacement.address}: request aborted, retry); nothing was executed\r\n`);
  t.is((await c.call('GET', key)).toString(), '$-1\r\n', 'nothing ran, on either master');
  t.is((await (await RawClient.connect(kv.redis[0].port)).call('GET', key)).toString(), '$-1\r\n');
});
