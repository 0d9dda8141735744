import test from 'ava';
import Redis from 'ioredis';
import { startRedisGroup } from '../helpers/redis';
import { commands, commandId, compileForNative, commandById } from '../../src/commands/table';
import { SPEC_STRIDE } from '../../src/native/api';

test('every command the installed redis-server lists is in the table', async (t) => {
  const [server] = await startRedisGroup(1, t.teardown);
  const redis = new Redis({ port: server.port, lazyConnect: true });
  await redis.connect();
  t.teardown(() => redis.disconnect());
  const listed = (await redis.call('COMMAND', 'LIST')) as string[];
  const missing = listed.filter((name) => commandId(name) < 0);
  t.deepEqual(missing, [], `missing from src/commands/commands.json: ${missing.join(', ')} (run scripts/gen-command-table.ts)`);
  const raw = (await redis.call('COMMAND')) as unknown[][];
  const subs = raw.flatMap((c) => ((c[9] as unknown[][]) ?? []).map((s) => String(s[0])));
  t.true(subs.length > 50);
  t.deepEqual(subs.filter((name) => commandId(name) < 0), []);
});

test('routing classes: split, same-slot, single, refused with a reason', (t) => {
  const routing = (name: string) => commandById(commandId(name))!.routing;
  for (const name of ['mget', 'mset', 'del', 'exists', 'unlink', 'touch']) t.is(routing(name), 'split');
  for (const name of ['rename', 'smove', 'sinterstore', 'zunionstore', 'lmove', 'pfmerge', 'bitop', 'msetnx', 'copy', 'eval', 'fcall']) t.is(routing(name), 'sameslot', name);
  for (const name of ['get', 'set', 'hset', 'zadd', 'object|encoding', 'xadd', 'memory|usage']) t.is(routing(name), 'single', name);
  for (const name of ['multi', 'exec', 'watch', 'blpop', 'bzmpop', 'xread', 'xreadgroup', 'wait', 'client|kill', 'client|unblock']) t.is(routing(name), 'dedicated', name);
  for (const name of ['subscribe', 'psubscribe', 'publish', 'spublish', 'pubsub|numsub']) t.is(routing(name), 'pubsub', name);
  for (const name of ['config|get', 'client|list', 'client|pause', 'hello']) t.is(routing(name), 'proxy', name);
  for (const name of ['function|list', 'function|dump', 'function|stats', 'function|kill', 'script|load']) t.is(routing(name), 'allshards', name);
  for (const name of ['monitor', 'cluster', 'config|set', 'client|tracking']) {
    const entry = commandById(commandId(name))!;
    t.is(entry.routing, 'unsupported', name);
    t.truthy(entry.reason, name);
  }
  t.is(commandId('GeT'), commandId('get'));
  t.is(commandId('no-such-command'), -1);
});

test('compiled table keeps subcommands contiguous after their container and key specs aligned', (t) => {
  const compiled = compileForNative();
  t.is(compiled.names.length, commands.length);
  const object = commandId('object');
  const first = compiled.subStart[object];
  t.true(first > object);
  const subs = compiled.names.slice(first, first + compiled.subCount[object]);
  t.true(subs.includes('object|encoding'));
  t.true(subs.every((n) => n.startsWith('object|')));
  const get = commandId('get');
  t.is(compiled.specCount[get], 1);
  const row = compiled.specs.subarray(compiled.specStart[get] * SPEC_STRIDE, (compiled.specStart[get] + 1) * SPEC_STRIDE);
  t.deepEqual([...row], [1, 1, -1, 1, 0, 1, 0]);
  t.true(compiled.keywords.includes('streams'));
});
