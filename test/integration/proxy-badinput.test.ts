/**
 * Bad input on raw sockets: protocol errors get Redis's exact bytes and close only that client;
 * garbage, huge announced lengths, half commands and slowloris clients never disturb the others.
 */
import test from 'ava';
import { startProxy, StartedProxy } from '../helpers/proxy';
import { RawClient, encodeCommand } from '../helpers/raw';
import { MemoryPeaks, sampleMemory } from '../helpers/memory';

/** Everything a server sends back for `input` until it closes (or `ms` pass). */
async function exchange(port: number, input: Buffer | string, ms = 1500): Promise<{ bytes: string; closed: boolean }> {
  const c = await RawClient.connect(port);
  c.write(input);
  const closed = await c.closesWithin(ms);
  const bytes = c.leftover.toString('latin1');
  c.close();
  return { bytes, closed };
}

const PROTOCOL_CASES: [string, string][] = [
  ['invalid multibulk length', '*abc\r\n'],
  ['multibulk count too large', '*99999999999\r\n'],
  ['invalid bulk length', '*1\r\n$abc\r\n'],
  ['negative bulk length', '*2\r\n$3\r\nGET\r\n$-1\r\n'],
  ['bulk length over proto-max-bulk-len', '*1\r\n$999999999999\r\n'],
  ["expected '$'", '*1\r\nfoo\r\n'],
  ['valid commands, then an error in the same read', '*1\r\n$4\r\nPING\r\nECHO hi\r\n*x\r\n'],
  ['unbalanced quotes inline', 'SET "a b\r\n'],
  ['too big inline request', 'A'.repeat(70 * 1024)],
  ['too big mbulk count string', '*' + '1'.repeat(70 * 1024)],
];

test('protocol errors: the same bytes as a direct redis-server, and the client is closed', async (t) => {
  const kv = await startProxy(t, { shards: 2 });
  const direct = kv.redis[0].port;
  for (const [name, input] of PROTOCOL_CASES) {
    const [want, got] = await Promise.all([exchange(direct, input), exchange(kv.port, input)]);
    t.is(got.bytes, want.bytes, name);
    t.is(got.closed, want.closed, `${name}: closed`);
    t.true(got.closed, `${name}: closes the client`);
  }
  // The proxy itself is fine.
  const r = kv.client();
  t.is(await r.ping(), 'PONG');
  t.true(kv.proxy.stats().clients >= 1);
});

/** Inputs with bytes a UTF-8 string cannot carry, or CR/LF inside arguments (sent as latin1). */
const BYTE_CASES: [string, Buffer][] = [
  ["expected '$', got a 0xff byte", Buffer.from('*1\r\n\xff\r\n', 'latin1')],
  ["expected '$', got a 0x80 byte after a good argument", Buffer.from('*2\r\n$3\r\nGET\r\n\x80\r\n', 'latin1')],
  ['unknown command with 0xff bytes in its name and arguments', Buffer.from('*3\r\n$4\r\nF\xffOO\r\n$2\r\n\xfe\xfd\r\n$1\r\nx\r\n', 'latin1')],
  ['unknown command whose argument holds CR/LF and a reply of its own', Buffer.from('*2\r\n$3\r\nFOO\r\n$8\r\na\r\n+OK\r\n\r\n', 'latin1')],
  ['unknown subcommand with a 0xff byte', Buffer.from('*2\r\n$6\r\nCLIENT\r\n$3\r\n\xffzz\r\n', 'latin1')],
];

test('error replies quoting the client\'s bytes: byte for byte as a direct redis-server (latin1, no CR/LF)', async (t) => {
  const kv = await startProxy(t, { shards: 2 });
  const direct = kv.redis[0].port;
  for (const [name, input] of BYTE_CASES) {
    const [want, got] = await Promise.all([exchange(direct, input, 300), exchange(kv.port, input, 300)]);
    t.is(got.bytes, want.bytes, name);
    // One error line each: no CR/LF from the input inside it, a non-ASCII byte stays one byte.
    t.regex(got.bytes, /^-[^\r\n]*\r\n$/, name);
  }
  const ff = await exchange(kv.port, BYTE_CASES[0][1]);
  t.is(ff.bytes, "-ERR Protocol error: expected '$', got '\xff'\r\n");
  t.true(ff.closed);
});

async function goodClientWorks(t: { is: (a: unknown, b: unknown, m?: string) => void; deepEqual: (a: unknown, b: unknown, m?: string) => void }, kv: StartedProxy, tag: string): Promise<void> {
  const r = kv.client();
  const p = r.pipeline();
  for (let i = 0; i < 500; i++) p.set(`${tag}:${i}`, String(i));
  for (let i = 0; i < 500; i++) p.get(`${tag}:${i}`);
  const res = await p.exec();
  t.deepEqual(res!.slice(500).map(([, v]) => v), Array.from({ length: 500 }, (_, i) => String(i)), `${tag}: good client`);
  t.deepEqual(await r.mget(`${tag}:1`, `${tag}:2`, `${tag}:499`), ['1', '2', '499']);
}

test('random garbage from many clients does not disturb a well-behaved client', async (t) => {
  const kv = await startProxy(t, { shards: 3 });
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  const junk: RawClient[] = [];
  t.teardown(() => junk.forEach((c) => c.close()));
  const alphabet = Buffer.from('*$\r\n0123456789-abcGETSET "\'\\x\x00\xff ');
  for (let i = 0; i < 40; i++) {
    const c = await RawClient.connect(kv.port);
    junk.push(c);
    const len = 1 + (rand() % 4000);
    const bytes = Buffer.alloc(len);
    // Half the clients send bytes from a RESP-ish alphabet (reaches deeper parser states).
    for (let j = 0; j < len; j++) bytes[j] = i % 2 === 0 ? rand() & 0xff : alphabet[rand() % alphabet.length];
    c.write(bytes);
  }
  await goodClientWorks(t, kv, 'garbage');
  await new Promise((res) => setTimeout(res, 200));
  await goodClientWorks(t, kv, 'garbage-after');
});

test('half commands and slowloris clients: others are served meanwhile, and they complete correctly', async (t) => {
  const kv = await startProxy(t, { shards: 3 });
  const command = encodeCommand(['SET', 'slow-key', 'slow-value']);
  const slow: RawClient[] = [];
  t.teardown(() => slow.forEach((c) => c.close()));
  for (let i = 0; i < 20; i++) slow.push(await RawClient.connect(kv.port));
  // Half a command from each, then one byte at a time.
  const half = Math.floor(command.length / 2);
  slow.forEach((c) => c.write(command.subarray(0, half)));
  await goodClientWorks(t, kv, 'during-half');
  const dribble = (async () => {
    for (let i = half; i < command.length; i++) {
      slow.forEach((c) => c.write(command.subarray(i, i + 1)));
      await new Promise((res) => setTimeout(res, 15));
    }
  })();
  await goodClientWorks(t, kv, 'during-slowloris');
  await dribble;
  const replies = await Promise.all(slow.map((c) => c.reply()));
  t.true(replies.every((r) => r.toString() === '+OK\r\n'));
  t.is(await kv.client().get('slow-key'), 'slow-value');
});

test.serial('an announced huge bulk that never arrives costs no memory up front', async (t) => {
  const kv = await startProxy(t, { shards: 2 });
  const peaks = new MemoryPeaks(sampleMemory());
  const liars: RawClient[] = [];
  t.teardown(() => liars.forEach((c) => c.close()));
  for (let i = 0; i < 20; i++) {
    const c = await RawClient.connect(kv.port);
    c.write('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$400000000\r\nabc');
    liars.push(c);
  }
  await new Promise((res) => setTimeout(res, 300));
  peaks.sample();
  t.log(`20 clients announcing 400 MB each: ${peaks.describe()}`);
  t.true(peaks.arrayBuffers < 16 * 1024 * 1024, peaks.describe());
  t.true(peaks.nativeHeld < 1024 * 1024, `nothing is allocated natively for an announced bulk: ${peaks.describe()}`);
  await goodClientWorks(t, kv, 'liars');
});

test('a request above limits.maxRequestBytes is refused and that client closed', async (t) => {
  const kv = await startProxy(t, { shards: 2, config: { limits: { maxRequestBytes: 1024 * 1024 } } });
  const c = await RawClient.connect(kv.port);
  t.teardown(() => c.close());
  c.write(encodeCommand(['SET', 'big', 'x'.repeat(2 * 1024 * 1024)]));
  t.regex((await c.reply()).toString(), /^-ERR Protocol error: request larger than 1048576 bytes/);
  t.true(await c.closesWithin(2000));
  // Just below the limit is fine.
  const ok = await RawClient.connect(kv.port);
  t.teardown(() => ok.close());
  t.is((await ok.call('SET', 'big', 'x'.repeat(1000 * 1024))).toString(), '+OK\r\n');
});

test('commands split at every byte boundary still work (partial reads)', async (t) => {
  const kv = await startProxy(t, { shards: 3 });
  const c = await RawClient.connect(kv.port);
  t.teardown(() => c.close());
  const input = Buffer.concat([
    encodeCommand(['MSET', 'a', '1', 'b', '2', 'c', '3']),
    encodeCommand(['MGET', 'a', 'b', 'c', 'd']),
    Buffer.from('PING\r\n'),
    encodeCommand(['DEL', 'a', 'b', 'zz']),
  ]);
  for (let i = 0; i < input.length; i++) {
    c.write(input.subarray(i, i + 1));
    if (i % 7 === 0) await new Promise((res) => setImmediate(res));
  }
  const replies = (await c.replies(4)).map(String);
  t.deepEqual(replies, ['+OK\r\n', '*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$-1\r\n', '+PONG\r\n', ':2\r\n']);
});

test('a client that half-closes after sending still gets its replies', async (t) => {
  const kv = await startProxy(t, { shards: 3 });
  await kv.client().mset('h1', 'one', 'h2', 'two');
  const c = await RawClient.connect(kv.port);
  t.teardown(() => c.close());
  c.socket.end(Buffer.concat([encodeCommand(['GET', 'h1']), encodeCommand(['MGET', 'h1', 'h2']), Buffer.from('PING\r\n')]));
  t.deepEqual((await c.replies(3)).map(String), ['$3\r\none\r\n', '*2\r\n$3\r\none\r\n$3\r\ntwo\r\n', '+PONG\r\n']);
  t.true(await c.closesWithin(2000));
});
