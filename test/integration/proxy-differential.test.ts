/**
 * Differential test: one corpus of commands (every data type, edge cases, errors) run against a
 * single direct redis-server and against Kvstore over 3 shards must give byte-identical replies.
 * The intended differences are listed in DIFFERENCES (and in docs/commands.md); each is checked
 * against the reply Kvstore is meant to give instead.
 */
import test from 'ava';
import { startProxy } from '../helpers/proxy';
import { startRedis } from '../helpers/redis';
import { RawClient } from '../helpers/raw';
import { decodeReply, RespValue } from '../../src/resp';
import { ReferenceHotPath } from '../../src/native/reference/ReferenceHotPath';

type Arg = string | Buffer;
interface Case {
  cmd: Arg[];
  /** Compare as a set (Redis 7.0 hashtable-encoded sets have no stable order across servers). */
  unordered?: boolean;
  /** An intended difference in RESP3 only (what Kvstore replies instead). */
  resp3?: RegExp;
  /** Compare as a map: name/value pairs in any order (CONFIG GET walks a dict). */
  pairs?: boolean;
  /** An intended difference: what Kvstore replies instead (regex on the raw reply). */
  kvstore?: RegExp;
  why?: string;
}

const bin = Buffer.from([0x00, 0x0d, 0x0a, 0xff, 0x24, 0x2a, 0x20]);
const big = 'v'.repeat(200_000);

/** Keys chosen to land on different shards; {t} keys share one slot. */
const CORPUS: Case[] = [
  // connection and server
  { cmd: ['PING'] }, { cmd: ['PING', 'hello world'] }, { cmd: ['PING', 'a', 'b'] }, { cmd: ['ECHO', ''] }, { cmd: ['ECHO', bin] },
  { cmd: ['SELECT', '0'] }, { cmd: ['SELECT', 'x'] }, { cmd: ['SELECT', '16'] },
  { cmd: ['SELECT', '1'], kvstore: /^-ERR Kvstore supports only database 0/, why: 'only database 0 exists in a sharded keyspace' },
  { cmd: ['CLIENT', 'GETNAME'] }, { cmd: ['CLIENT', 'SETNAME', 'diff'] }, { cmd: ['CLIENT', 'GETNAME'] }, { cmd: ['CLIENT', 'SETNAME', 'a b'] },
  { cmd: ['CLIENT', 'NOSUCH'] }, { cmd: ['CLIENT'] },
  { cmd: ['CLIENT', 'NO-EVICT', 'on'] }, { cmd: ['CLIENT', 'NO-EVICT', 'maybe'] }, { cmd: ['CLIENT', 'NO-EVICT'] }, { cmd: ['CLIENT', 'NO-EVICT', 'OFF'] },
  { cmd: ['CLIENT', 'NO-TOUCH', 'ON'], kvstore: /^\+OK\r\n$/, why: "Redis 7.2's CLIENT NO-TOUCH, answered by the proxy (7.0 answers unknown subcommand); the shards are touched anyway" },
  { cmd: ['AUTH', 'x'] }, { cmd: ['AUTH', 'nobody', 'x'] }, { cmd: ['HELLO', '4'] }, { cmd: ['HELLO', 'x'] },
  { cmd: ['COMMAND', 'COUNT'] }, { cmd: ['COMMAND', 'INFO', 'get', 'mset'] }, { cmd: ['COMMAND', 'GETKEYS', 'MSET', 'a', '1', 'b', '2'] },
  { cmd: ['DBSIZE'] },
  // unknown / arity
  { cmd: ['NOSUCHCMD'] }, { cmd: ['nosuchcmd', 'a', 'b c', 'x'.repeat(200)] }, { cmd: ['GET'] }, { cmd: ['SET', 'k'] }, { cmd: ['MGET'] },
  { cmd: ['MSET', 'a'] }, { cmd: ['MSET', 'a', '1', 'b'] }, { cmd: ['DEL'] }, { cmd: ['OBJECT', 'NOSUCH', 'k'] },
  // strings
  { cmd: ['SET', 'str', 'hello'] }, { cmd: ['GET', 'str'] }, { cmd: ['GET', 'nokey'] }, { cmd: ['APPEND', 'str', ' world'] },
  { cmd: ['STRLEN', 'str'] }, { cmd: ['GETRANGE', 'str', '0', '4'] }, { cmd: ['SETRANGE', 'str', '6', 'WORLD'] }, { cmd: ['GET', 'str'] },
  { cmd: ['SET', 'str', 'x', 'NX'] }, { cmd: ['SET', 'str', 'y', 'XX', 'GET'] }, { cmd: ['SET', 'str', 'z', 'EX', '0'] },
  { cmd: ['SET', 'str', 'z', 'EX', 'abc'] }, { cmd: ['SET', 'str', 'z', 'BADOPT'] }, { cmd: ['SET', 'ttl', 'v', 'EX', '1000'] }, { cmd: ['TTL', 'ttl'] },
  { cmd: ['PERSIST', 'ttl'] }, { cmd: ['TTL', 'ttl'] }, { cmd: ['SETNX', 'str', 'q'] }, { cmd: ['GETSET', 'str', 'n'] }, { cmd: ['GETDEL', 'str'] },
  { cmd: ['GETEX', 'ttl', 'PX', '50000'] }, { cmd: ['PTTL', 'nokey'] },
  { cmd: ['SET', 'n', '10'] }, { cmd: ['INCR', 'n'] }, { cmd: ['INCRBY', 'n', '-20'] }, { cmd: ['DECR', 'n'] }, { cmd: ['DECRBY', 'n', '5'] },
  { cmd: ['INCRBYFLOAT', 'n', '1.5'] }, { cmd: ['INCR', 'n'] }, { cmd: ['SET', 'max', '9223372036854775807'] }, { cmd: ['INCR', 'max'] },
  { cmd: ['INCRBY', 'n', 'notanumber'] },
  { cmd: ['SET', bin, bin] }, { cmd: ['GET', bin] }, { cmd: ['SET', '', 'empty-key'] }, { cmd: ['GET', ''] }, { cmd: ['SET', 'empty', ''] },
  { cmd: ['GET', 'empty'] }, { cmd: ['SET', 'big', big] }, { cmd: ['GET', 'big'] }, { cmd: ['STRLEN', 'big'] },
  // split commands across shards
  { cmd: ['MSET', 'a', '1', 'b', '2', 'c', '3', 'd', '4', 'e', '5', 'f', '6'] }, { cmd: ['MGET', 'a', 'b', 'nokey', 'c', 'd', 'e', 'f', 'a'] },
  { cmd: ['MGET', 'a', 'big', 'n', bin] }, { cmd: ['EXISTS', 'a', 'b', 'nokey', 'a'] }, { cmd: ['TOUCH', 'a', 'b', 'x1', 'x2'] },
  { cmd: ['DEL', 'a', 'nokey', 'b'] }, { cmd: ['UNLINK', 'c', 'd', 'c'] }, { cmd: ['EXISTS', 'a', 'b', 'c', 'd', 'e', 'f'] },
  { cmd: ['MGET', 'lst', 'e'] }, { cmd: ['MSET', 'same', '1', 'same', '2'] }, { cmd: ['GET', 'same'] },
  // keys
  { cmd: ['TYPE', 'e'] }, { cmd: ['TYPE', 'nokey'] }, { cmd: ['EXPIRE', 'e', '100'] }, { cmd: ['TTL', 'e'] }, { cmd: ['EXPIRE', 'e', 'x'] },
  { cmd: ['OBJECT', 'ENCODING', 'e'] }, { cmd: ['OBJECT', 'ENCODING', 'big'] }, { cmd: ['DUMP', 'f'] },
  { cmd: ['RENAME', '{t}a', '{t}b'] }, { cmd: ['SET', '{t}a', '1'] }, { cmd: ['RENAME', '{t}a', '{t}b'] }, { cmd: ['GET', '{t}b'] },
  { cmd: ['RENAMENX', '{t}b', '{t}c'] }, { cmd: ['COPY', '{t}c', '{t}d'] }, { cmd: ['GET', '{t}d'] },
  { cmd: ['RENAME', 'e', 'f'], kvstore: /^-CROSSSLOT Keys in request don't hash to the same slot\r\n$/, why: 'multi-key commands need one slot (Redis Cluster rule)' },
  { cmd: ['MSETNX', '{t}x', '1', '{t}y', '2'] }, { cmd: ['MSETNX', '{t}x', '1', '{t}z', '2'] },
  // lists
  { cmd: ['RPUSH', 'lst', 'a', 'b', 'c', 'd'] }, { cmd: ['LPUSH', 'lst', 'z'] }, { cmd: ['LRANGE', 'lst', '0', '-1'] }, { cmd: ['LLEN', 'lst'] },
  { cmd: ['LINDEX', 'lst', '2'] }, { cmd: ['LSET', 'lst', '99', 'x'] }, { cmd: ['LINSERT', 'lst', 'BEFORE', 'c', 'bb'] }, { cmd: ['LPOS', 'lst', 'c'] },
  { cmd: ['LREM', 'lst', '0', 'a'] }, { cmd: ['LPOP', 'lst', '2'] }, { cmd: ['RPOP', 'lst'] }, { cmd: ['LTRIM', 'lst', '0', '0'] }, { cmd: ['LRANGE', 'lst', '0', '-1'] },
  { cmd: ['RPUSH', '{t}l1', '1', '2'] }, { cmd: ['LMOVE', '{t}l1', '{t}l2', 'LEFT', 'RIGHT'] }, { cmd: ['RPOPLPUSH', '{t}l1', '{t}l2'] },
  { cmd: ['LRANGE', '{t}l2', '0', '-1'] }, { cmd: ['LMPOP', '2', '{t}l1', '{t}l2', 'LEFT'] }, { cmd: ['GET', 'lst'] }, { cmd: ['LPUSH', 'str2'] },
  // hashes
  { cmd: ['HSET', 'h', 'f1', 'v1', 'f2', 'v2', 'num', '5'] }, { cmd: ['HGET', 'h', 'f1'] }, { cmd: ['HGETALL', 'h'] }, { cmd: ['HMGET', 'h', 'f1', 'no', 'f2'] },
  { cmd: ['HINCRBY', 'h', 'num', '3'] }, { cmd: ['HINCRBYFLOAT', 'h', 'num', '0.5'] }, { cmd: ['HINCRBY', 'h', 'f1', '1'] }, { cmd: ['HDEL', 'h', 'f2', 'no'] },
  { cmd: ['HLEN', 'h'] }, { cmd: ['HEXISTS', 'h', 'f1'] }, { cmd: ['HKEYS', 'h'] }, { cmd: ['HVALS', 'h'] }, { cmd: ['HSETNX', 'h', 'f1', 'x'] },
  { cmd: ['HSTRLEN', 'h', 'f1'] }, { cmd: ['HSET', 'h'] }, { cmd: ['HGET', 'lst', 'x'] },
  // sets
  { cmd: ['SADD', 'iset', '3', '1', '2'] }, { cmd: ['SMEMBERS', 'iset'] }, { cmd: ['SADD', '{t}s1', 'a', 'b', 'c'] }, { cmd: ['SADD', '{t}s2', 'b', 'c', 'd'] },
  { cmd: ['SMEMBERS', '{t}s1'], unordered: true }, { cmd: ['SINTER', '{t}s1', '{t}s2'], unordered: true }, { cmd: ['SUNION', '{t}s1', '{t}s2'], unordered: true },
  { cmd: ['SDIFF', '{t}s1', '{t}s2'], unordered: true }, { cmd: ['SINTERSTORE', '{t}s3', '{t}s1', '{t}s2'] }, { cmd: ['SINTERCARD', '2', '{t}s1', '{t}s2'] },
  { cmd: ['SMOVE', '{t}s1', '{t}s2', 'a'] }, { cmd: ['SCARD', '{t}s2'] }, { cmd: ['SISMEMBER', '{t}s2', 'a'] }, { cmd: ['SMISMEMBER', '{t}s2', 'a', 'z'] },
  { cmd: ['SREM', '{t}s2', 'a', 'zz'] }, { cmd: ['SINTER', '{t}s1', 'iset'], kvstore: /^-CROSSSLOT/, why: 'multi-key commands need one slot' },
  // sorted sets
  { cmd: ['ZADD', 'z', '1', 'one', '2', 'two', '3', 'three'] }, { cmd: ['ZRANGE', 'z', '0', '-1', 'WITHSCORES'] }, { cmd: ['ZSCORE', 'z', 'two'] },
  { cmd: ['ZINCRBY', 'z', '2.5', 'one'] }, { cmd: ['ZRANK', 'z', 'one'] }, { cmd: ['ZREVRANGE', 'z', '0', '1'] }, { cmd: ['ZRANGEBYSCORE', 'z', '(1', '+inf', 'LIMIT', '0', '2'] },
  { cmd: ['ZCOUNT', 'z', '-inf', '+inf'] }, { cmd: ['ZADD', 'z', 'NX', 'XX', '1', 'a'] }, { cmd: ['ZADD', 'z', 'abc', 'x'] }, { cmd: ['ZPOPMIN', 'z'] },
  { cmd: ['ZADD', '{t}z1', '1', 'a', '2', 'b'] }, { cmd: ['ZADD', '{t}z2', '5', 'b', '1', 'c'] }, { cmd: ['ZUNIONSTORE', '{t}z3', '2', '{t}z1', '{t}z2'] },
  { cmd: ['ZRANGE', '{t}z3', '0', '-1', 'WITHSCORES'] }, { cmd: ['ZINTER', '2', '{t}z1', '{t}z2', 'WITHSCORES'] }, { cmd: ['ZDIFF', '2', '{t}z1', '{t}z2'] },
  { cmd: ['ZRANGESTORE', '{t}z4', '{t}z3', '0', '1'] }, { cmd: ['ZMSCORE', 'z', 'two', 'none'] },
  // hyperloglog, bitmaps
  { cmd: ['PFADD', '{t}hll1', 'a', 'b', 'c'] }, { cmd: ['PFADD', '{t}hll2', 'c', 'd'] }, { cmd: ['PFCOUNT', '{t}hll1'] }, { cmd: ['PFCOUNT', '{t}hll1', '{t}hll2'] },
  { cmd: ['PFMERGE', '{t}hll3', '{t}hll1', '{t}hll2'] }, { cmd: ['PFCOUNT', '{t}hll3'] },
  { cmd: ['SETBIT', 'bits', '7', '1'] }, { cmd: ['GETBIT', 'bits', '7'] }, { cmd: ['BITCOUNT', 'bits'] }, { cmd: ['BITPOS', 'bits', '1'] }, { cmd: ['SETBIT', 'bits', '7', '2'] },
  { cmd: ['SET', '{t}b1', 'abc'] }, { cmd: ['SET', '{t}b2', 'xyz'] }, { cmd: ['BITOP', 'XOR', '{t}b3', '{t}b1', '{t}b2'] }, { cmd: ['GET', '{t}b3'] },
  { cmd: ['BITFIELD', 'bits', 'INCRBY', 'u8', '0', '1'] },
  // streams
  { cmd: ['XADD', 'st', '1-1', 'f', 'v'] }, { cmd: ['XADD', 'st', '2-1', 'f', 'w'] }, { cmd: ['XADD', 'st', '1-0', 'f', 'v'] }, { cmd: ['XLEN', 'st'] },
  { cmd: ['XRANGE', 'st', '-', '+'] }, { cmd: ['XREVRANGE', 'st', '+', '-', 'COUNT', '1'] }, { cmd: ['XGROUP', 'CREATE', 'st', 'g', '0'] },
  { cmd: ['XREADGROUP', 'GROUP', 'g', 'c1', 'COUNT', '1', 'STREAMS', 'st', '>'] }, { cmd: ['XPENDING', 'st', 'g'] }, { cmd: ['XACK', 'st', 'g', '1-1'] },
  { cmd: ['XADD', '{t}st2', '5-0', 'a', 'b'] }, { cmd: ['XREAD', 'COUNT', '5', 'STREAMS', '{t}st2', '{t}st3', '0', '0'] }, { cmd: ['XDEL', 'st', '1-1'] },
  { cmd: ['XINFO', 'HELP'] }, { cmd: ['XTRIM', 'st', 'MAXLEN', '1'] },
  // geo
  { cmd: ['GEOADD', 'geo', '13.361389', '38.115556', 'Palermo', '15.087269', '37.502669', 'Catania'] }, { cmd: ['GEODIST', 'geo', 'Palermo', 'Catania', 'km'] },
  { cmd: ['GEOPOS', 'geo', 'Palermo', 'nowhere'] }, { cmd: ['GEOSEARCH', 'geo', 'FROMLONLAT', '15', '37', 'BYRADIUS', '200', 'km', 'ASC'] }, { cmd: ['GEOHASH', 'geo', 'Catania'] },
  // scripting
  { cmd: ['EVAL', 'return {KEYS[1], ARGV[1], 3}', '1', 'k', 'arg'] }, { cmd: ['EVAL', "return redis.call('incr', KEYS[1])", '1', 'ctr'] },
  { cmd: ['EVAL', 'return 1', '0'] }, { cmd: ['EVAL', 'return', '0'] }, { cmd: ['EVAL', 'return 1', 'x'] }, { cmd: ['EVAL', 'return 1', '5', 'a'] },
  { cmd: ['EVAL', "return redis.call('mget', KEYS[1], KEYS[2])", '2', '{t}a', '{t}b'] },
  { cmd: ['SCRIPT', 'LOAD', 'return 42'] }, { cmd: ['EVALSHA', '1fa00e76656cc152ad327c13fe365858fd7be306', '0'] },
  { cmd: ['SCRIPT', 'EXISTS', '1fa00e76656cc152ad327c13fe365858fd7be306', '0000000000000000000000000000000000000000'] },
  { cmd: ['EVALSHA', '0000000000000000000000000000000000000000', '0'] },
  // wrong types
  { cmd: ['LPUSH', 'h', 'x'] }, { cmd: ['GET', 'h'] }, { cmd: ['SADD', 'z', 'x'] }, { cmd: ['ZADD', 'lst', '1', 'x'] }, { cmd: ['INCR', 'h'] },
  // sort
  { cmd: ['RPUSH', 'nums', '3', '1', '2'] }, { cmd: ['SORT', 'nums'] }, { cmd: ['SORT', 'nums', 'DESC', 'LIMIT', '0', '2'] }, { cmd: ['SORT_RO', 'nums', 'ALPHA'] },
  // keyspace-wide
  { cmd: ['DBSIZE'] }, { cmd: ['EXISTS', 'nums', 'z', 'h', 'geo', 'st', 'big', bin, ''] },
  // transactions and blocking commands (same slot): dedicated backend connections
  { cmd: ['MULTI'] }, { cmd: ['SET', '{t}tx', '1'] }, { cmd: ['INCR', '{t}tx'] }, { cmd: ['PING'] }, { cmd: ['GET', '{t}tx'] }, { cmd: ['EXEC'] },
  { cmd: ['MULTI'] }, { cmd: ['INCR', '{t}tx'] }, { cmd: ['SET', '{t}tx'] }, { cmd: ['EXEC'] }, { cmd: ['EXEC'] }, { cmd: ['DISCARD'] },
  { cmd: ['WATCH', '{t}tx'] }, { cmd: ['MULTI'] }, { cmd: ['MULTI'] }, { cmd: ['DECR', '{t}tx'] }, { cmd: ['DISCARD'] }, { cmd: ['UNWATCH'] },
  { cmd: ['BLPOP', '{t}none', '0.01'] }, { cmd: ['RPUSH', '{t}none', 'x'] }, { cmd: ['BRPOP', '{t}none', '0'] },
  // the same in RESP3 (a dedicated connection speaks the client's protocol): nulls, maps, sets, doubles inside EXEC
  { cmd: ['BZPOPMIN', '{t}nz', '0.01'] }, { cmd: ['ZADD', '{t}nz', '2.5', 'm'] }, { cmd: ['BZPOPMIN', '{t}nz', '0'] },
  { cmd: ['XREAD', 'BLOCK', '10', 'STREAMS', '{t}nst', '$'] }, { cmd: ['XADD', '{t}nst', '1-1', 'f', 'v'] }, { cmd: ['XREAD', 'BLOCK', '0', 'STREAMS', '{t}nst', '0'] },
  { cmd: ['HSET', '{t}th', 'f', 'v'] }, { cmd: ['SADD', '{t}ts', 'm'] }, { cmd: ['ZADD', '{t}tz', '1.5', 'm'] }, { cmd: ['SET', '{t}tf', '1'] },
  { cmd: ['MULTI'] }, { cmd: ['HGETALL', '{t}th'] }, { cmd: ['SMEMBERS', '{t}ts'] }, { cmd: ['ZSCORE', '{t}tz', 'm'] }, { cmd: ['INCRBYFLOAT', '{t}tf', '0.5'] },
  { cmd: ['GET', '{t}nokey'] }, { cmd: ['PING'] }, { cmd: ['ECHO', 'e'] }, { cmd: ['EXEC'] },
  { cmd: ['WATCH', '{t}tf'] }, { cmd: ['SET', '{t}tf', '2'] }, { cmd: ['MULTI'] }, { cmd: ['GET', '{t}tf'] }, { cmd: ['EXEC'] },
  { cmd: ['MULTI'] }, { cmd: ['HGETALL', '{t}th'] }, { cmd: ['DISCARD'] }, { cmd: ['WAIT', '0', '0'] },
  // (not sent to the direct server: there the second SET would queue)
  { cmd: ['MULTI'], kvstore: /^\+OK\r\n$/, why: 'a transaction whose keys span slots' },
  { cmd: ['SET', 'x1', '1'], kvstore: /^\+QUEUED\r\n$/, why: 'the first key picks the slot' },
  { cmd: ['SET', 'x2', '1'], kvstore: /^-CROSSSLOT /, why: 'a transaction stays in one slot (Redis Cluster rule)' },
  { cmd: ['EXEC'], kvstore: /^-EXECABORT Transaction discarded because of previous errors\.\r\n$/, why: 'a queue-time CROSSSLOT aborts EXEC' },
  { cmd: ['CONFIG', 'GET', 'maxmemory'] }, { cmd: ['CONFIG', 'GET', 'maxmemory*', 'timeout', 'save', 'appendonly'], pairs: true }, { cmd: ['CONFIG', 'GET', 'nosuch'] },
  { cmd: ['CONFIG', 'GET'] },
  { cmd: ['CONFIG', 'GET', 'databases'], kvstore: /^(\*2|%1)\r\n\$9\r\ndatabases\r\n\$1\r\n1\r\n$/, why: 'one database (0) in a sharded keyspace' },
  { cmd: ['CONFIG', 'GET', 'cluster-enabled'], kvstore: /^(\*2|%1)\r\n\$15\r\ncluster-enabled\r\n\$2\r\nno\r\n$/, why: 'clients see one keyspace, no redirections' },
  { cmd: ['CONFIG', 'SET', 'maxmemory', '0'], kvstore: /^-ERR Kvstore does not support CONFIG SET: shard settings are changed on each shard directly/, why: 'per-shard administration stays on the shards' },
  { cmd: ['COMMAND', 'DOCS', 'get', 'hset'] }, { cmd: ['COMMAND', 'LIST', 'FILTERBY', 'PATTERN', 'get*'], unordered: true }, { cmd: ['COMMAND', 'GETKEYS', 'SET', 'a', 'b'] },
  { cmd: ['FLUSHDB'] }, { cmd: ['DBSIZE'] }, { cmd: ['KEYS', '*'] }, { cmd: ['RANDOMKEY'] }, { cmd: ['SCAN', '0'] },
];

/** A flat name/value reply as sorted "name=value" strings, plus its type byte (RESP2 `*`, RESP3 `%`). */
function asPairs(reply: Buffer): string {
  const flat = (canonical(decodeReply(reply)) as string[]).map(String);
  const pairs: string[] = [];
  for (let i = 0; i < flat.length; i += 2) pairs.push(`${flat[i]}=${flat[i + 1]}`);
  return reply.toString('latin1', 0, 1) + JSON.stringify(pairs.sort());
}

function canonical(value: RespValue): unknown {
  if (Buffer.isBuffer(value)) return value.toString('latin1');
  if (Array.isArray(value)) return value.map(canonical);
  return value;
}

for (const proto of [2, 3] as const) {
test(`one corpus, identical replies from a direct redis-server and from Kvstore over 3 shards (RESP${proto})`, async (t) => {
  const direct = await startRedis();
  t.teardown(() => direct.kill());
  const kv = await startProxy(t, { shards: 3 });
  const a = await RawClient.connect(direct.port);
  const b = await RawClient.connect(kv.port);
  t.teardown(() => {
    a.close();
    b.close();
  });
  if (proto === 3) {
    // The same map but for the connection id (the proxy's own).
    const [want, got] = await Promise.all([a.call('HELLO', '3'), b.call('HELLO', '3')]);
    const noId = (r: Buffer) => r.toString('latin1').replace(/\$2\r\nid\r\n:\d+\r\n/, '');
    t.regex(got.toString('latin1'), /^%7\r\n\$6\r\nserver\r\n\$5\r\nredis\r\n.*\$5\r\nproto\r\n:3\r\n\$2\r\nid\r\n:\d+\r\n/s);
    t.is(noId(got), noId(want));
  }
  let same = 0;
  let intended = 0;
  for (const c of CORPUS) {
    const label = c.cmd.map((x) => (typeof x === 'string' ? x.slice(0, 40) : `<${x.length} bytes>`)).join(' ');
    const difference = proto === 3 && c.resp3 ? c.resp3 : c.kvstore;
    if (difference) {
      // Not sent to the direct server: it would change its keyspace (RENAME succeeds there).
      t.regex((await b.call(...c.cmd)).toString('latin1'), difference, `${label} (intended: ${c.why})`);
      intended++;
      continue;
    }
    const [want, got] = await Promise.all([a.call(...c.cmd), b.call(...c.cmd)]);
    if (c.pairs) {
      t.is(asPairs(got), asPairs(want), label);
    } else if (c.unordered) {
      const sortAll = (v: unknown) => (Array.isArray(v) ? [...v].map(String).sort() : v);
      t.deepEqual(sortAll(canonical(decodeReply(got))), sortAll(canonical(decodeReply(want))), label);
    } else {
      t.is(got.toString('latin1'), want.toString('latin1'), label);
    }
    same++;
  }
  t.log(`${same} commands with identical replies, ${intended} intended differences`);
  // The keyspace ends the same: both flushed by the corpus, then checked once more.
  t.is((await b.call('DBSIZE')).toString(), (await a.call('DBSIZE')).toString());
});
}

for (const [engine, proto] of [['default', 2], ['reference', 2], ['default', 3]] as const) {
  test(`pipelined: the whole corpus in one write gives the same replies in the same order (${engine} hot path, RESP${proto})`, async (t) => {
    const direct = await startRedis();
    t.teardown(() => direct.kill());
    const kv = await startProxy(t, { shards: 3, hotPath: engine === 'reference' ? new ReferenceHotPath() : undefined });
    if (engine === 'reference') t.false(kv.proxy.nativeEnabled);
    const a = await RawClient.connect(direct.port);
    const b = await RawClient.connect(kv.port);
    t.teardown(() => {
      a.close();
      b.close();
    });
    const { encodeCommand } = await import('../../src/resp');
    if (proto === 3) await Promise.all([a.call('HELLO', '3'), b.call('HELLO', '3')]);
    const cases = CORPUS.filter((c) => !c.kvstore && !(proto === 3 && c.resp3));
    const bytes = Buffer.concat(cases.map((c) => encodeCommand(c.cmd)));
    a.write(bytes);
    b.write(bytes);
    const [want, got] = await Promise.all([a.replies(cases.length), b.replies(cases.length)]);
    const mismatches: string[] = [];
    cases.forEach((c, i) => {
      const norm = (r: Buffer) => (c.pairs ? asPairs(r) : c.unordered ? JSON.stringify((canonical(decodeReply(r)) as string[]).map(String).sort()) : r.toString('latin1'));
      if (norm(got[i]) !== norm(want[i])) mismatches.push(`${c.cmd.slice(0, 3).join(' ')}: ${norm(want[i]).slice(0, 60)} vs ${norm(got[i]).slice(0, 60)}`);
    });
    t.deepEqual(mismatches, []);
  });
}
