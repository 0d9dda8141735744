/**
 * Split and merge end to end: multi-key commands split by the addon over 3 real redis-servers
 * (grouped by the slot table), sub-replies merged by the addon, must answer exactly what one
 * redis-server answers to the original commands.
 */
import test from 'ava';
import net from 'node:net';
import { MergeKind, PLAN_HEADER, PLAN_KEY_STRIDE, PLAN_SUB_STRIDE } from '../../src/native/api';
import { startRedis, startRedisGroup } from '../helpers/redis';
import { Engine, nativeEngine, resp } from './native-setup';

/** A tiny RESP client over a raw socket, framing replies with the addon. */
class RawClient {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private constructor(private readonly sock: net.Socket, private readonly framer: Engine) {
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiters.splice(0).forEach((w) => w());
    });
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(port, '127.0.0.1', () => resolve(new RawClient(sock, nativeEngine())));
      sock.once('error', reject);
    });
  }

  /** Sends the bytes and resolves with the next complete reply. */
  async call(wire: Buffer): Promise<Buffer> {
    this.sock.write(wire);
    for (;;) {
      if (this.framer.hp.frameReplies(this.buf, 0) > 0) {
        const end = this.framer.replyEnds[0];
        const reply = this.buf.subarray(0, end);
        this.buf = this.buf.subarray(end);
        return reply;
      }
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  close(): void {
    this.sock.destroy();
  }
}

test('MSET/MGET/DEL/EXISTS/UNLINK/TOUCH split over 3 shards merge to what one redis-server answers', async (t) => {
  const shards = await startRedisGroup(3, t.teardown);
  const single = await startRedis();
  t.teardown(() => single.stop());
  const shardClients = await Promise.all(shards.map((s) => RawClient.connect(s.port)));
  const singleClient = await RawClient.connect(single.port);
  t.teardown(() => [...shardClients, singleClient].forEach((c) => c.close()));

  const e = nativeEngine({ shards: 3 });
  const keys = Array.from({ length: 24 }, (_, i) => (i % 5 === 0 ? `{tag}k${i}` : `key:${i}`));
  const script: Buffer[] = [
    resp('MSET', ...keys.flatMap((k, i) => [k, `v${i}`])),
    resp('MGET', ...keys, 'missing', keys[3], keys[3]),
    resp('EXISTS', keys[0], keys[0], 'missing', ...keys.slice(5, 12)),
    resp('TOUCH', ...keys.slice(0, 9)),
    resp('DEL', ...keys.slice(0, 6), 'missing'),
    resp('UNLINK', ...keys.slice(6, 10), keys[6]),
    resp('MGET', ...keys),
    resp('EXISTS', ...keys),
    Buffer.from('MSET "quoted key" \'v 1\' {tag}x "\\x00\\xff"\r\n'),
    Buffer.from('MGET "quoted key" {tag}x nope\r\n'),
  ];
  let shardsUsed = 0;
  for (const wire of script) {
    t.is(e.hp.parseRequests(wire, 0), 1);
    const sub = e.hp.split(wire, 0);
    const plan = e.plan.slice();
    const n = plan[0];
    t.true(n >= 1 && n <= 3);
    t.true([MergeKind.Array, MergeKind.Sum, MergeKind.AllOk].includes(plan[1]));
    shardsUsed = Math.max(shardsUsed, n);
    // Each sub-command goes to its shard; the sub-commands cover every key exactly once.
    const replies: Buffer[] = [];
    for (let s = 0; s < n; s++) {
      const o = PLAN_HEADER + s * PLAN_SUB_STRIDE;
      replies.push(await shardClients[plan[o]].call(sub.subarray(plan[o + 1], plan[o + 2])));
    }
    const keyCount = plan[2];
    const perSub = new Array<number>(n).fill(0);
    for (let k = 0; k < keyCount; k++) perSub[plan[PLAN_HEADER + n * PLAN_SUB_STRIDE + k * PLAN_KEY_STRIDE]]++;
    t.deepEqual(perSub, Array.from({ length: n }, (_, s) => plan[PLAN_HEADER + s * PLAN_SUB_STRIDE + 3]));
    const merged = e.hp.merge(plan, replies);
    const direct = await singleClient.call(wire);
    t.is(merged.toString('latin1'), direct.toString('latin1'), wire.toString('latin1').slice(0, 40));
  }
  t.is(shardsUsed, 3);
});

test('any error sub-reply becomes the reply; a wrong-shaped one gives the proxy error', (t) => {
  const e = nativeEngine({ shards: 3 });
  const wire = resp('MGET', 'a', 'b', 'c', 'd', 'e', 'f');
  e.hp.parseRequests(wire, 0);
  e.hp.split(wire, 0);
  const plan = e.plan.slice();
  const n = plan[0];
  const ok = (s: number) => Buffer.from(`*${plan[PLAN_HEADER + s * PLAN_SUB_STRIDE + 3]}\r\n` + '$-1\r\n'.repeat(plan[PLAN_HEADER + s * PLAN_SUB_STRIDE + 3]));
  const replies = Array.from({ length: n }, (_, s) => ok(s));
  t.is(e.hp.merge(plan, replies).toString(), '*6\r\n' + '$-1\r\n'.repeat(6));
  replies[n - 1] = Buffer.from('-LOADING Redis is loading\r\n');
  t.is(e.hp.merge(plan, replies).toString(), '-LOADING Redis is loading\r\n');
  replies[n - 1] = Buffer.from(':1\r\n');
  t.regex(e.hp.merge(plan, replies).toString(), /^-ERR Proxy error: unexpected reply/);
});
