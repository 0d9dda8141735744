/**
 * SLOWLOG and INFO latencystats of the whole proxy (`kvstore start` with 2 workers, real
 * redis-servers, ioredis): slow scripts run on connections held by different workers (told
 * apart by `INFO proxy`'s kvstore_pid) all appear in one SLOWLOG GET from either connection,
 * newest first with unique ids; LEN is their sum; RESET from one worker clears both; INFO
 * latencystats and `kvstore ctl stats` show commands only the other worker ran. A worker that does not answer
 * (stopped with SIGSTOP) is left out after the relay's timeout and named in the log, and the
 * asking worker's other clients are served meanwhile.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { KVSTORE_BIN, startKvstore, KvstoreProcess, eventually } from '../helpers/kvstore';

const run = promisify(execFile);

// Spins 0.5 s on the server's clock (TIME), however fast the machine (a loop counted in
// iterations can take anywhere from 0.2 to 1 s here); the threshold is far above a fast command.
const BUSY = 'local s = redis.call("TIME") repeat local u = redis.call("TIME") until (u[1] - s[1]) * 1e6 + u[2] - s[2] >= 5e5 return ARGV[1]';
const SLOWER_THAN_US = 250000;

type Entry = [number, number, number, string[], string, string];

/** Connect until `perWorker` clients are held by each of `workers` workers: pid → clients. */
async function clientsByWorker(t: { teardown(fn: () => void): void }, kv: KvstoreProcess, workers: number, perWorker: number): Promise<Redis[][]> {
  const byPid = new Map<number, Redis[]>();
  for (let i = 0; i < 64; i++) {
    const c = new Redis({ port: kv.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    t.teardown(() => c.disconnect());
    const pid = Number(/kvstore_pid:(\d+)/.exec(await c.info('proxy'))![1]);
    const list = byPid.get(pid) ?? [];
    list.push(c);
    byPid.set(pid, list);
    const enough = [...byPid.values()].filter((l) => l.length >= perWorker);
    if (enough.length >= workers) return enough.slice(0, workers).map((l) => l.slice(0, perWorker));
  }
  throw new Error(`64 connections did not reach ${workers} workers ${perWorker} times each`);
}

async function pidOf(c: Redis): Promise<number> {
  return Number(/kvstore_pid:(\d+)/.exec(await c.info('proxy'))![1]);
}

test('SLOWLOG GET/LEN/RESET and INFO latencystats answer for every worker', async (t) => {
  const kv = await startKvstore(t, { shards: 2, workers: 2, config: { slowlog: { slowerThanUs: SLOWER_THAN_US, maxLen: 16 } } });
  const [[a], [b]] = await clientsByWorker(t, kv, 2, 1);
  t.not(await pidOf(a), await pidOf(b));
  await a.client('SETNAME', 'on-a');
  await b.client('SETNAME', 'on-b');
  t.is(await a.eval(BUSY, 0, 'first-a'), 'first-a');
  t.is(await b.eval(BUSY, 0, 'then-b'), 'then-b');
  t.is(await a.eval(BUSY, 0, 'last-a'), 'last-a');

  for (const [c, who] of [[a, 'a'], [b, 'b']] as const) {
    const entries = (await c.call('SLOWLOG', 'GET', '-1')) as Entry[];
    const evals = entries.filter((e) => e[3][0] === 'eval');
    t.deepEqual(evals.map((e) => [e[3][3], e[5]]), [['last-a', 'on-a'], ['then-b', 'on-b'], ['first-a', 'on-a']], `newest first, asked on ${who}`);
    t.is(new Set(entries.map((e) => e[0])).size, entries.length, 'ids unique across the workers');
    t.true(evals.every((e) => e[2] >= SLOWER_THAN_US && e[3][1] === BUSY));
    t.is(await c.call('SLOWLOG', 'LEN'), entries.length, `LEN sums the workers, asked on ${who}`);
  }
  const newest = (await b.call('SLOWLOG', 'GET', '1')) as Entry[];
  t.is(newest.length, 1);
  t.is(newest[0][3][3], 'last-a', "GET 1 on b: a's entry, the newest of the proxy");

  t.is(await b.call('SLOWLOG', 'RESET'), 'OK');
  t.is(await a.call('SLOWLOG', 'LEN'), 0, "b's RESET cleared a's worker too");
  t.deepEqual(await a.call('SLOWLOG', 'GET'), []);

  // Commands only one worker ran show up in the other's INFO latencystats.
  for (let i = 0; i < 30; i++) await a.set(`only-a:${i}`, 'v');
  for (let i = 0; i < 30; i++) await b.incr('only-b');
  for (const c of [a, b]) {
    const info = await c.info('latencystats');
    t.regex(info, /^# Latencystats\r\n/);
    t.regex(info, /\r\nlatency_percentiles_usec_set:p50=\d+\.\d{3},p99=\d+\.\d{3},p99\.9=\d+\.\d{3}\r\n/);
    t.regex(info, /\r\nlatency_percentiles_usec_incr:p50=\d+\.\d{3},p99=\d+\.\d{3},p99\.9=\d+\.\d{3}\r\n/);
    const everything = await c.info('everything');
    t.is((everything.match(/# Latencystats/g) ?? []).length, 1);
    t.regex(everything, /latency_percentiles_usec_incr:p50=/);
  }
  const ctl = (...args: string[]) => run(process.execPath, [KVSTORE_BIN, 'ctl', '--admin', `127.0.0.1:${kv.adminPort}`, 'stats', ...args]);
  const stats = JSON.parse((await ctl('--json')).stdout);
  for (const name of ['set', 'incr']) {
    const c = stats.commands[name];
    t.true(c.calls >= 30 && c.p50 > 0 && c.p50 <= c.p99 && c.p99 <= c.p999, `${name}: ${JSON.stringify(c)}`);
  }
  const text = (await ctl()).stdout;
  t.regex(text, /COMMAND\s+CALLS\s+ERRORS\s+P50_US\s+P99_US\s+P99\.9_US/);
  t.regex(text, /\nincr\s+30\s+0\s+\d+\s+\d+\s+\d+/);
});

test('a worker that does not answer is left out and logged; the asking worker keeps serving', async (t) => {
  const kv = await startKvstore(t, { shards: 2, workers: 2, config: { slowlog: { slowerThanUs: SLOWER_THAN_US, maxLen: 16 } } });
  const [[a1, a2], [b]] = await clientsByWorker(t, kv, 2, 2);
  t.is(await a1.eval(BUSY, 0, 'from-a'), 'from-a');
  t.is(await b.eval(BUSY, 0, 'from-b'), 'from-b');
  const pidB = await pidOf(b);
  const resume = () => {
    try {
      process.kill(pidB, 'SIGCONT');
    } catch {
      /* gone */
    }
  };
  t.teardown(resume);
  process.kill(pidB, 'SIGSTOP');
  try {
    const order: string[] = [];
    const slowlog = a1.call('SLOWLOG', 'GET', '-1').then((r) => (order.push('slowlog'), r as Entry[]));
    const len = a1.call('SLOWLOG', 'LEN');
    t.is(await a2.ping(), 'PONG');
    order.push('ping');
    const entries = await slowlog;
    t.deepEqual(order, ['ping', 'slowlog'], "another client of the asking worker is served while it waits");
    t.deepEqual(entries.filter((e) => e[3][0] === 'eval').map((e) => e[3][3]), ['from-a'], 'the stopped worker is left out');
    t.is(await len, entries.length);
    // The primary's log line may reach its stdout after the reply reached the client.
    const leftOut = /"op":"slowlog-get","workers":\[\d+\],"timeoutMs":2000.*"msg":"workers left out of a query: no answer in time"/;
    await eventually(() => leftOut.test(kv.output()), 10_000, 'the log line naming the stopped worker');
    t.regex(kv.output(), leftOut);
  } finally {
    resume();
  }
  const again = (await a1.call('SLOWLOG', 'GET', '-1')) as Entry[];
  t.deepEqual(again.filter((e) => e[3][0] === 'eval').map((e) => e[3][3]), ['from-b', 'from-a'], 'back once it answers');
});
