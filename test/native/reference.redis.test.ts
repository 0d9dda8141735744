/**
 * The reference against a real redis-server (7.0): protocol-error texts for the same malformed
 * bytes, inline quoting (sdssplitargs) through ECHO, CLUSTER KEYSLOT, and split/merge over three
 * servers compared byte for byte with one server holding everything.
 */
import test from 'ava';
import net from 'node:net';
import fc from 'fast-check';
import Redis from 'ioredis';
import { ReferenceHotPath } from '../../src/native/reference/ReferenceHotPath';
import { PLAN_HEADER, PLAN_SUB_STRIDE, R_CONSUMED, R_ERROR } from '../../src/native/api';
import { startRedisGroup } from '../helpers/redis';
import { WIRE_CASES, bind, feed, makeBatch, setup } from './wire-cases';

/**
 * Write bytes, collect what comes back until the server closes or `quietMs` pass without data
 * (or, with `oneReply`, until one complete reply arrived).
 */
function exchange(port: number, bytes: Buffer, quietMs = 250, oneReply = false): Promise<{ reply: string; closed: boolean }> {
  const framer = new ReferenceHotPath();
  const h = makeBatch(1, 1, 1, 1);
  setup(framer);
  bind(framer, h);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout;
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ reply: Buffer.concat(chunks).toString('latin1'), closed });
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(false), quietMs);
    };
    socket.on('data', (d) => {
      chunks.push(d);
      if (oneReply && framer.frameReplies(Buffer.concat(chunks), 0) > 0) finish(false);
      else arm();
    });
    socket.on('close', () => finish(true));
    socket.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? finish(true) : reject(e)));
    socket.on('connect', () => {
      socket.write(bytes);
      arm();
    });
  });
}

/** A connection that sends RESP and reads back whole replies, framed by the reference. */
class RawClient {
  private buf: Buffer = Buffer.alloc(0);
  private waiting: Array<(b: Buffer) => void> = [];
  private readonly framer = new ReferenceHotPath();
  private readonly h = makeBatch(1, 1, 1, 1);
  private constructor(private readonly socket: net.Socket) {
    setup(this.framer);
    bind(this.framer, this.h);
    socket.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (;;) {
        const n = this.framer.frameReplies(this.buf, 0);
        if (this.h.replyStatus[R_ERROR]) throw new Error('bad RESP from redis');
        if (n === 0) break;
        const end = this.h.replyStatus[R_CONSUMED];
        const reply = Buffer.from(this.buf.subarray(0, end));
        this.buf = this.buf.subarray(end);
        this.waiting.shift()!(reply);
      }
    });
  }
  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1' }, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }
  send(bytes: Buffer): Promise<Buffer> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.socket.write(bytes);
    });
  }
  close(): void {
    this.socket.destroy();
  }
}

const mb = (...args: Array<string | Buffer>): Buffer =>
  Buffer.concat([Buffer.from(`*${args.length}\r\n`), ...args.flatMap((a) => [Buffer.from(`$${Buffer.byteLength(a)}\r\n`), Buffer.from(a as string), Buffer.from('\r\n')])]);

test('protocol errors: the same bytes get the same error text from redis-server', async (t) => {
  const [redis] = await startRedisGroup(1, t.teardown);
  const cases = WIRE_CASES.filter((c) => c.redis === true && c.error !== undefined);
  t.true(cases.length >= 20);
  for (const c of cases) {
    const wire = typeof c.wire === 'string' ? Buffer.from(c.wire, 'latin1') : c.wire;
    // Redis closes after a protocol error: wait for that (generous timeout for a loaded machine).
    const { reply, closed } = await exchange(redis.port, wire, 5000);
    t.true(reply.endsWith(`-${c.error}\r\n`), `${c.name}: redis said ${JSON.stringify(reply.slice(-80))}`);
    t.true(closed, `${c.name}: redis closed the connection`);
    // Our parse reports the commands before the error, and then that error.
    const hp = new ReferenceHotPath();
    setup(hp);
    const h = makeBatch(16, 64, 64);
    bind(hp, h);
    const ours = feed(hp, h, [wire]);
    t.is(ours.error, c.error, c.name);
  }
});

test('incomplete input: redis-server waits too (no reply, connection open)', async (t) => {
  const [redis] = await startRedisGroup(1, t.teardown);
  const cases = WIRE_CASES.filter((c) => c.error === undefined && c.commands.length === 0 && (c.rest ?? 0) > 0);
  t.true(cases.length >= 5);
  for (const c of cases) {
    const wire = typeof c.wire === 'string' ? Buffer.from(c.wire, 'latin1') : c.wire;
    const { reply, closed } = await exchange(redis.port, wire, 150);
    t.is(reply, '', c.name);
    t.false(closed, c.name);
  }
});

test('inline quoting: decodeInline agrees with redis-server (ECHO)', async (t) => {
  const [redis] = await startRedisGroup(1, t.teardown);
  const hp = new ReferenceHotPath();
  setup(hp);
  const alphabet = ['a', 'b', ' ', '"', "'", '\\', 'x', '4', '1', 'n', 't', 'Z', '\t', '\u000b', 'é'];
  const lines = fc.sample(fc.array(fc.constantFrom(...alphabet), { minLength: 1, maxLength: 14 }).map((cs) => cs.join('')), { numRuns: 400, seed: 42 });
  let agreed = 0;
  for (const arg of lines) {
    const line = Buffer.from(`ECHO ${arg}`, 'latin1');
    const decoded = hp.decodeInline(line);
    const { reply } = await exchange(redis.port, Buffer.concat([line, Buffer.from('\r\n')]), 10_000, true);
    let want: string;
    if (decoded === null) want = '-ERR Protocol error: unbalanced quotes in request\r\n';
    else if (decoded.length === 2) want = `$${decoded[1].length}\r\n${decoded[1].toString('latin1')}\r\n`;
    else want = "-ERR wrong number of arguments for 'echo' command\r\n";
    if (reply === want) agreed++;
    else t.fail(`line ${JSON.stringify(line.toString('latin1'))}: redis ${JSON.stringify(reply)}, ours ${JSON.stringify(want)}`);
  }
  t.is(agreed, lines.length);
});

test('keySlot agrees with CLUSTER KEYSLOT on random binary keys', async (t) => {
  const [redis] = await startRedisGroup(1, t.teardown, { args: ['--cluster-enabled', 'yes'] });
  const client = new Redis({ port: redis.port, host: '127.0.0.1', lazyConnect: true });
  await client.connect();
  t.teardown(() => client.disconnect());
  const hp = new ReferenceHotPath();
  setup(hp);
  const keys = fc.sample(
    fc.tuple(fc.uint8Array({ maxLength: 12 }), fc.constantFrom('', '{', '}', '{}', '{x}', '}{'), fc.uint8Array({ maxLength: 6 })).map(([a, b, c]) => Buffer.concat([Buffer.from(a), Buffer.from(b), Buffer.from(c)])),
    { numRuns: 300, seed: 7 },
  );
  keys.push(Buffer.from('123456789'), Buffer.from('foo{}{bar}'), Buffer.from('foo{{bar}}zap'), Buffer.from('foo{bar}{zap}'));
  const pipeline = client.pipeline();
  for (const k of keys) pipeline.call('CLUSTER', 'KEYSLOT', k);
  const results = (await pipeline.exec())!;
  keys.forEach((k, i) => {
    t.is(hp.keySlot(k), results[i][1] as number, `key ${k.toString('hex')}`);
  });
});

test('split + merge over three redis-servers equals one redis-server', async (t) => {
  const servers = await startRedisGroup(4, t.teardown);
  const [oracle, ...shards] = await Promise.all(servers.map((s) => RawClient.connect(s.port)));
  t.teardown(() => [oracle, ...shards].forEach((c) => c.close()));
  const hp = new ReferenceHotPath();
  setup(hp);
  const h = makeBatch(4, 4096, 4096, 4, 8192);
  bind(hp, h);
  const slotTable = new Uint16Array(16384);
  for (let s = 0; s < 16384; s++) slotTable[s] = s % 3; // interleaved: keys scatter widely
  hp.bindSlotTable(slotTable);

  const key = fc.oneof(fc.integer({ min: 0, max: 40 }).map((n) => `k${n}`), fc.integer({ min: 0, max: 5 }).map((n) => `{tag}${n}`));
  const op = fc.oneof(
    fc.array(fc.tuple(key, fc.uint8Array({ maxLength: 8 })), { minLength: 1, maxLength: 30 }).map((kv) => mb('MSET', ...kv.flatMap(([k, v]) => [k, Buffer.from(v)]))),
    ...['MGET', 'DEL', 'EXISTS', 'UNLINK', 'TOUCH'].map((name) => fc.array(key, { minLength: 1, maxLength: 30 }).map((ks) => mb(name, ...ks))),
  );
  const ops = fc.sample(op, { numRuns: 300, seed: 3 });
  let multiShard = 0;
  for (const wire of ops) {
    t.is(hp.parseRequests(wire, 0), 1);
    const out = hp.split(wire, 0);
    const plan = Int32Array.from(h.plan);
    const n = plan[0];
    if (n > 1) multiShard++;
    const replies = await Promise.all(
      Array.from({ length: n }, (_, s) => {
        const o = PLAN_HEADER + s * PLAN_SUB_STRIDE;
        return shards[plan[o]].send(out.subarray(plan[o + 1], plan[o + 2]));
      }),
    );
    const merged = hp.merge(plan, replies);
    const expected = await oracle.send(wire);
    if (!merged.equals(expected)) t.fail(`${wire.toString('latin1').slice(0, 60)}: merged ${merged.toString('latin1').slice(0, 80)} vs ${expected.toString('latin1').slice(0, 80)}`);
  }
  t.true(multiShard > 200, `most operations spanned shards (${multiShard})`);
});
