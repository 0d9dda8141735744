/**
 * One huge command of many small arguments (the case resumable request framing is for): it
 * arrives in many reads, possibly while the client is paused, possibly with a protocol error far
 * into it. Replies and error bytes must be exactly a direct redis-server's.
 */
import test from 'ava';
import { startProxy } from '../helpers/proxy';
import { RawClient, encodeCommand } from '../helpers/raw';

function msetArgs(pairs: number, tag: string): string[] {
  const args = ['MSET'];
  for (let i = 0; i < pairs; i++) args.push(`${tag}:${i}`, `v${i}`);
  return args;
}

/** Writes `input` in pieces of `piece` bytes, yielding to the event loop between them. */
async function writeInPieces(c: RawClient, input: Buffer, piece: number): Promise<void> {
  for (let i = 0; i < input.length; i += piece) {
    c.write(input.subarray(i, i + piece));
    await new Promise((res) => setImmediate(res));
  }
}

/** Everything a server sends back for `input` until it closes (or `ms` pass). */
async function exchange(port: number, input: Buffer, ms = 3000): Promise<{ bytes: string; closed: boolean }> {
  const c = await RawClient.connect(port);
  c.write(input);
  const closed = await c.closesWithin(ms);
  const bytes = c.leftover.toString('latin1');
  c.close();
  return { bytes, closed };
}

test('an MSET of 200,000 keys in small pieces and in one write: +OK, every key set', async (t) => {
  const kv = await startProxy(t, { shards: 3 });
  const c = await RawClient.connect(kv.port);
  t.teardown(() => c.close());
  const pairs = 200_000;
  await writeInPieces(c, encodeCommand(msetArgs(pairs, 'pieces')), 4096);
  t.is((await c.reply(60_000)).toString(), '+OK\r\n');
  c.write(encodeCommand(msetArgs(pairs, 'whole')));
  t.is((await c.reply(60_000)).toString(), '+OK\r\n');
  const r = kv.client();
  const sample = [0, 1, 77_777, pairs - 1];
  t.deepEqual(await r.mget(...sample.map((i) => `pieces:${i}`)), sample.map((i) => `v${i}`));
  t.deepEqual(await r.mget(...sample.map((i) => `whole:${i}`)), sample.map((i) => `v${i}`));
  t.is(await r.exists(...Array.from({ length: 1000 }, (_, i) => `pieces:${i * 199}`)), 1000);
});

test('a huge command arriving while the client is paused (pipeline limit) is served in order after it', async (t) => {
  const kv = await startProxy(t, { shards: 3, config: { limits: { maxPipeline: 2 } } });
  const c = await RawClient.connect(kv.port);
  t.teardown(() => c.close());
  // 50 commands before it: the client is paused after 2 in flight, the rest (and the huge MSET
  // behind them, in pieces) waits until replies drain.
  const before = Array.from({ length: 50 }, (_, i) => encodeCommand(['SET', `paused:${i}`, String(i)]));
  const huge = encodeCommand(msetArgs(100_000, 'paused-mset'));
  const after = encodeCommand(['MGET', 'paused:49', 'paused-mset:0', 'paused-mset:99999']);
  await writeInPieces(c, Buffer.concat([...before, huge, after]), 16 * 1024);
  const replies = (await c.replies(52, 60_000)).map(String);
  t.deepEqual(replies.slice(0, 50), Array(50).fill('+OK\r\n'));
  t.is(replies[50], '+OK\r\n');
  t.is(replies[51], '*3\r\n$2\r\n49\r\n$2\r\nv0\r\n$6\r\nv99999\r\n');
});

test('a protocol error far into a huge command: the bytes and close of a direct redis-server', async (t) => {
  const kv = await startProxy(t, { shards: 2 });
  const direct = kv.redis[0].port;
  const good = encodeCommand(msetArgs(150_000, 'late'));
  // Announce one more pair than sent, and then break it: the error lies 4 MB into the command.
  const head = Buffer.from(`*${1 + 2 * 150_001}\r\n`);
  const body = good.subarray(good.indexOf('\r\n') + 2);
  const cases: Array<[string, Buffer]> = [
    ["expected '$'", Buffer.concat([head, body, Buffer.from('?3\r\nkey\r\n$1\r\nv\r\n')])],
    ['invalid bulk length', Buffer.concat([head, body, Buffer.from('$-7\r\nkey\r\n$1\r\nv\r\n')])],
    ['after a good command in the same stream', Buffer.concat([Buffer.from('PING\r\n'), head, body, Buffer.from('$x\r\n')])],
  ];
  for (const [name, input] of cases) {
    const [want, got] = await Promise.all([exchange(direct, input), exchange(kv.port, input)]);
    t.is(got.bytes, want.bytes, name);
    t.true(want.bytes.includes('-ERR Protocol error'), `${name}: redis-server answers ${JSON.stringify(want.bytes)}`);
    t.is(got.closed, want.closed, `${name}: closed`);
  }
  // Nothing of the broken commands was applied; the proxy serves others.
  const r = kv.client();
  t.is(await r.exists('late:0'), 0);
  t.is(await r.ping(), 'PONG');
});
