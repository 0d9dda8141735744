/** Import: TTL arithmetic and the change feed's pending set (on a fake subscriber). */
import test from 'ava';
import { EventEmitter } from 'node:events';
import { remainingTtl } from '../../src/import/KeyCopier';
import { ChangeFeed } from '../../src/import/ChangeFeed';
import type { RespClient } from '../../src/resp';

test('remainingTtl: none, gone, and the time spent copying taken off', (t) => {
  t.is(remainingTtl(-1, 1000, 5000), 0, 'no TTL: RESTORE 0');
  t.is(remainingTtl(-2, 1000, 1000), null, 'gone');
  t.is(remainingTtl(10_000, 1000, 1250), 9750);
  t.is(remainingTtl(100, 1000, 1100), null, 'expired while copying');
  t.is(remainingTtl(100, 1000, 1500), null);
});

class FakeSubscriber extends EventEmitter {
  handler?: (channel: Buffer, payload: Buffer) => void;
  pattern?: Buffer;
  async psubscribe(pattern: Buffer, onMessage: (channel: Buffer, payload: Buffer) => void): Promise<void> {
    this.pattern = pattern;
    this.handler = onMessage;
  }
  close(): void {}
  notify(key: Buffer | string, event = 'set'): void {
    this.handler!(Buffer.concat([Buffer.from('__keyspace@0__:'), Buffer.from(key)]), Buffer.from(event));
  }
}

test('ChangeFeed: one pending entry per key, oldest first, binary names kept, busy keys left', async (t) => {
  const sub = new FakeSubscriber();
  const feed = new ChangeFeed(sub as unknown as RespClient);
  let lost = 0;
  await feed.start('user:*', () => lost++);
  t.is(sub.pattern!.toString(), '__keyspace@0__:user:*');
  sub.notify('user:1');
  sub.notify('user:2', 'del');
  sub.notify('user:1', 'expire');
  const binary = Buffer.from([0x75, 0xff, 0x00, 0x0d, 0x0a]);
  sub.notify(binary);
  t.is(feed.pending, 3);
  t.true(feed.lagMs() >= 0);
  const first = feed.take(10, (k) => k === 'user:2');
  t.deepEqual(first.map((k) => k.toString('latin1')), ['user:1', binary.toString('latin1')]);
  t.true(first[1].equals(binary));
  t.is(feed.pending, 1, 'the busy key stays pending');
  feed.requeue(Buffer.from('user:1'));
  t.deepEqual(feed.take(10, () => false).map(String), ['user:2', 'user:1']);
  t.is(feed.lagMs(), 0);
  sub.emit('close', new Error('gone'));
  t.is(lost, 1, 'a dropped subscription is reported');
});
