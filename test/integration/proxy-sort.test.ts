/**
 * SORT / SORT_RO through the proxy against a real redis-server 7.0 in cluster mode (one node
 * serving every slot), byte for byte: BY patterns and GET are refused as Redis Cluster refuses
 * them (after the options before them, the ACL and the slot checks), `BY nosort` is accepted,
 * STORE's destination follows the same-slot rule, inside MULTI the error is EXEC's element, and
 * a user restricted to `~app1:*` gets the same answers. The proxy runs over 3 shards, with the
 * keys a BY/GET pattern names spread over them, so a forwarded pattern would answer differently.
 */
import test, { ExecutionContext } from 'ava';
import { startProxy, StartedProxy } from '../helpers/proxy';
import { loadKeySlot } from '../helpers/reshard';
import { startRedis } from '../helpers/redis';
import { RawClient } from '../helpers/raw';
import { RespClient } from '../../src/resp';
import { splitRules } from '../../src/security/AclUser';
import { ownerTable } from '../../src/topology/slots';

type Arg = string | Buffer;

const nul = (s: string) => Buffer.from(s.replace('|', '\0'), 'latin1');

const SETUP: Arg[][] = [
  ['RPUSH', 'l', '3', '1', '2'], ['SET', 'w_1', '30'], ['SET', 'w_2', '20'], ['SET', 'w_3', '10'], ['SET', 'o_1', 'one'],
  ['HSET', 'h_1', 'f', '5'], ['SET', 's', 'str'], ['RPUSH', '{l}other', 'b', 'a'],
  ['RPUSH', 'app1:{a}l', '2', '1'], ['SET', 'secret_1', 'hidden'], ['SET', 'app1:w_1', '1'],
];

/** The same session of commands on both servers (a RawClient each, so order and state match). */
const SESSION: Arg[][] = [
  ['SORT', 'l'], ['SORT', 'l', 'DESC'], ['SORT', 'l', 'BY', 'nosort'], ['SORT', 'l', 'by', 'NOSORT', 'desc', 'limit', '0', '2'],
  ['SORT', 'l', 'BY', 'w_*'], ['SORT', 'l', 'BY', 'h_*->f'], ['SORT', 'l', 'GET', '#'], ['SORT', 'l', 'GET', 'o_*'],
  ['SORT', 'l', 'BY', 'nosort', 'GET', '#'], ['SORT', 'l', 'get', '#', 'BY', 'w_*'], ['SORT', 'l', 'ALPHA', 'DESC', 'BY', 'w_*'],
  // Errors of the options before the refused one come first; after it, they never show.
  ['SORT', 'l', 'LIMIT', 'a', 'b', 'BY', 'w_*'], ['SORT', 'l', 'LIMIT', '0', '01', 'GET', '#'], ['SORT', 'l', 'LIMIT', '0', '-1', 'GET', '#'],
  ['SORT', 'l', 'FOO', 'BY', 'w_*'], ['SORT', 'l', 'BY', 'w_*', 'FOO'], ['SORT', 'l', 'BY'], ['SORT', 'l', 'GET'], ['SORT', 'l', 'LIMIT', '0'],
  ['SORT', 'l', 'STORE'],
  // C-string comparisons: a NUL ends an option name, and hides a `*` after it.
  ['SORT', 'l', nul('BY|x'), 'w_*'], ['SORT', 'l', 'BY', nul('w|*')], ['SORT', 'l', nul('GET|'), '#'],
  // Before the key is looked up: a missing key or one of the wrong type gets the refusal too.
  ['SORT', 'missing', 'BY', 'w_*'], ['SORT', 's', 'GET', '#'], ['SORT', 's'], ['SORT', 's', 'BY', 'nosort'],
  // STORE: the destination is a key (the last STORE), in the key's slot or CROSSSLOT first.
  ['SORT', 'l', 'STORE', 'dest'], ['SORT', 'l', 'BY', 'w_*', 'STORE', 'dest'], ['SORT', 'l', 'STORE', '{l}d', 'BY', 'w_*'],
  ['SORT', 'l', 'STORE', '{l}d'], ['LRANGE', '{l}d', '0', '-1'], ['SORT', 'l', 'STORE', 'dest', 'STORE', '{l}d2'], ['SORT', 'l', 'STORE', '{l}d3', 'STORE', 'dest'],
  ['SORT', 'l', 'STORE', 'by', 'x'], ['SORT', 'l', 'LIMIT', 'store', 'dest', 'BY', 'w_*'],
  ['SORT_RO', 'l'], ['SORT_RO', 'l', 'BY', 'nosort'], ['SORT_RO', 'l', 'BY', 'w_*'], ['SORT_RO', 'l', 'GET', '#'], ['SORT_RO', 'l', 'STORE', '{l}d', 'GET', '#'],
  ['SORT_RO', 'l', 'STORE', 'dest'],
  // Transactions: queued, and the refusal is EXEC's element; a STORE elsewhere aborts at queue time.
  ['MULTI'], ['SORT', 'l', 'BY', 'w_*'], ['SORT', 'l', 'GET', '#'], ['SORT_RO', 'l', 'BY', 'nosort'], ['SORT', 'l', 'STORE', '{l}d'], ['EXEC'],
  ['MULTI'], ['SORT', '{l}other', 'ALPHA'], ['SORT', 'l', 'BY', 'w_*'], ['EXEC'],
  ['MULTI'], ['SORT', 'l', 'GET', '#'], ['SORT', 'l', 'STORE', 'dest'], ['EXEC'],
  // WATCH state: the command waits on the watched shard's connection otherwise.
  ['WATCH', 'l'], ['SORT', 'l', 'BY', 'w_*'], ['SORT', 'l', 'STORE', '{l}d', 'GET', '#'], ['SORT', 'l', 'ALPHA'], ['UNWATCH'],
];

/** A user restricted to app1:*: the cluster's refusal comes before the ACL's, NOPERM before both. */
const RESTRICTED: Arg[][] = [
  ['SORT', 'app1:{a}l'], ['SORT', 'app1:{a}l', 'BY', 'nosort'], ['SORT', 'app1:{a}l', 'BY', 'app1:w_*'], ['SORT', 'app1:{a}l', 'BY', 'secret_*'],
  ['SORT', 'app1:{a}l', 'GET', '#'], ['SORT', 'app1:{a}l', 'BY', 'nosort', 'GET', 'secret_*'], ['SORT_RO', 'app1:{a}l', 'GET', 'secret_*'],
  ['SORT', 'l', 'BY', 'w_*'], ['SORT', 'app1:{a}l', 'STORE', 'secret_2', 'BY', 'w_*'], ['SORT', 'app1:{a}l', 'STORE', 'app1:{a}d', 'GET', '#'],
  ['SORT', 'app1:{a}l', 'STORE', 'app1:{a}d'],
  // The keys ACL checks are sortGetKeys' (the last STORE) and, for SORT_RO, the key alone.
  ['SORT', 'app1:{a}l', 'STORE', 'secret_2', 'STORE', 'app1:{a}d'], ['SORT', 'app1:{a}l', 'STORE', 'app1:{a}d', 'STORE', 'secret_2'],
  ['SORT_RO', 'app1:{a}l', 'STORE', 'secret_2'], ['SORT', 'app1:{a}l', 'STORE', 'get', 'secret_2'], ['SORT', 'app1:{a}l', 'LIMIT', 'store', 'secret_2', 'x'],
  ['MULTI'], ['SORT', 'app1:{a}l', 'BY', 'nosort', 'GET', 'secret_*'], ['SORT', 'app1:{a}l'], ['EXEC'],
];

const USER_RULES = 'on >pw ~app1:* +@all';

const keySlot = loadKeySlot();
const slotOf = (key: string) => keySlot(Buffer.from(key));
const shardOf = (kv: StartedProxy, key: string) => ownerTable(kv.topology)[slotOf(key)];

async function clusterNode(t: ExecutionContext) {
  const node = await startRedis({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'] });
  t.teardown(() => node.kill());
  const admin = new RespClient(node.address, { strings: true });
  t.teardown(() => admin.close());
  await admin.command(['CLUSTER', 'ADDSLOTSRANGE', '0', '16383']);
  const deadline = Date.now() + 10_000;
  while (!String(await admin.command(['CLUSTER', 'INFO'])).includes('cluster_state:ok')) {
    if (Date.now() > deadline) throw new Error('the cluster-mode redis-server did not reach cluster_state:ok');
    await new Promise((r) => setTimeout(r, 50));
  }
  await admin.command(['ACL', 'SETUSER', 'app1', ...splitRules(USER_RULES)]);
  return node;
}

async function run(client: RawClient, commands: Arg[][]): Promise<string[]> {
  const out: string[] = [];
  for (const cmd of commands) out.push((await client.call(...cmd)).toString('latin1'));
  return out;
}

const label = (cmd: Arg[]) => cmd.map((a) => JSON.stringify(a.toString())).join(' ');

test('SORT and SORT_RO answer as a Redis Cluster node, byte for byte, for the default user and a restricted one', async (t) => {
  const node = await clusterNode(t);
  const kv = await startProxy(t, { shards: 3, config: { users: [{ name: 'app1', rules: USER_RULES }] } });
  // The keys BY/GET name are spread over the shards: forwarded, the patterns would answer differently.
  const spread = new Set(['w_1', 'w_2', 'w_3', 'o_1', 'secret_1'].map((k) => shardOf(kv, k)));
  t.true(spread.size > 1, 'the BY keys live on more than one shard');

  const theirs = await RawClient.connect(node.port);
  const mine = await RawClient.connect(kv.port);
  t.teardown(() => {
    theirs.close();
    mine.close();
  });
  t.deepEqual(await run(mine, SETUP), await run(theirs, SETUP));

  const want = await run(theirs, SESSION);
  const got = await run(mine, SESSION);
  for (let i = 0; i < SESSION.length; i++) t.is(got[i], want[i], label(SESSION[i]));
  // The corpus does reach each outcome (a comparison of two identical mistakes would not show).
  const at = (cmd: Arg[]) => want[SESSION.findIndex((c) => c === cmd)];
  t.is(at(SESSION[4]), '-ERR BY option of SORT denied in Cluster mode.\r\n');
  t.is(at(SESSION[6]), '-ERR GET option of SORT denied in Cluster mode.\r\n');
  t.is(at(SESSION[2]), '*3\r\n$1\r\n3\r\n$1\r\n1\r\n$1\r\n2\r\n');
  t.true(want.includes("-CROSSSLOT Keys in request don't hash to the same slot\r\n"));
  t.true(want.includes('*4\r\n-ERR BY option of SORT denied in Cluster mode.\r\n-ERR GET option of SORT denied in Cluster mode.\r\n*3\r\n$1\r\n3\r\n$1\r\n1\r\n$1\r\n2\r\n:3\r\n'));
  t.true(want.includes('-EXECABORT Transaction discarded because of previous errors.\r\n'));

  const theirsUser = await RawClient.connect(node.port);
  const mineUser = await RawClient.connect(kv.port);
  t.teardown(() => {
    theirsUser.close();
    mineUser.close();
  });
  const login: Arg[][] = [['AUTH', 'app1', 'pw']];
  t.deepEqual(await run(mineUser, login), ['+OK\r\n']);
  t.deepEqual(await run(theirsUser, login), ['+OK\r\n']);
  const wantUser = await run(theirsUser, RESTRICTED);
  const gotUser = await run(mineUser, RESTRICTED);
  for (let i = 0; i < RESTRICTED.length; i++) t.is(gotUser[i], wantUser[i], `app1: ${label(RESTRICTED[i])}`);
  t.true(wantUser.some((r) => r.startsWith('-NOPERM')));
  t.is(wantUser[4], '-ERR GET option of SORT denied in Cluster mode.\r\n');
  // No reply carries the value of a key app1 may not read.
  t.false(gotUser.some((r) => r.includes('hidden')));
});

test('crossSlot: shard lets STORE write to another slot of the same shard, and still refuses BY patterns', async (t) => {
  const kv = await startProxy(t, { shards: 2, config: { crossSlot: 'shard' } });
  const names = Array.from({ length: 200 }, (_, i) => `dst${i}`);
  const sameShard = names.find((k) => shardOf(kv, k) === shardOf(kv, 'l') && slotOf(k) !== slotOf('l'))!;
  const otherShard = names.find((k) => shardOf(kv, k) !== shardOf(kv, 'l'))!;
  t.truthy(sameShard);
  t.truthy(otherShard);
  const c = await RawClient.connect(kv.port);
  t.teardown(() => c.close());
  t.is((await c.call('RPUSH', 'l', '2', '1')).toString(), ':2\r\n');
  t.is((await c.call('SORT', 'l', 'STORE', sameShard)).toString(), ':2\r\n');
  t.is((await c.call('LRANGE', sameShard, '0', '-1')).toString(), '*2\r\n$1\r\n1\r\n$1\r\n2\r\n');
  t.is((await c.call('SORT', 'l', 'STORE', otherShard)).toString(), "-CROSSSLOT Keys in request don't hash to the same slot\r\n");
  t.is((await c.call('SORT', 'l', 'STORE', sameShard, 'BY', 'w_*')).toString(), '-ERR BY option of SORT denied in Cluster mode.\r\n');
  // Inside MULTI too: the same shard is queued, another one is refused at queue time.
  const replies = [];
  for (const cmd of [['MULTI'], ['SORT', 'l', 'STORE', sameShard, 'DESC'], ['SORT', 'l', 'STORE', otherShard], ['EXEC']]) replies.push((await c.call(...cmd)).toString());
  t.deepEqual(replies, ['+OK\r\n', '+QUEUED\r\n', "-CROSSSLOT Keys in request don't hash to the same slot\r\n", '-EXECABORT Transaction discarded because of previous errors.\r\n']);
});
