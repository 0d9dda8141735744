/**
 * The shared control-connection client (src/resp/RespClient.ts) against real redis-servers:
 * commands and reply types, ordering while connecting, pipelines, raw replies, AUTH, timeouts on
 * a SIGSTOPped server (no late reply matched to a later command), reconnect or stay failed,
 * subscribe, close.
 */
import test from 'ava';
import { BackendError, RedisReplyError } from '../../src/errors';
import { oneShot, RespClient, RespValue } from '../../src/resp';
import { freePort } from '../helpers/ports';
import { startRedisGroup } from '../helpers/redis';

test('commands: reply types, error replies reject with RedisReplyError, lazy connect keeps order', async (t) => {
  const [redis] = await startRedisGroup(1, t.teardown);
  const c = new RespClient(redis.address);
  t.teardown(() => c.close());
  t.false(c.connected);
  // Issued before the connection exists: queued, then written in order.
  const incrs = Array.from({ length: 200 }, () => c.command(['INCR', 'n']));
  t.deepEqual(await Promise.all(incrs), Array.from({ length: 200 }, (_, i) => i + 1));
  t.true(c.connected);
  t.is(await c.command(['SET', 'k', Buffer.from([0, 13, 10, 255])]), 'OK');
  t.deepEqual(await c.command(['GET', 'k']), Buffer.from([0, 13, 10, 255]));
  t.is(await c.command(['GET', 'missing']), null);
  await c.command(['RPUSH', 'l', 'a', 'b']);
  t.deepEqual(await c.command(['LRANGE', 'l', 0, -1]), [Buffer.from('a'), Buffer.from('b')]);
  const err = await t.throwsAsync(c.command(['INCR', 'l']));
  t.true(err instanceof RedisReplyError);
  t.regex((err as RedisReplyError).reply, /^WRONGTYPE/);
  t.is((err as RedisReplyError).address, redis.address);
  t.is(await c.command(['PING']), 'PONG', 'the connection survives an error reply');
  // EXEC: an error inside the array is a value, not a rejection.
  await c.command(['MULTI']);
  await c.command(['INCR', 'l']);
  await c.command(['INCR', 'n']);
  const exec = (await c.command(['EXEC'])) as RespValue[];
  t.true(exec[0] instanceof RedisReplyError);
  t.is(exec[1], 201);

  const text = new RespClient(redis.address, { strings: true });
  t.teardown(() => text.close());
  t.deepEqual(await text.command(['LRANGE', 'l', 0, -1]), ['a', 'b']);
  t.is(await oneShot(redis.address, ['GET', 'n'], { strings: true }), '201');
});

test('pipeline: results in order with error replies as values; raw: the reply bytes', async (t) => {
  const [redis] = await startRedisGroup(1, t.teardown);
  const c = await RespClient.connect(redis.address);
  t.teardown(() => c.close());
  const results = await c.pipeline([['SET', 'a', '1'], ['INCR', 'a'], ['HGET', 'a', 'f'], ['GET', 'a'], ['DBSIZE']]);
  t.is(results[0], 'OK');
  t.is(results[1], 2);
  t.true(results[2] instanceof RedisReplyError);
  t.deepEqual(results[3], Buffer.from('2'));
  t.is(results[4], 1);
  const big = await c.pipeline(Array.from({ length: 5000 }, (_, i) => ['SET', `p${i}`, 'x'.repeat(100)]));
  t.true(big.every((r) => r === 'OK'));
  t.is(await c.command(['DBSIZE']), 5001);
  t.is((await c.raw(Buffer.from('*2\r\n$3\r\nGET\r\n$1\r\na\r\n'))).toString(), '$1\r\n2\r\n');
  t.is((await c.raw(Buffer.from('*1\r\n$4\r\nNOPE\r\n'))).toString().slice(0, 5), '-ERR ', 'an error reply resolves as bytes');
  t.deepEqual(await c.raw(Buffer.from('*4\r\n$6\r\nLRANGE\r\n$1\r\nz\r\n$1\r\n0\r\n$2\r\n-1\r\n')), Buffer.from('*0\r\n'));
});

test('AUTH: password and ACL user on every connection; a bad password fails connect', async (t) => {
  const [redis] = await startRedisGroup(1, t.teardown, { args: ['--requirepass', 'pw'] });
  const admin = await RespClient.connect(redis.address, { password: 'pw' });
  t.teardown(() => admin.close());
  await admin.command(['ACL', 'SETUSER', 'kv', 'on', '>pw2', '~*', '+@all']);
  const user = await RespClient.connect(redis.address, { username: 'kv', password: 'pw2' });
  t.teardown(() => user.close());
  t.deepEqual(await user.command(['ACL', 'WHOAMI']), Buffer.from('kv'));
  const wrong = await t.throwsAsync(RespClient.connect(redis.address, { username: 'kv', password: 'nope' }));
  t.true(wrong instanceof RedisReplyError);
  t.regex(wrong!.message, /WRONGPASS/);
  const anonymous = new RespClient(redis.address);
  t.teardown(() => anonymous.close());
  const noauth = await t.throwsAsync(anonymous.command(['GET', 'x']));
  t.regex(noauth!.message, /NOAUTH/);
  // Lazy connect with AUTH: commands queued behind AUTH, in order.
  const lazy = new RespClient(redis.address, { password: 'pw' });
  t.teardown(() => lazy.close());
  t.deepEqual(await Promise.all([lazy.command(['SET', 'q', '1']), lazy.command(['INCR', 'q'])]), ['OK', 2]);
});

test('timeout on a SIGSTOPped server: everything in flight fails at once, no late reply is matched later', async (t) => {
  const [redis] = await startRedisGroup(1, t.teardown);
  const child = redis.process();
  t.teardown(() => {
    child.kill('SIGCONT');
  });
  const c = await RespClient.connect(redis.address, { commandTimeoutMs: 400 });
  t.teardown(() => c.close());
  await c.command(['SET', 'k', 'old']);
  const closes: Error[] = [];
  c.on('close', (err: Error) => closes.push(err));
  child.kill('SIGSTOP');
  const started = Date.now();
  const stuck = [c.command(['GET', 'k']), c.command(['PING'], 5000), c.command(['DBSIZE'])];
  const errors = await Promise.all(stuck.map((p) => p.then(() => null, (e: Error) => e)));
  const elapsed = Date.now() - started;
  for (const e of errors) {
    t.true(e instanceof BackendError);
    t.regex(e!.message, /GET timed out after 400 ms/, 'all fail with the first timeout');
  }
  t.true(elapsed < 4000, `failed after ${elapsed} ms, not after the 5 s of the PING`);
  t.is(closes.length, 1);
  t.false(c.connected);
  t.false(c.isClosed, 'reconnects on the next command');
  child.kill('SIGCONT');
  // The stopped server now answers the old GET on the old (destroyed) socket; the new
  // connection must get its own replies.
  t.is(await c.command(['SET', 'k', 'new']), 'OK');
  t.deepEqual(await c.command(['GET', 'k']), Buffer.from('new'));
  t.is(await c.command(['PING']), 'PONG');

  // reconnect: false stays failed (as a control decision wants).
  const once = await RespClient.connect(redis.address, { commandTimeoutMs: 300, reconnect: false });
  t.teardown(() => once.close());
  child.kill('SIGSTOP');
  await t.throwsAsync(once.command(['PING']), { message: /timed out after 300 ms/ });
  child.kill('SIGCONT');
  t.true(once.isClosed);
  await t.throwsAsync(once.command(['PING']), { message: /connection closed/ });

  // Per-call timeout without a default one; connect (AUTH) times out on a stopped server too.
  const plain = await RespClient.connect(redis.address);
  t.teardown(() => plain.close());
  child.kill('SIGSTOP');
  await t.throwsAsync(plain.command(['PING'], 200), { message: /PING timed out after 200 ms/ });
  await t.throwsAsync(RespClient.connect(redis.address, { password: 'x', connectTimeoutMs: 300 }), { message: /connect timed out after 300 ms/ });
  child.kill('SIGCONT');
});

test('connection failures: refused, server killed mid-flight, close()', async (t) => {
  const refused = await t.throwsAsync(RespClient.connect(`127.0.0.1:${await freePort()}`, { connectTimeoutMs: 2000 }));
  t.true(refused instanceof BackendError);
  t.regex(refused!.message, /ECONNREFUSED/);
  await t.throwsAsync(RespClient.connect('no-port', {}), { code: 'E_ADDRESS' });

  const [redis] = await startRedisGroup(1, t.teardown);
  const c = await RespClient.connect(redis.address);
  const closed = new Promise<Error>((resolve) => c.once('close', resolve));
  const blocked = c.command(['BLPOP', 'nothing', 0]);
  await redis.kill();
  await t.throwsAsync(blocked, { instanceOf: BackendError });
  t.regex((await closed).message, /connection closed|ECONNRESET/);
  await redis.restart();
  t.is(await c.command(['PING']), 'PONG', 'reconnected');
  c.close();
  t.true(c.isClosed);
  await t.throwsAsync(c.command(['PING']), { message: /connection closed/ });
});

test('subscribe: published messages reach the handler; subscriptions are confirmed first', async (t) => {
  const [redis] = await startRedisGroup(1, t.teardown);
  const sub = await RespClient.connect(redis.address, { strings: true });
  t.teardown(() => sub.close());
  const got: Array<[string, string]> = [];
  let wake: () => void = () => undefined;
  await sub.subscribe(['a', 'b'], (channel, payload) => {
    got.push([channel, payload]);
    wake();
  });
  const pub = await RespClient.connect(redis.address);
  t.teardown(() => pub.close());
  t.is(await pub.command(['PUBLISH', 'a', 'one']), 1);
  t.is(await pub.command(['PUBLISH', 'b', 'two words']), 1);
  t.is(await pub.command(['PUBLISH', 'c', 'nobody']), 0);
  while (got.length < 2) await new Promise<void>((resolve) => (wake = resolve));
  t.deepEqual(got, [['a', 'one'], ['b', 'two words']]);
  // Buffers mode too: channel and payload arrive as text.
  const raw = await RespClient.connect(redis.address);
  t.teardown(() => raw.close());
  const seen = new Promise<[string, string]>((resolve) => void raw.subscribe(['z'], (ch, p) => resolve([ch, p])));
  while (Number(await pub.command(['PUBLISH', 'z', 'bin'])) === 0) await new Promise((r) => setTimeout(r, 20));
  t.deepEqual(await seen, ['z', 'bin']);
});
