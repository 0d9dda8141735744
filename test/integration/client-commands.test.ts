/**
 * CLIENT LIST / KILL / PAUSE over the proxy's own clients across the workers (`kvstore start`
 * with 2 workers: queries go through the primary to every worker).
 */
import test from 'ava';
import Redis from 'ioredis';
import { eventually, startKvstore } from '../helpers/kvstore';
import { RawClient } from '../helpers/raw';

function client(t: { teardown(fn: () => void): void }, port: number, name: string): Redis {
  const c = new Redis({ port, host: '127.0.0.1', connectionName: name, maxRetriesPerRequest: 0, retryStrategy: () => null });
  c.on('error', () => undefined);
  t.teardown(() => c.disconnect());
  return c;
}

function parseList(text: string): Record<string, string>[] {
  return text.trim().split('\n').filter(Boolean).map((line) => Object.fromEntries(line.split(' ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])));
}

test('CLIENT LIST and CLIENT KILL see and reach the clients of every worker', async (t) => {
  const kv = await startKvstore(t, { shards: 2, workers: 2 });
  // The kernel spreads connections over the workers' sockets: connect until both have some.
  const clients: Redis[] = [];
  const ids: number[] = [];
  while (clients.length < 8 || (new Set(ids.map((id) => id % 256)).size < 2 && clients.length < 64)) {
    const c = client(t, kv.port, `c${clients.length}`);
    clients.push(c);
    ids.push(Number(await c.client('ID')));
  }
  const n = clients.length;
  t.is(new Set(ids).size, n, 'ids are unique across workers');

  const list = parseList(String(await clients[0].client('LIST')));
  const mine = list.filter((l) => /^c\d+$/.test(l.name));
  t.deepEqual(mine.map((l) => l.name).sort(), clients.map((_, i) => `c${i}`).sort());
  t.true(new Set(mine.map((l) => Number(l.id) % 256)).size === 2, `clients on both workers: ${mine.map((l) => l.id).join(',')}`);
  for (const l of mine) {
    t.is(l.laddr, `127.0.0.1:${kv.port}`);
    t.is(l.user, 'default');
    t.is(l.resp, '2');
    t.regex(l.addr, /^127\.0\.0\.1:\d+$/);
    // Each worker fills its clients' state: the last command, no flags, not in MULTI.
    t.like(l, { cmd: l.name === 'c0' ? 'client|list' : 'client|id', flags: 'N', multi: '-1', sub: '0' }, l.name);
  }
  t.deepEqual(parseList(String(await clients[0].call('CLIENT', 'LIST', 'ID', String(ids[3])))).map((l) => l.name), ['c3']);
  t.is(String(await clients[0].call('CLIENT', 'LIST', 'TYPE', 'pubsub')), '');

  // KILL ID of a client that may live on the other worker.
  const victim = mine.find((l) => Number(l.id) % 256 !== ids[0] % 256)!;
  const victimClient = clients[Number(victim.name.slice(1))];
  const closed = new Promise<void>((resolve) => victimClient.once('end', () => resolve()));
  t.is(await clients[0].client('KILL', 'ID', victim.id), 1);
  await closed;
  // Old form: CLIENT KILL addr.
  const other = mine.find((l) => l.name !== 'c0' && l.id !== victim.id)!;
  t.is(await clients[0].client('KILL', other.addr), 'OK');
  await t.throwsAsync(clients[0].client('KILL', '127.0.0.1:1'), { message: 'ERR No such client' });
  await t.throwsAsync(clients[0].client('KILL', 'ID', '0'), { message: 'ERR client-id should be greater than 0' });
  await t.throwsAsync(clients[0].client('KILL', 'USER', 'nobody'), { message: "ERR No such user 'nobody'" });
  // Everyone else (SKIPME yes by default): all - 2 killed - the caller.
  t.is(await clients[0].client('KILL', 'USER', 'default'), n - 3);
  t.is(await clients[0].ping(), 'PONG', 'SKIPME: the caller lives');
  // A killed client leaves the list once its worker has closed it (the other worker's are closed
  // after the KILL's reply, as the query runs there over IPC).
  const after = await eventually(async () => {
    const names = parseList(String(await clients[0].client('LIST'))).map((l) => l.name);
    return names.length === 1 ? names : null;
  }, 5000, 'killed clients gone from CLIENT LIST');
  t.deepEqual(after, ['c0']);
});

test('CLIENT PAUSE WRITE holds writes on every worker and lets reads through; UNPAUSE releases them in order', async (t) => {
  const kv = await startKvstore(t, { shards: 2, workers: 2 });
  const admin = client(t, kv.port, 'admin');
  const writers = Array.from({ length: 4 }, (_, i) => client(t, kv.port, `w${i}`));
  await Promise.all(writers.map((w) => w.set('k', 'before')));
  t.is(await admin.client('PAUSE', '60000', 'WRITE'), 'OK');
  let written = 0;
  const writes = writers.map((w, i) => w.set(`k${i}`, 'during').then((r) => {
    written++;
    return r;
  }));
  // Redis holds a client at its write (its later commands wait behind it); other clients' reads pass.
  const readers = Array.from({ length: 4 }, (_, i) => client(t, kv.port, `r${i}`));
  t.deepEqual(await Promise.all(readers.map((r) => r.get('k'))), ['before', 'before', 'before', 'before']);
  await new Promise((r) => setTimeout(r, 300));
  t.is(written, 0, 'no write went through while paused');
  t.is(await admin.client('UNPAUSE'), 'OK');
  t.deepEqual(await Promise.all(writes), ['OK', 'OK', 'OK', 'OK']);
  t.deepEqual(await Promise.all(readers.map((r, i) => r.get(`k${i}`))), ['during', 'during', 'during', 'during']);

  // PAUSE ALL holds reads too; a short pause ends by itself.
  const raw = await RawClient.connect(kv.port);
  t.teardown(() => raw.close());
  t.is((await raw.call('CLIENT', 'PAUSE', 'x')).toString(), '-ERR timeout is not an integer or out of range\r\n');
  t.is((await raw.call('CLIENT', 'PAUSE', '10', 'SOME')).toString(), '-ERR syntax error\r\n');
  t.is(await admin.client('PAUSE', '400', 'ALL'), 'OK');
  let read = false;
  const held = readers[0].get('k').then((v) => {
    read = true;
    return v;
  });
  await new Promise((r) => setTimeout(r, 100));
  t.false(read, 'a read waits during PAUSE ALL');
  t.is(await held, 'before', 'and runs when the pause expires');
});

test('CLIENT REPLY ON|OFF|SKIP: the same bytes as a direct redis-server', async (t) => {
  const { startProxy } = await import('../helpers/proxy');
  const { startRedis } = await import('../helpers/redis');
  const { encodeCommand } = await import('../../src/resp');
  const direct = await startRedis();
  t.teardown(() => direct.kill());
  const kv = await startProxy(t, { shards: 2 });
  const script = [
    ['CLIENT', 'REPLY', 'SKIP'], ['SET', 'a', '1'], ['GET', 'a'], ['CLIENT', 'REPLY', 'OFF'], ['SET', 'a', '2'], ['NOSUCH'],
    ['CLIENT', 'REPLY', 'SKIP'], ['MGET', 'a', 'b', 'c'], ['CLIENT', 'REPLY', 'ON'], ['GET', 'a'], ['CLIENT', 'REPLY', 'BAD'], ['PING'],
  ];
  const bytes = Buffer.concat(script.map((c) => encodeCommand(c)));
  const run = async (port: number) => {
    const c = await RawClient.connect(port);
    t.teardown(() => c.close());
    c.write(bytes);
    return (await c.replies(5)).map((r) => r.toString()).join('');
  };
  const [want, got] = await Promise.all([run(direct.port), run(kv.port)]);
  t.is(want, '$1\r\n1\r\n+OK\r\n$1\r\n2\r\n-ERR syntax error\r\n+PONG\r\n');
  t.is(got, want);
});

test('CLIENT NO-EVICT and NO-TOUCH: answered by the proxy (Redis 7.2 texts), remembered per client in CLIENT INFO / LIST flags, cleared by RESET; the shard is still touched', async (t) => {
  const { startProxy } = await import('../helpers/proxy');
  const kv = await startProxy(t, { shards: 1 });
  const c = await RawClient.connect(kv.port);
  const other = await RawClient.connect(kv.port);
  t.teardown(() => { c.close(); other.close(); });
  const id = (await c.call('CLIENT', 'ID')).toString().slice(1, -2);
  const flags = async () => /flags=(\S+)/.exec((await c.call('CLIENT', 'INFO')).toString())![1];
  const flagsSeenByOther = async () => parseList((await other.call('CLIENT', 'LIST', 'ID', id)).toString().replace(/^\$\d+\r\n/, ''))[0].flags;
  t.is(await flags(), 'N');
  t.is((await c.call('CLIENT', 'NO-TOUCH', 'ON')).toString(), '+OK\r\n');
  t.is(await flags(), 'T');
  t.is((await c.call('CLIENT', 'NO-EVICT', 'on')).toString(), '+OK\r\n');
  t.is(await flags(), 'eT', "Redis's order: e, then T");
  t.is(await flagsSeenByOther(), 'eT');
  t.is((await c.call('CLIENT', 'NO-EVICT', 'OFF')).toString(), '+OK\r\n');
  t.is(await flagsSeenByOther(), 'T');
  t.is((await c.call('CLIENT', 'NO-TOUCH', 'maybe')).toString(), '-ERR syntax error\r\n');
  t.is((await c.call('CLIENT', 'NO-TOUCH')).toString(), "-ERR wrong number of arguments for 'client|no-touch' command\r\n");
  t.is((await c.call('CLIENT', 'NO-TOUCH', 'on', 'x')).toString(), "-ERR wrong number of arguments for 'client|no-touch' command\r\n");
  t.is(await flags(), 'T', 'a refused command changes nothing');
  t.is((await c.call('CLIENT', 'NO-EVICT', 'on')).toString(), '+OK\r\n');
  t.is((await c.call('RESET')).toString(), '+RESET\r\n');
  t.is(await flags(), 'N', 'RESET turns both off (Redis 7.2)');
  // RESP3: the same +OK, the flag in the verbatim CLIENT INFO.
  await c.call('HELLO', '3');
  t.is((await c.call('CLIENT', 'NO-TOUCH', 'on')).toString(), '+OK\r\n');
  t.regex((await c.call('CLIENT', 'INFO')).toString(), /^=\d+\r\ntxt:id=\d+ .* flags=T /);

  // What docs/commands.md says: NO-TOUCH does not reach the shard, whose LFU counter still counts
  // this client's reads (lfu-log-factor 0: every access counts).
  const shard = await RawClient.connect(kv.redis[0].port);
  t.teardown(() => shard.close());
  await shard.call('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lfu');
  await shard.call('CONFIG', 'SET', 'lfu-log-factor', '0');
  await c.call('SET', 'lfu', 'v');
  const freq = async () => Number((await c.call('OBJECT', 'FREQ', 'lfu')).toString().slice(1, -2));
  const before = await freq();
  for (let i = 0; i < 3; i++) await c.call('GET', 'lfu');
  t.is(await freq(), before + 3, 'three GETs with NO-TOUCH on still counted on the shard');
});
