/**
 * Pub/sub subscriptions through a failover, end to end: `kvstore start` (primary + 2 workers)
 * over real redis-servers, subscribers through the proxy on channels of every shard, a pattern,
 * shard channels and a keyspace-notification pattern, and one publisher loop per shard that
 * numbers its messages. One shard loses its master (kill -9):
 *   - store mode: its replica is promoted; the workers' subscriber connections to that shard
 *     are reopened on the new master and every subscription is made again there;
 *   - cache mode: the shard is ejected (its slots move to the others, and its channels with them)
 *     and later rejoins (they move back).
 * The clients never re-subscribe (ioredis' autoResubscribe is off and a reconnect fails the
 * test). Checked per subscriber and per stream (channel, pattern, shard channel, keyspace event):
 * the other shards' streams have every message exactly once in order; the failed shard's streams
 * lose one contiguous run of messages (the window, logged) and then have every later message
 * exactly once in order.
 */
import test from 'ava';
import Redis from 'ioredis';
import type { TopologySnapshot } from '../../src/topology/types';
import { KvstoreProcess, eventually, startKvstore } from '../helpers/kvstore';
import {
  Shard, ioredisOptions, ready, shardOf, sleep, startShards, startCluster, topologyOf,
} from './failover-helpers';

const NOTIFY = ['--notify-keyspace-events', 'KEA'];
const STATIC_CHANNELS = Array.from({ length: 60 }, (_, i) => `ch:${i}`);
const KINDS = ['message', 'pmessage', 'smessage', 'keyspace'] as const;
type Kind = (typeof KINDS)[number];



/** A hash tag per shard (`{tN}` whose slot the shard owns in `topo`), in shard order. */
function tagsPerShard(topo: TopologySnapshot): string[] {
  return topo.shards.map((s) => {
    for (let k = 0; ; k++) if (shardOf(topo, `{t${k}}`) === s.name) return `{t${k}}`;
  });
}

/**
 * One subscribed ioredis client. Loop messages (on the `ch:{tag}` / `sh:{tag}` channels and the
 * `kv:{tag}:<seq>` keys) are recorded as numbered streams per tag and kind; messages of the
 * static rounds are counted by what they were.
 */
class Subscriber {
  readonly client: Redis;
  readonly streams = new Map<string, number[]>();
  readonly rounds = new Map<string, number>();
  /** Keyspace events other than `set`, by event. */
  readonly otherEvents = new Map<string, number>();
  reconnects = 0;

  constructor(port: number) {
    this.client = new Redis({ ...ioredisOptions(port), autoResubscribe: false, retryStrategy: () => null });
    this.client.on('error', () => undefined);
    this.client.on('close', () => this.reconnects++);
    this.client.on('message', (ch: string, msg: string) => this.note('message', ch, msg));
    this.client.on('pmessage', (pattern: string, ch: string, msg: string) => {
      if (pattern === 'ch:*') return this.note('pmessage', ch, msg);
      // __keyspace@0__:kv:{tag}:<seq> (loop) or __keyspace@0__:kv:<round>:<i> (static)
      const key = ch.slice('__keyspace@0__:'.length);
      const m = /^kv:(\{t\d+\}):(\d+)$/.exec(key);
      // cache mode: after a rejoin the orphan sweep UNLINKs keys written elsewhere meanwhile (del)
      if (msg !== 'set') this.otherEvents.set(msg, (this.otherEvents.get(msg) ?? 0) + 1);
      else if (m) this.stream(m[1], 'keyspace').push(Number(m[2]));
      else this.count(`keyspace|${key}|${msg}`);
    });
    this.client.on('smessage', (ch: string, msg: string) => this.stream(ch.slice('sh:'.length), 'smessage').push(Number(msg)));
  }

  async subscribe(tags: string[]): Promise<void> {
    await ready(this.client, 5000);
    await this.client.subscribe(...STATIC_CHANNELS, ...tags.map((tag) => `ch:${tag}`));
    await this.client.psubscribe('ch:*', '__keyspace@0__:kv:*');
    for (const tag of tags) await this.client.ssubscribe(`sh:${tag}`);
  }

  stream(tag: string, kind: Kind): number[] {
    const key = `${tag}|${kind}`;
    let s = this.streams.get(key);
    if (!s) this.streams.set(key, (s = []));
    return s;
  }

  private note(kind: Kind, ch: string, msg: string): void {
    if (ch.includes('{')) this.stream(ch.slice('ch:'.length), kind).push(Number(msg));
    else this.count(`${kind}|${ch}|${msg}`);
  }

  private count(what: string): void {
    this.rounds.set(what, (this.rounds.get(what) ?? 0) + 1);
  }
}

/** Publishes message `seq` = 1, 2, ... on one tag's channel, shard channel and key, one at a time, on its own connection. */
class PublisherLoop {
  seq = 0;
  readonly sentAt: number[] = [0];
  readonly errors: { seq: number; at: number; message: string }[] = [];
  /** Replies of PUBLISH and SPUBLISH (subscribed proxy connections), per seq. */
  readonly replies: string[] = [];
  private running = true;
  private readonly done: Promise<void>;
  private readonly client: Redis;

  constructor(port: number, readonly tag: string) {
    this.client = new Redis({ ...ioredisOptions(port), commandTimeout: 10_000 });
    this.client.on('error', () => undefined);
    this.done = this.run();
  }

  private async run(): Promise<void> {
    while (this.running) {
      const seq = ++this.seq;
      this.sentAt[seq] = Date.now();
      try {
        await ready(this.client);
        const [n, sn] = await Promise.all([
          this.client.publish(`ch:${this.tag}`, String(seq)),
          this.client.call('SPUBLISH', `sh:${this.tag}`, String(seq)) as Promise<number>,
          this.client.set(`kv:${this.tag}:${seq}`, '1'),
        ]);
        this.replies[seq] = `${n}/${sn}`;
      } catch (err) {
        this.errors.push({ seq, at: this.sentAt[seq], message: (err as Error).message });
        await sleep(20);
      }
      await sleep(3);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
    this.client.disconnect();
  }
}

/** PUBLISH every static channel and SET `count` keys named kv:<round>:<i> (spread over the shards); resolves once every subscriber has them all. */
async function staticRound(port: number, round: string, subs: Subscriber[], keys = 60): Promise<void> {
  const c = new Redis(ioredisOptions(port));
  c.on('error', () => undefined);
  try {
    await ready(c, 5000);
    const pipeline = c.pipeline();
    for (const ch of STATIC_CHANNELS) pipeline.publish(ch, round);
    for (let i = 0; i < keys; i++) pipeline.set(`kv:${round}:${i}`, '1');
    const results = (await pipeline.exec())!;
    const failed = results.filter(([err]) => err !== null);
    if (failed.length) throw new Error(`round ${round}: ${failed.length} commands failed: ${failed[0][0]!.message}`);
  } finally {
    c.disconnect();
  }
  const expected = STATIC_CHANNELS.length * 2 + keys;
  const got = (s: Subscriber) => [...s.rounds.entries()].filter(([k]) => k.endsWith(`|${round}`) || k.includes(`|kv:${round}:`)).reduce((a, [, n]) => a + n, 0);
  await eventually(() => subs.every((s) => got(s) >= expected), 20_000, `round ${round} delivered`);
}

/** Every message of round `round` reached every subscriber exactly once (channel, pattern, keyspace event). */
function assertRoundOnce(t: { deepEqual(a: unknown, b: unknown, m?: string): void }, subs: Subscriber[], round: string, keys = 60): void {
  const want = new Map<string, number>();
  for (const ch of STATIC_CHANNELS) {
    want.set(`message|${ch}|${round}`, 1);
    want.set(`pmessage|${ch}|${round}`, 1);
  }
  for (let i = 0; i < keys; i++) want.set(`keyspace|kv:${round}:${i}|set`, 1);
  subs.forEach((s, i) => {
    const got = [...s.rounds.entries()].filter(([k]) => k.endsWith(`|${round}`) || k.includes(`|kv:${round}:`));
    t.deepEqual(Object.fromEntries(got.sort()), Object.fromEntries([...want.entries()].sort()), `subscriber ${i}, round ${round}`);
  });
}

/**
 * The seqs of one stream checked against 1..last: strictly rising (no duplicate, in order), and
 * what is missing as contiguous runs of seqs.
 */
function gaps(seqs: number[], last: number): { ordered: boolean; runs: Array<[number, number]>; disorder: string[] } {
  const disorder: string[] = [];
  for (let i = 1; i < seqs.length; i++) if (seqs[i] <= seqs[i - 1]) disorder.push(`${seqs[i - 1]} then ${seqs[i]}`);
  const ordered = disorder.length === 0;
  const have = new Set(seqs);
  const runs: Array<[number, number]> = [];
  for (let seq = 1; seq <= last; seq++) {
    if (have.has(seq)) continue;
    const run = runs[runs.length - 1];
    if (run && run[1] === seq - 1) run[1] = seq;
    else runs.push([seq, seq]);
  }
  return { ordered, runs, disorder };
}

interface Setup {
  kv: KvstoreProcess;
  subs: Subscriber[];
  loops: PublisherLoop[];
  tags: string[];
}

async function subscribeAndPublish(t: Parameters<typeof startKvstore>[0], kv: KvstoreProcess): Promise<Setup> {
  const topo = await topologyOf(kv);
  const tags = tagsPerShard(topo);
  // Static channels and keys of the rounds on every shard.
  const onShards = new Set(STATIC_CHANNELS.map((c) => shardOf(topo, c)));
  if (onShards.size !== topo.shards.length) throw new Error('static channels do not cover every shard');
  const subs = Array.from({ length: 4 }, () => new Subscriber(kv.port));
  t.teardown(() => subs.forEach((s) => s.client.disconnect()));
  for (const s of subs) await s.subscribe(tags);
  await staticRound(kv.port, 'r0', subs);
  const loops = tags.map((tag) => new PublisherLoop(kv.port, tag));
  t.teardown(() => Promise.all(loops.map((l) => l.stop())).then(() => undefined));
  return { kv, subs, loops, tags };
}

/** Resolves once every subscriber's every stream of `tag` has a message numbered above `seq`. */
async function resumedAfter(subs: Subscriber[], tag: string, seq: number, what: string): Promise<void> {
  await eventually(() => subs.every((s) => KINDS.every((k) => s.stream(tag, k).some((n) => n > seq))), 40_000, what);
}

/** Stop the loops once every stream has everything that will arrive; returns each loop's last seq. */
async function stopLoops(subs: Subscriber[], loops: PublisherLoop[]): Promise<number[]> {
  await Promise.all(loops.map((l) => l.stop()));
  const last = loops.map((l) => l.seq);
  // A failed last command may still have been applied: wait for what the last acknowledged one caused.
  const lastOk = loops.map((l) => {
    let seq = l.seq;
    while (seq > 0 && l.replies[seq] === undefined) seq--;
    return seq;
  });
  await eventually(() => subs.every((s) => loops.every((l, i) => KINDS.every((k) => s.stream(l.tag, k).includes(lastOk[i])))), 20_000, 'the last loop messages delivered');
  await sleep(300); // a duplicate would arrive by now
  return last;
}

test('store mode: kill -9 a master → subscriptions re-made on the promoted replica; other shards never interrupted', async (t) => {
  const shards = await startShards(3, 1, t.teardown, { s1: { args: NOTIFY }, s2: { args: NOTIFY }, s3: { args: NOTIFY } });
  // The replica must raise keyspace events once it is a master.
  for (const s of shards) {
    const r = new Redis(ioredisOptions(s.replicas[0].port));
    r.on('error', () => undefined);
    try {
      await (await ready(r, 5000)).config('SET', 'notify-keyspace-events', 'KEA');
    } finally {
      r.disconnect();
    }
  }
  const kv = await startCluster(t, shards, 'store');
  const { subs, loops, tags } = await subscribeAndPublish(t, kv);
  await resumedAfter(subs, tags[1], 20, 'every stream flowing');

  const killedAt = Date.now();
  const seqAtKill = loops[1].seq;
  await shards[1].master.kill();
  await eventually(async () => (await topologyOf(kv)).shards[1].master === shards[1].replicas[0].address, 30_000, 'promotion');
  const promotedMs = Date.now() - killedAt;
  const seqAtPromotion = loops[1].seq;
  await resumedAfter(subs, tags[1], seqAtPromotion, 's2 streams resumed after the promotion');
  const resumedMs = Date.now() - killedAt;
  // Publish on for a while after the switch: every one of these must arrive exactly once.
  const resumeSeq = loops[1].seq;
  await eventually(() => loops[1].seq >= resumeSeq + 100, 20_000, '100 more s2 messages');
  const last = await stopLoops(subs, loops);

  checkStreams(t, subs, loops, last, 1, 1, killedAt, seqAtKill);
  t.log(`STORE pub/sub failover: promoted ${promotedMs} ms after kill -9; every s2 stream flowing again ${resumedMs} ms after it (default health checks)`);
  t.true(subs.every((s) => s.reconnects === 0), 'no subscriber was disconnected');
  await staticRound(kv.port, 'r1', subs);
  await sleep(300);
  for (const round of ['r0', 'r1']) assertRoundOnce(t, subs, round);
  // The promoted replica has the workers' subscriber connections (one per worker with subscribers).
  const np = new Redis(ioredisOptions(shards[1].replicas[0].port));
  np.on('error', () => undefined);
  t.teardown(() => np.disconnect());
  const list = (await (await ready(np, 5000)).client('LIST')) as string;
  const subscribers = list.split('\n').filter((l) => / flags=P /.test(l)).length;
  t.true(subscribers >= 1 && subscribers <= 2, `${subscribers} subscriber connections on the new master`);
});

test('cache mode: a master ejected and rejoining → its channels follow its slots; other shards never interrupted', async (t) => {
  const shards = await startShards(3, 0, t.teardown, { s1: { args: NOTIFY }, s2: { args: NOTIFY }, s3: { args: NOTIFY } });
  const kv = await startCluster(t, shards, 'cache', { health: { rejoinAfterMs: 2000 } });
  const { subs, loops, tags } = await subscribeAndPublish(t, kv);
  await resumedAfter(subs, tags[1], 20, 'every stream flowing');

  const killedAt = Date.now();
  const seqAtKill = loops[1].seq;
  await shards[1].master.kill();
  await eventually(async () => (await topologyOf(kv)).shards[1].state === 'down', 30_000, 'ejection');
  const ejectedMs = Date.now() - killedAt;
  const topoEjected = await topologyOf(kv);
  const movedTo = shardOf(topoEjected, `ch:${tags[1]}`);
  t.not(movedTo, 's2');
  await resumedAfter(subs, tags[1], loops[1].seq, 's2 streams resumed on their new shard');
  const resumedMs = Date.now() - killedAt;
  await staticRound(kv.port, 'r1', subs);

  await shards[1].master.restart(); // empty, with keyspace events on (its arguments)
  const restartedAt = Date.now();
  const seqAtRestart = loops[1].seq;
  await eventually(async () => (await topologyOf(kv)).shards[1].state === 'up' && shardOf(await topologyOf(kv), `ch:${tags[1]}`) === 's2', 40_000, 'rejoin');
  const rejoinedMs = Date.now() - restartedAt;
  await resumedAfter(subs, tags[1], loops[1].seq, 's2 streams resumed after the rejoin');
  const resumeSeq = loops[1].seq;
  await eventually(() => loops[1].seq >= resumeSeq + 100, 20_000, '100 more s2 messages');
  const last = await stopLoops(subs, loops);

  // At most two runs lost on s2's tag: at the ejection and at the rejoin (the slot's move back).
  const windows = checkStreams(t, subs, loops, last, 1, 2, killedAt, seqAtKill);
  t.true(windows.filter(([from]) => from <= seqAtRestart).every(([, to]) => to <= seqAtRestart), 'the loss at the ejection ended before the restart');
  t.log(`CACHE pub/sub failover: ejected ${ejectedMs} ms after kill -9, s2's channels flowing again on ${movedTo} ${resumedMs} ms after it; restarted ${restartedAt - killedAt} ms after the kill, rejoined ${rejoinedMs} ms after restart`);
  t.true(subs.every((s) => s.reconnects === 0), 'no subscriber was disconnected');
  t.log(`CACHE pub/sub failover: keyspace events other than set seen by subscriber 0 (the orphan sweep after the rejoin): ${JSON.stringify(Object.fromEntries(subs[0].otherEvents))}`);
  await staticRound(kv.port, 'r2', subs);
  await sleep(300);
  for (const round of ['r0', 'r1', 'r2']) assertRoundOnce(t, subs, round);
});

/**
 * Streams of the untouched tags: every seq once, in order, no publish failed, the same subscriber
 * counts in every PUBLISH/SPUBLISH reply. Streams of tag `failed`: in order, no duplicate, at most
 * `maxRuns` contiguous runs lost, all after the kill and well before the end (everything after
 * the switch arrived). Logs the lost runs per kind (times from `since`) and returns them.
 */
function checkStreams(
  t: { is(a: unknown, b: unknown, m?: string): void; true(v: boolean, m?: string): void; deepEqual(a: unknown, b: unknown, m?: string): void; log(...v: unknown[]): void },
  subs: Subscriber[],
  loops: PublisherLoop[],
  last: number[],
  failed: number,
  maxRuns: number,
  since: number,
  seqAtKill: number,
): Array<[number, number]> {
  const lost: Array<[number, number]> = [];
  const byKind = new Map<Kind, Set<string>>();
  loops.forEach((loop, i) => {
    if (i === failed) return;
    t.deepEqual(loop.errors, [], `loop ${loop.tag}: no publish failed`);
    t.is(new Set(loop.replies.filter((r) => r !== undefined)).size, 1, `loop ${loop.tag}: the same subscriber counts throughout`);
  });
  const loop = loops[failed];
  const describe = ([a, b]: [number, number]) => {
    const acked = Array.from({ length: b - a + 1 }, (_, k) => a + k).filter((seq) => loop.replies[seq] !== undefined).length;
    return `#${a}..#${b} (${b - a + 1} messages published ${loop.sentAt[a] - since}..${loop.sentAt[b] - since} ms after the kill, ${acked} of them acknowledged)`;
  };
  subs.forEach((s, si) => {
    loops.forEach((l, i) => {
      for (const kind of KINDS) {
        const { ordered, runs, disorder } = gaps(s.stream(l.tag, kind), last[i]);
        const what = `subscriber ${si}, ${kind} of ${l.tag}`;
        t.true(ordered, `${what}: in order, no duplicate (${disorder.slice(0, 5).join(', ')})`);
        if (i !== failed) {
          t.deepEqual(runs, [], `${what}: nothing lost`);
          continue;
        }
        t.true(runs.length <= maxRuns, `${what}: lost runs ${JSON.stringify(runs)}`);
        t.true(runs.every(([from]) => from > seqAtKill - 2), `${what}: nothing lost before the kill (${JSON.stringify(runs)})`);
        t.true(runs.every(([, to]) => to < last[i] - 50), `${what}: everything after the switch arrived`);
        lost.push(...runs);
        for (const run of runs) (byKind.get(kind) ?? byKind.set(kind, new Set()).get(kind)!).add(describe(run));
      }
    });
  });
  for (const kind of KINDS) t.log(`lost on ${loop.tag}, ${kind}: ${[...(byKind.get(kind) ?? [])].join('; ') || 'nothing'}`);
  t.log(`${loop.errors.length} of ${last[failed]} publish rounds on ${loop.tag} failed (${[...new Set(loop.errors.map((e) => e.message.replace(/\d+/g, 'N')))].slice(0, 3).join(' | ')})`);
  return lost;
}
