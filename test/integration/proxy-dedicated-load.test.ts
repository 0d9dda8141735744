/**
 * 500 clients blocked at once (BLPOP on the same shards) while 50 clients run GET/SET: the
 * blocked ones must not stall the shared connections. The p99 of the GET/SET load with and
 * without the blocked clients is reported (t.log), not asserted (the machine is shared); what
 * is asserted is correctness: every GET/SET reply right, every blocked client woken with its
 * own element, and the shards' connection counts back to their baseline afterwards.
 */
import test from 'ava';
import { startProxy } from '../helpers/proxy';
import { RawClient, encodeCommand } from '../helpers/raw';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function connections(port: number): Promise<number> {
  const c = await RawClient.connect(port);
  const n = (await c.call('CLIENT', 'LIST')).toString('latin1').split('\n').filter((l) => l.startsWith('id=')).length - 1;
  c.close();
  return n;
}

/** 50 clients doing SET then GET of their own keys for `ms`; latencies in ms. */
async function load(ms: number, clients: RawClient[]): Promise<{ latencies: number[]; wrong: number }> {
  const latencies: number[] = [];
  let wrong = 0;
  const deadline = Date.now() + ms;
  await Promise.all(clients.map(async (c, n) => {
    for (let i = 0; Date.now() < deadline; i++) {
      const key = `load:${n}:${i % 50}`;
      let t0 = process.hrtime.bigint();
      if ((await c.call('SET', key, String(i))).toString() !== '+OK\r\n') wrong++;
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      t0 = process.hrtime.bigint();
      if ((await c.call('GET', key)).toString() !== `$${String(i).length}\r\n${i}\r\n`) wrong++;
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }));
  return { latencies, wrong };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

test('500 blocked clients do not stall a 50-client GET/SET load on the same shards', async (t) => {
  const kv = await startProxy(t, { shards: 2 });
  const loaders = await Promise.all(Array.from({ length: 50 }, () => RawClient.connect(kv.port)));
  t.teardown(() => loaders.forEach((c) => c.close()));
  await load(300, loaders); // warm up
  await sleep(200);
  const baseline = [await connections(kv.redis[0].port), await connections(kv.redis[1].port)];

  const quiet = await load(2000, loaders);
  t.is(quiet.wrong, 0);

  const blocked = await Promise.all(Array.from({ length: 500 }, () => RawClient.connect(kv.port)));
  t.teardown(() => blocked.forEach((c) => c.close()));
  const replies = blocked.map((c, i) => {
    c.write(encodeCommand(['BLPOP', `bq:${i}`, '0']));
    return c.reply(60_000);
  });
  // Wait until all 500 are blocked on the shards.
  const blockedOnShards = async () => {
    let n = 0;
    for (const r of kv.redis) {
      const c = await RawClient.connect(r.port);
      n += Number(/blocked_clients:(\d+)/.exec((await c.call('INFO', 'clients')).toString())![1]);
      c.close();
    }
    return n;
  };
  const deadline = Date.now() + 20_000;
  while ((await blockedOnShards()) < 500 && Date.now() < deadline) await sleep(100);
  t.is(await blockedOnShards(), 500);

  const busy = await load(2000, loaders);
  t.is(busy.wrong, 0);

  // Wake every blocked client with its own element.
  const pusher = loaders[0];
  for (let i = 0; i < 500; i++) pusher.write(encodeCommand(['LPUSH', `bq:${i}`, `v${i}`]));
  await pusher.replies(500, 30_000);
  const got = await Promise.all(replies);
  got.forEach((r, i) => t.is(r.toString(), `*2\r\n$${`bq:${i}`.length}\r\nbq:${i}\r\n$${`v${i}`.length}\r\nv${i}\r\n`));
  // Every dedicated connection came back (clean: kept idle for the next ones, trimmed later).
  const info = (await pusher.call('INFO', 'proxy')).toString();
  t.regex(info, /dedicated_connections_leased:0\r\n/);
  const idle = /dedicated_connections_idle:(\d+)/.exec(info)![1];
  // Blocked again, then gone: those connections are closed, not kept.
  for (let i = 0; i < 100; i++) blocked[i].write(encodeCommand(['BLPOP', `bq:${i}`, '0']));
  while ((await blockedOnShards()) < 100 && Date.now() < deadline + 20_000) await sleep(100);
  const during = (await connections(kv.redis[0].port)) + (await connections(kv.redis[1].port));
  for (const c of blocked) c.close();
  const until = Date.now() + 10_000;
  const total = async () => (await connections(kv.redis[0].port)) + (await connections(kv.redis[1].port));
  while ((await total()) > during - 100 && Date.now() < until) await sleep(100);
  t.true((await total()) <= during - 100, 'the 100 blocked connections are closed at once');
  t.log(`backend connections: baseline ${baseline[0] + baseline[1]}, ${idle} dedicated idle after the wake-up, ${during} with 100 blocked, ${await total()} after they left`);

  const fmt = (r: { latencies: number[] }) =>
    `${r.latencies.length} ops, p50 ${percentile(r.latencies, 50).toFixed(2)} ms, p99 ${percentile(r.latencies, 99).toFixed(2)} ms`;
  t.log(`50 clients GET/SET, no blocked clients: ${fmt(quiet)}`);
  t.log(`50 clients GET/SET, 500 clients blocked in BLPOP: ${fmt(busy)}`);
});
