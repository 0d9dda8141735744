/**
 * The pub/sub hub on fake streams (src/proxy/pubsub/): one subscriber connection per shard shared
 * by the worker's clients, confirmations after the shard's barrier PONG, the shard's message frame
 * copied to each subscriber, and the output limits (hard at once, soft after its time).
 */
import test, { ExecutionContext } from 'ava';
import calculateSlot from 'cluster-key-slot';
import fc from 'fast-check';
import { fakeProxy, turn } from '../helpers/fakeIo';
import { evenSlotRanges } from '../../src/topology/slots';
import { encodeCommand } from '../../src/resp';

const PONG = '*2\r\n$4\r\npong\r\n$0\r\n\r\n';

function shardOf(name: string, shards: number): number {
  const slot = calculateSlot(name);
  return evenSlotRanges(shards).findIndex(([first, last]) => slot >= first && slot <= last);
}

function messageFrame(channel: string, payload: string): string {
  return `*3\r\n$7\r\nmessage\r\n$${channel.length}\r\n${channel}\r\n$${payload.length}\r\n${payload}\r\n`;
}

async function subscribed(t: ExecutionContext, limits: Record<string, number> = {}) {
  const kv = fakeProxy(t, { shards: 2, config: { limits } });
  const owner = shardOf('news', 2);
  const a = kv.client();
  const b = kv.client();
  a.deliver(encodeCommand(['SUBSCRIBE', 'news']));
  await turn();
  const sub = kv.backend(owner);
  sub.connected();
  await turn();
  t.is(sub.takeSent(), encodeCommand(['SUBSCRIBE', 'news']).toString('latin1') + encodeCommand(['PING']).toString('latin1'));
  t.is(a.takeSent(), '', 'no confirmation before the shard has the subscription');
  sub.deliver('*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n' + PONG);
  await turn();
  t.is(a.takeSent(), '*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n');
  // The second client shares the connection: no new SUBSCRIBE, only the barrier.
  b.deliver(encodeCommand(['SUBSCRIBE', 'news']));
  await turn();
  t.is(kv.proxy.pubsub.connectionCount, 1);
  t.is(sub.takeSent(), encodeCommand(['PING']).toString('latin1'));
  return { kv, a, b, sub, owner };
}

test('one connection per shard shared by the clients; a message frame copied to each subscriber', async (t) => {
  const { a, b, sub } = await subscribed(t);
  sub.deliver(messageFrame('news', 'hello'));
  await turn();
  t.is(a.takeSent(), messageFrame('news', 'hello'));
  t.is(b.takeSent(), '', "b's confirmation waits for its barrier, and the message waits behind it");
  sub.deliver(PONG);
  await turn();
  t.is(b.takeSent(), '*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n' + messageFrame('news', 'hello'));
  // The last client leaving unsubscribes the shard; not before.
  a.deliver(encodeCommand(['UNSUBSCRIBE']));
  await turn();
  t.is(a.takeSent(), '*3\r\n$11\r\nunsubscribe\r\n$4\r\nnews\r\n:0\r\n');
  t.is(sub.takeSent(), '');
  b.deliver(encodeCommand(['UNSUBSCRIBE', 'news']));
  await turn();
  t.is(sub.takeSent(), encodeCommand(['UNSUBSCRIBE', 'news']).toString('latin1'));
});

test('frames cut anywhere by the reads: each message reaches the subscribers whole, in order', async (t) => {
  const { a, b, sub } = await subscribed(t);
  sub.deliver(PONG); // b's barrier
  await turn();
  a.takeSent();
  b.takeSent();
  const big = 'B'.repeat(300_000); // kept across many reads
  await fc.assert(
    fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 40 }), async (cuts) => {
      const stream = messageFrame('news', 'one') + messageFrame('news', big) + messageFrame('news', 'three');
      let at = 0;
      for (const n of [...cuts, stream.length]) {
        if (at >= stream.length) break;
        sub.deliver(stream.slice(at, at + n));
        at += n;
        await turn();
      }
      return a.takeSent() === stream && b.takeSent() === stream;
    }),
    { numRuns: 30 },
  );
  t.pass();
});

test('the hard limit cuts a subscriber at once, the soft limit only after its time', async (t) => {
  const { kv, a, sub } = await subscribed(t, { pubsubOutputHardBytes: 10_000, pubsubOutputSoftBytes: 100, pubsubOutputSoftSeconds: 10 });
  a.congested = true;
  sub.deliver(messageFrame('news', 'x'.repeat(200)));
  await turn();
  t.false(a.destroyed, 'above the soft limit for less than its time');
  kv.clock.advance(5_000);
  sub.deliver(messageFrame('news', 'y'));
  await turn();
  t.false(a.destroyed);
  kv.clock.advance(6_000);
  sub.deliver(messageFrame('news', 'z'));
  await turn();
  t.true(a.destroyed, 'above the soft limit for 11 s');
  t.is(kv.proxy.pubsub.slowClientsCut, 1);
});

test('the hard limit', async (t) => {
  const { kv, a, sub } = await subscribed(t, { pubsubOutputHardBytes: 1000, pubsubOutputSoftBytes: 0 });
  a.congested = true;
  sub.deliver(messageFrame('news', 'x'.repeat(500)));
  await turn();
  t.false(a.destroyed);
  const first = messageFrame('news', 'x'.repeat(500)).length;
  t.is(kv.proxy.pubsub.stats().peakClientOutput, first, 'the peak: what the client had left after the write');
  sub.deliver(messageFrame('news', 'x'.repeat(600)));
  await turn();
  t.true(a.destroyed);
  t.is(kv.proxy.pubsub.stats().peakClientOutput, first + messageFrame('news', 'x'.repeat(600)).length);
  t.is(kv.proxy.pubsub.stats().slowClientsCut, 1);
  t.is(kv.proxy.pubsub.localCount('channel', 'news'), 1, 'its subscription is gone with it (the other client stays)');
});

test('a subscribed client is not closed by the idle timeout (as Redis); once unsubscribed it is', async (t) => {
  const kv = fakeProxy(t, { shards: 2, config: { timeouts: { clientIdleMs: 1000 } } });
  const c = kv.client();
  c.deliver(encodeCommand(['SUBSCRIBE', 'news']));
  await turn();
  const sub = kv.backend(shardOf('news', 2));
  sub.connected();
  sub.deliver('*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n' + PONG);
  await turn();
  t.is(c.takeSent(), '*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n');
  kv.clock.advance(5000);
  t.false(c.destroyed);
  c.deliver(encodeCommand(['UNSUBSCRIBE']));
  await turn();
  kv.clock.advance(1300);
  t.true(c.destroyed);
});
