/**
 * Pub/sub with the real program (`kvstore start`, 2 workers, 3 shards): 2,000 subscribed clients
 * spread over the workers use one subscriber connection per shard per worker, and a message
 * reaches every one of them exactly once.
 */
import test from 'ava';
import net from 'node:net';
import { startKvstore, eventually } from '../helpers/kvstore';
import { RawClient, encodeCommand } from '../helpers/raw';

async function clientList(port: number): Promise<string[]> {
  const c = await RawClient.connect(port);
  const reply = (await c.call('CLIENT', 'LIST')).toString('latin1');
  c.close();
  return reply.split('\n').filter((l) => l.includes('id=') && !l.includes('cmd=client|list'));
}

test('2,000 subscribers over 2 workers: at most workers x shards subscriber connections; every message delivered once', async (t) => {
  const kv = await startKvstore(t, { shards: 3, workers: 2 });
  const before = await Promise.all(kv.redis.map((r) => clientList(r.port)));
  const sockets: net.Socket[] = [];
  t.teardown(() => sockets.forEach((s) => s.destroy()));
  const received = new Array<string>(2000).fill('');
  for (let i = 0; i < 2000; i++) {
    const s = net.connect({ port: kv.port, host: '127.0.0.1' });
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => (received[i] += d.toString('latin1')));
    s.write(encodeCommand(['SUBSCRIBE', 'everyone']));
    sockets.push(s);
    if (i % 200 === 199) await new Promise((r) => setTimeout(r, 20));
  }
  const confirmation = '*3\r\n$9\r\nsubscribe\r\n$8\r\neveryone\r\n:1\r\n';
  await eventually(() => received.every((r) => r === confirmation) || null, 30_000, 'every confirmation');
  const after = await Promise.all(kv.redis.map((r) => clientList(r.port)));
  for (let s = 0; s < 3; s++) {
    const subscribers = after[s].filter((l) => / flags=P /.test(l));
    t.true(subscribers.length <= 2, `shard ${s}: ${subscribers.length} subscriber connections`);
    t.true(after[s].length - before[s].length <= 2, `shard ${s}: ${before[s].length} → ${after[s].length} connections`);
  }
  const pub = await RawClient.connect(kv.port);
  t.teardown(() => pub.close());
  const reply = (await pub.call('PUBLISH', 'everyone', 'hi')).toString();
  // One subscriber per worker that has clients (both do, with 2,000 clients).
  t.regex(reply, /^:[12]\r\n$/);
  const message = '*3\r\n$7\r\nmessage\r\n$8\r\neveryone\r\n$2\r\nhi\r\n';
  await eventually(() => received.every((r) => r.length >= (confirmation + message).length) || null, 30_000, 'every message');
  await new Promise((r) => setTimeout(r, 200)); // a duplicate would arrive by now
  t.true(received.every((r) => r === confirmation + message), 'each client: its confirmation, then the message exactly once');
});
