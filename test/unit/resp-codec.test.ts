/**
 * The shared RESP2 codec (src/resp/codec.ts, address.ts): every reply type, nested arrays, error
 * replies as values, input split at every byte, malformed input, INFO text and addresses.
 */
import test from 'ava';
import { RedisReplyError, BackendError, KvstoreError } from '../../src/errors';
import { decodeReply, encodeCommand, parseAddress, parseInfo, parseReply, replyEnd, RespValue, splitAddress } from '../../src/resp';

const bin = Buffer.from([0x00, 0x0d, 0x0a, 0xff, 0x24, 0x2a]);

test('encodeCommand: an array of bulk strings from strings, numbers and binary Buffers', (t) => {
  t.is(encodeCommand(['SET', 'k', 1]).toString(), '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n1\r\n');
  t.is(encodeCommand([]).toString(), '*0\r\n');
  t.is(encodeCommand(['é', '']).toString(), '*2\r\n$2\r\né\r\n$0\r\n\r\n', 'lengths in bytes, empty argument');
  t.deepEqual(encodeCommand(['GET', bin]), Buffer.concat([Buffer.from('*2\r\n$3\r\nGET\r\n$6\r\n'), bin, Buffer.from('\r\n')]));
});

test('every RESP2 type decodes to its value', (t) => {
  const one = (wire: string | Buffer, options = {}) => decodeReply(Buffer.isBuffer(wire) ? wire : Buffer.from(wire), options);
  t.is(one('+OK\r\n'), 'OK');
  t.is(one('+\r\n'), '', 'empty simple string');
  t.is(one(':0\r\n'), 0);
  t.is(one(':-42\r\n'), -42);
  t.is(one(':9007199254740993\r\n'), 9007199254740993n, 'beyond 2^53: bigint, exact');
  t.deepEqual(one('$3\r\nfoo\r\n'), Buffer.from('foo'));
  t.is(one('$3\r\nfoo\r\n', { strings: true }), 'foo');
  t.deepEqual(one('$0\r\n\r\n'), Buffer.alloc(0));
  t.deepEqual(one(Buffer.concat([Buffer.from('$6\r\n'), bin, Buffer.from('\r\n')])), bin, 'binary-safe: CR LF inside the body');
  t.is(one('$-1\r\n'), null);
  t.is(one('*-1\r\n'), null);
  t.deepEqual(one('*0\r\n'), []);
  const err = one('-WRONGTYPE Operation against a key\r\n', { address: '127.0.0.1:1' });
  t.true(err instanceof RedisReplyError);
  t.true(err instanceof BackendError, 'a reply error is a BackendError (the server answered badly)');
  const e = err as RedisReplyError;
  t.is(e.reply, 'WRONGTYPE Operation against a key');
  t.is(e.message, e.reply);
  t.is(e.code, 'E_REPLY');
  t.is(e.name, 'RedisReplyError');
  t.is(e.address, '127.0.0.1:1');
});

test('nested arrays keep their shape; errors inside arrays stay values', (t) => {
  const wire = Buffer.from('*4\r\n:1\r\n*3\r\n$1\r\na\r\n*0\r\n*2\r\n+x\r\n$-1\r\n-ERR inner\r\n*-1\r\n');
  const value = decodeReply(wire) as RespValue[];
  t.is(value.length, 4);
  t.is(value[0], 1);
  t.deepEqual(value[1], [Buffer.from('a'), [], ['x', null]]);
  t.true(value[2] instanceof RedisReplyError);
  t.is((value[2] as RedisReplyError).reply, 'ERR inner');
  t.is(value[3], null);
  // EXEC-like: results and an error side by side.
  t.deepEqual(decodeReply(Buffer.from('*2\r\n$2\r\nhi\r\n:7\r\n'), { strings: true }), ['hi', 7]);
});

test('parseReply walks several replies and reports every split point as incomplete', (t) => {
  const replies = ['+OK\r\n', '-ERR bad\r\n', ':12345\r\n', '$5\r\nhello\r\n', '$-1\r\n', '*3\r\n$3\r\nfoo\r\n:42\r\n*2\r\n+OK\r\n-ERR x\r\n', '*0\r\n'];
  const wire = Buffer.from(replies.join(''));
  // Whole: each reply in turn, ending exactly where the next starts.
  let pos = 0;
  const ends: number[] = [];
  for (const r of replies) {
    const parsed = parseReply(wire, pos)!;
    t.truthy(parsed, r);
    pos += Buffer.byteLength(r);
    t.is(parsed.next, pos, `end of ${JSON.stringify(r)}`);
    ends.push(pos);
  }
  t.is(parseReply(wire, pos), undefined, 'nothing left');
  // replyEnd finds the same ends without decoding.
  pos = 0;
  for (const end of ends) {
    t.is(replyEnd(wire, pos), end);
    pos = end;
  }
  // Split anywhere: a prefix holds exactly the replies that end inside it.
  for (let cut = 0; cut <= wire.length; cut++) {
    const prefix = wire.subarray(0, cut);
    let at = 0;
    let count = 0;
    for (let parsed = parseReply(prefix, at); parsed; parsed = parseReply(prefix, at)) {
      at = parsed.next;
      count++;
    }
    t.is(count, ends.filter((e) => e <= cut).length, `cut at ${cut}`);
    t.is(replyEnd(prefix, at), -1, `replyEnd at cut ${cut}`);
  }
  // Reading on after more bytes arrive gives the same values as reading the whole.
  const nested = parseReply(wire, ends[4])!.value as RespValue[];
  t.is((nested[0] as Buffer).toString(), 'foo');
  t.is(nested[1], 42);
  t.is((nested[2] as RespValue[])[0], 'OK');
  t.is(((nested[2] as RespValue[])[1] as RedisReplyError).message, 'ERR x');
});

test('malformed input throws BackendError; decodeReply wants exactly one whole reply', (t) => {
  for (const bad of ['?x\r\n', ':12a\r\n', '$x\r\n', '$-2\r\n', '*1.5\r\n', '+OK\rX']) {
    const err = t.throws(() => parseReply(Buffer.from(bad), 0, { address: 'h:1' }), undefined, bad);
    t.true(err instanceof BackendError, bad);
    t.regex(err!.message, /not a RESP reply from h:1/);
  }
  t.throws(() => replyEnd(Buffer.from('?x\r\n'), 0), { instanceOf: BackendError });
  t.throws(() => decodeReply(Buffer.from('$5\r\nab')), { message: /incomplete/ });
  t.throws(() => decodeReply(Buffer.from('+OK\r\n+OK\r\n')), { message: /trailing/ });
});

test('parseInfo: fields by name, section headers and blank lines skipped, values may hold colons', (t) => {
  const info = parseInfo('# Replication\r\nrole:slave\r\nmaster_host:::1\r\n\r\n# Server\r\nredis_version:7.0.15\r\n');
  t.deepEqual(info, { role: 'slave', master_host: '::1', redis_version: '7.0.15' });
});

test('addresses: host:port, bracketed and bare IPv6; parseAddress refuses bad ones', (t) => {
  t.deepEqual(parseAddress('127.0.0.1:6379'), { host: '127.0.0.1', port: 6379 });
  t.deepEqual(parseAddress('[::1]:7000'), { host: '::1', port: 7000 });
  t.deepEqual(parseAddress('::1:7000'), { host: '::1', port: 7000 }, 'as Sentinel reports an IPv6 master');
  t.deepEqual(parseAddress('redis.local:1'), { host: 'redis.local', port: 1 });
  for (const bad of ['6379', ':6379', 'h:', 'h:0', 'h:65536', 'h:x']) {
    const err = t.throws(() => parseAddress(bad), undefined, bad);
    t.true(err instanceof KvstoreError && err.code === 'E_ADDRESS', bad);
  }
  t.true(Number.isNaN(splitAddress('h:x').port), 'splitAddress does not check');
});

test('RESP3 types decode (replies a shard sends on a HELLO 3 connection)', (t) => {
  const wire = Buffer.from(
    '%2\r\n$1\r\na\r\n_\r\n$1\r\nb\r\n~2\r\n#t\r\n#f\r\n' + ',3.5\r\n' + '(12345678901234567890\r\n' + '=8\r\ntxt:info\r\n' +
      '!5\r\nERR x\r\n' + '|1\r\n+key\r\n+val\r\n:7\r\n' + '>2\r\n+a\r\n:1\r\n',
  );
  const values: RespValue[] = [];
  const ends: number[] = [];
  for (let at = 0; at < wire.length; ) {
    const r = parseReply(wire, at)!;
    t.is(replyEnd(wire, at), r.next, `replyEnd at ${at}`);
    values.push(r.value);
    ends.push(r.next);
    at = r.next;
  }
  t.deepEqual(values.slice(0, 4), [[Buffer.from('a'), null, Buffer.from('b'), [1, 0]], '3.5', 12345678901234567890n, Buffer.from('info')]);
  t.is((values[4] as RedisReplyError).message, 'ERR x');
  t.is(values[5], 7, 'the attribute is skipped');
  t.deepEqual(values[6], ['a', 1]);
  for (let cut = 1; cut < wire.length; cut++) {
    const prefix = wire.subarray(0, cut);
    const last = ends.filter((e) => e <= cut).length;
    let at = 0;
    for (let i = 0; i < last; i++) at = parseReply(prefix, at)!.next;
    if (at < cut) t.is(parseReply(prefix, at), undefined, `cut at ${cut}`);
  }
});
