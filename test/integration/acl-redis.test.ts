/**
 * The ACL evaluator (src/security/) against a real redis-server 7.0 given the same users with
 * ACL SETUSER: ACL LIST and ACL GETUSER descriptions, and, for a matrix of commands, the
 * decision (allowed, or the exact -NOPERM text). The proxy's decision is taken on the batch
 * the hot path's parser produces, as the data path does.
 */
import test from 'ava';
import { RedisReplyError } from '../../src/errors';
import { oneShot, RespClient } from '../../src/resp';
import { encodeCommand } from '../../src/resp';
import { C_CMD, CMD_STRIDE } from '../../src/native/api';
import { aclDenial } from '../../src/security/AclCheck';
import { splitRules, userFromRules } from '../../src/security/AclUser';
import { aclGetuser } from '../../src/security/aclCommands';
import { UserDirectory } from '../../src/security/UserDirectory';
import { decodeReply } from '../../src/resp';
import { referenceEngine } from '../native/native-setup';
import { startRedisGroup } from '../helpers/redis';

const USERS: Array<[string, string]> = [
  ['alice', 'on >pw ~app1:* %R~shared:* &news.* +@read -@dangerous +set'],
  ['bob', 'on >pw ~app1:* %R~shared:* &news.* +@all -@dangerous'],
  ['carol', 'on >pw %W~w:* +@all allchannels'],
  ['dave', 'on >pw ~* -@all +@read +@write -@string +@connection'],
  ['erin', 'on >pw ~{t}* &* +@all -@admin +config|get -get +flushall'],
  ['frank', 'on >pw ~f* ~x %R~r:* resetchannels &a* +@all -config +config|get -client|kill'],
  ['gina', 'on >pw nopass allkeys allchannels -@all +@slow -@admin'],
  ['hank', 'on >pw >other <other ~k %RW~x %W~y ~x -@all +@sortedset +@hash +@geo +@bitmap +@list +@stream +@set +@hyperloglog +@keyspace -object|help'],
  ['ivy', 'on >pw ~src* %R~ro* %W~wo* +@all'],
  ['jim', 'on >pw reset on >pw ~* +@all -@write +set'],
];

const COMMANDS: string[][] = [
  ['GET', 'app1:x'], ['GET', 'other'], ['GET', 'shared:1'], ['SET', 'shared:1', 'v'], ['SET', 'app1:x', 'v'], ['SET', 'w:1', 'v'],
  ['SET', 'w:1', 'v', 'GET'], ['GET', 'w:1'], ['MGET', 'app1:a', 'shared:b'], ['MGET', 'app1:a', 'zzz'], ['DEL', 'shared:1'],
  ['COPY', 'app1:a', 'shared:b'], ['COPY', 'shared:b', 'app1:a'], ['LMOVE', 'src1', 'wo1', 'LEFT', 'LEFT'], ['LMOVE', 'ro1', 'wo1', 'LEFT', 'LEFT'],
  ['LMOVE', 'wo1', 'ro1', 'LEFT', 'LEFT'], ['SORT', 'ro1'], ['SORT', 'ro1', 'STORE', 'wo2'], ['SORT', 'ro1', 'STORE', 'ro2'], ['SORT_RO', 'ro1'],
  ['SORT', 'ro1', 'STORE', 'ro2', 'STORE', 'wo2'], ['SORT', 'ro1', 'STORE', 'wo2', 'STORE', 'ro2'], ['SORT_RO', 'ro1', 'STORE', 'ro2'],
  ['BITFIELD', 'ro1', 'GET', 'u8', '0'], ['BITFIELD', 'ro1', 'SET', 'u8', '0', '1'], ['BITFIELD', 'wo1', 'GET', 'u8', '0'],
  ['HSET', 'k', 'f', 'v'], ['HGET', 'x', 'f'], ['HSET', 'y', 'f', 'v'], ['HGET', 'y', 'f'], ['ZADD', 'y', '1', 'm'],
  ['EXISTS', 'other'], ['EXISTS', 'app1:a'], ['OBJECT', 'ENCODING', 'shared:1'], ['OBJECT', 'HELP'], ['TYPE', 'ro1'],
  ['EVAL', 'return 1', '1', 'shared:1'], ['EVAL', 'return 1', '0'], ['EVAL', 'return 1', '1', 'app1:k'],
  ['KEYS', 'app1:*'], ['FLUSHALL'], ['FLUSHDB'], ['CONFIG', 'GET', 'maxmemory'], ['CONFIG', 'SET', 'maxmemory-samples', '5'],
  ['CLIENT', 'ID'], ['CLIENT', 'KILL', 'ID', '999999'], ['PING'], ['ECHO', 'x'], ['INFO', 'server'], ['DBSIZE'],
  ['PUBLISH', 'news.a', 'x'], ['PUBLISH', 'sports', 'x'], ['PUBLISH', 'a1', 'x'], ['SPUBLISH', 'sports', 'x'], ['SPUBLISH', 'news.b', 'x'],
  ['PFADD', '{t}h', 'a'], ['PFADD', 'x', 'a'], ['GEOADD', 'k', '0', '0', 'm'], ['XADD', 'y', '*', 'f', 'v'],
  ['RENAME', '{t}a', '{t}b'], ['RENAME', 'x', 'k'], ['MIGRATE', '127.0.0.1', '1', 'app1:m', '0', '10'],
  ['MIGRATE', '127.0.0.1', '1', '', '0', '10', 'KEYS', 'app1:a', 'shared:b'], ['GETEX', 'ro1'], ['GETDEL', 'ro1'],
];

/** ACL LIST command rules split into the part that must be byte-equal and the single commands (Redis emits them in hash order). */
function splitCommandRules(rules: string): { head: string; singles: string[] } {
  const tokens = rules.split(' ');
  const head: string[] = [];
  const singles: string[] = [];
  for (const t of tokens) (t === '+@all' || t === '-@all' || t.startsWith('+@') || t.startsWith('-@') ? head : singles).push(t);
  return { head: head.join(' '), singles: singles.sort() };
}

function splitListLine(line: string): { before: string; commands: { head: string; singles: string[] } } {
  const at = line.search(/ [+-]@all/);
  return { before: line.slice(0, at), commands: splitCommandRules(line.slice(at + 1)) };
}

test('ACL LIST and ACL GETUSER describe users as redis-server 7.0 does', async (t) => {
  const [redis] = await startRedisGroup(1, t.teardown);
  const admin = new RespClient(redis.address, { strings: true });
  t.teardown(() => admin.close());
  for (const [name, rules] of USERS) await admin.command(['ACL', 'SETUSER', name, ...splitRules(rules)]);
  const redisList = (await admin.command(['ACL', 'LIST'])) as string[];
  const users = UserDirectory.fromConfig('', USERS.map(([name, rules]) => ({ name, rules })));
  const ours = users.sorted().map((u) => u.describe());
  t.is(ours.length, redisList.length);
  for (let i = 0; i < ours.length; i++) {
    t.deepEqual(splitListLine(ours[i]), splitListLine(redisList[i]), `ACL LIST line of ${redisList[i].split(' ')[1]}`);
  }
  for (const [name] of USERS) {
    const theirs = (await admin.command(['ACL', 'GETUSER', name])) as unknown[];
    const mine = decodeReply(aclGetuser(users, Buffer.from(name)), { strings: true }) as unknown[];
    t.deepEqual(mine.length, theirs.length);
    for (let f = 0; f < theirs.length; f += 2) {
      if (theirs[f] === 'commands') t.deepEqual(splitCommandRules(String(mine[f + 1])), splitCommandRules(String(theirs[f + 1])), `${name} commands`);
      else t.deepEqual(mine[f + 1], theirs[f + 1], `${name} ${String(theirs[f])}`);
    }
  }
});

test('allowed and denied commands, keys and channels: the same decisions and -NOPERM texts as redis-server', async (t) => {
  const [redis] = await startRedisGroup(1, t.teardown);
  const admin = new RespClient(redis.address);
  t.teardown(() => admin.close());
  for (const [name, rules] of USERS) await admin.command(['ACL', 'SETUSER', name, ...splitRules(rules)]);
  const engine = referenceEngine();
  let denials = 0;
  let allowed = 0;
  for (const [name, rules] of USERS) {
    const user = userFromRules(name, rules);
    const client = new RespClient(redis.address, { username: name, password: 'pw' });
    try {
      for (const argv of COMMANDS) {
        let theirs: string | null = null;
        try {
          await client.command(argv);
        } catch (err) {
          if (err instanceof RedisReplyError && err.reply.startsWith('NOPERM')) theirs = `-${err.reply}\r\n`;
          else if (!(err instanceof RedisReplyError)) throw err;
        }
        const buf = encodeCommand(argv);
        t.is(engine.hp.parseRequests(buf, 0), 1);
        const id = engine.batch.cmds[C_CMD];
        const mine = aclDenial(user, id, buf, engine.batch, 0 * CMD_STRIDE, () => argv.map((a) => Buffer.from(a)));
        t.is(mine === null ? null : mine.toString(), theirs, `${name}: ${argv.join(' ')}`);
        if (theirs === null) allowed++;
        else denials++;
      }
    } finally {
      client.close();
    }
  }
  // The matrix exercises both outcomes of each kind (a check that cannot fail would not).
  t.true(denials > 50 && allowed > 50, `${denials} denied, ${allowed} allowed`);
});

test('SUBSCRIBE and PSUBSCRIBE: channel globs and literal pattern comparison as redis-server', async (t) => {
  const [redis] = await startRedisGroup(1, t.teardown);
  const engine = referenceEngine();
  await oneShot(redis.address, ['ACL', 'SETUSER', 'sub', 'on', '>pw', '~*', '+@all', 'resetchannels', '&news.*', '&a?c']);
  const user = userFromRules('sub', 'on >pw ~* +@all resetchannels &news.* &a?c');
  for (const argv of [['SUBSCRIBE', 'news.x'], ['SUBSCRIBE', 'news.x', 'other'], ['SUBSCRIBE', 'abc'], ['PSUBSCRIBE', 'news.*'], ['PSUBSCRIBE', 'news.x'], ['PSUBSCRIBE', 'a?c'], ['PSUBSCRIBE', 'abc']]) {
    let theirs: string | null = null;
    try {
      await oneShot(redis.address, argv, { username: 'sub', password: 'pw' });
    } catch (err) {
      if (err instanceof RedisReplyError) theirs = `-${err.reply}\r\n`;
      else throw err;
    }
    const buf = encodeCommand(argv);
    engine.hp.parseRequests(buf, 0);
    const mine = aclDenial(user, engine.batch.cmds[C_CMD], buf, engine.batch, 0, () => argv.map((a) => Buffer.from(a)));
    t.is(mine === null ? null : mine.toString(), theirs, argv.join(' '));
  }
});

test('AUTH failures: WRONGPASS for a wrong password, an unknown user and a disabled user (as redis-server)', async (t) => {
  const [redis] = await startRedisGroup(1, t.teardown);
  await oneShot(redis.address, ['ACL', 'SETUSER', 'offuser', 'off', '>pw', '+@all']);
  const users = UserDirectory.fromConfig('', [{ name: 'offuser', rules: 'off >pw +@all' }, { name: 'bob', rules: 'on >pw +@all' }]);
  for (const [user, pw] of [['bob', 'wrong'], ['nosuch', 'pw'], ['offuser', 'pw']]) {
    const err = await t.throwsAsync(oneShot(redis.address, ['AUTH', user, pw]));
    t.is((err as RedisReplyError).reply, 'WRONGPASS invalid username-password pair or user is disabled.');
    t.false(users.get(user)?.checkPassword(Buffer.from(pw)) ?? false, `${user} is refused by the proxy's directory too`);
  }
  t.true(users.get('bob')!.checkPassword(Buffer.from('pw')));
});

test('rules Redis refuses are refused with the same text; selectors and first-argument rules are refused clearly', async (t) => {
  const [redis] = await startRedisGroup(1, t.teardown);
  const bad = [['#abc'], ['~*', '~a'], ['&*', '&a'], ['+nosuch'], ['+@nosuch'], ['%X~y'], ['<notset'], ['!abc'], ['bogus']];
  for (const rules of bad) {
    const err = await t.throwsAsync(oneShot(redis.address, ['ACL', 'SETUSER', 'x', ...rules]));
    const theirs = (err as RedisReplyError).reply;
    const mine = t.throws(() => userFromRules('x', rules));
    t.is(`ERR ${mine!.message}`, theirs, rules.join(' '));
  }
  t.regex(t.throws(() => userFromRules('x', '(~x +get)'))!.message, /does not support ACL selectors/);
  t.regex(t.throws(() => userFromRules('x', '+select|0'))!.message, /first-argument rules/);
});
