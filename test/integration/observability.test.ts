/**
 * Observability end to end: SLOWLOG entries for a slow script (EVAL with a busy loop) in Redis's
 * entry format; INFO latencystats from the proxy's histograms; and with the real program (2
 * workers): latency histograms on /metrics, a hot key found under load, a big value found
 * (written and read), the merged slowlog, `ctl hotkeys` / `ctl bigkeys`.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { eventually, KVSTORE_BIN, startKvstore } from '../helpers/kvstore';
import { startProxy } from '../helpers/proxy';

const run = promisify(execFile);
// Spins 0.5 s on the server's clock (TIME), however fast the machine: a loop counted in
// iterations took 0.17-0.2 s here, right at the 200 ms thresholds below, so it was logged or not by chance.
const BUSY = 'local s = redis.call("TIME") repeat local u = redis.call("TIME") until (u[1] - s[1]) * 1e6 + u[2] - s[2] >= 5e5 return 1';

test('SLOWLOG GET/LEN/RESET: a slow EVAL with its arguments, client address and name; fast commands not logged', async (t) => {
  // 200 ms: far above what a fast command takes even on a loaded machine, far below the script.
  const started = await startProxy(t, { shards: 2, config: { slowlog: { slowerThanUs: 200000, maxLen: 16 } } });
  const c = started.client();
  await c.client('SETNAME', 'slowpoke');
  await c.set('fast', '1');
  t.is(await c.eval(BUSY, 0), 1);
  await c.get('fast');
  const entries = (await c.call('SLOWLOG', 'GET')) as unknown[][];
  t.is(await c.call('SLOWLOG', 'LEN'), entries.length);
  // The script once (on a loaded machine another command may pass 200 ms too: no timing asserts).
  const evals = entries.filter((e) => (e[3] as string[])[0] === 'eval');
  t.is(evals.length, 1);
  const [id, time, duration, args, addr, name] = evals[0];
  t.is(typeof id, 'number');
  t.true(Math.abs((time as number) - Date.now() / 1000) < 30);
  t.true((duration as number) >= 200000, `duration ${duration} µs`);
  t.deepEqual(args, ['eval', BUSY, '0']);
  t.is(addr, `127.0.0.1:${(c as unknown as { stream: { localPort: number } }).stream.localPort}`);
  t.is(name, 'slowpoke');
  t.is((await c.call('SLOWLOG', 'GET', '-2').catch((e: Error) => e.message)), 'ERR count should be greater than or equal to -1');
  t.is(await c.call('SLOWLOG', 'RESET'), 'OK');
  t.is(await c.call('SLOWLOG', 'LEN'), 0);
});

test('SLOWLOG keeps the arguments of a slow command in a deep pipeline and truncates like Redis', async (t) => {
  // End to end: the commands queued behind the script on its shard are slow too (unlike Redis,
  // which times execution only; even the SETs before it, whose replies Redis writes after the script).
  const started = await startProxy(t, { shards: 1, config: { slowlog: { slowerThanUs: 200000, maxLen: 1000 } } });
  const c = started.client();
  const p = c.pipeline();
  for (let i = 0; i < 200; i++) p.set(`k${i}`, 'v');
  p.eval(BUSY, 2, `{t}${'a'.repeat(297)}`, '{t}b');
  for (let i = 0; i < 200; i++) p.get(`k${i}`);
  await p.exec();
  const entries = (await c.call('SLOWLOG', 'GET', '-1')) as unknown[][];
  const evalEntry = entries.find((e) => (e[3] as string[])[0] === 'eval');
  t.truthy(evalEntry);
  t.deepEqual(evalEntry![3], ['eval', BUSY, '2', `{t}${'a'.repeat(125)}... (172 more bytes)`, '{t}b']);
  t.deepEqual(entries.filter((e) => (e[3] as string[])[0] === 'get').length, 200);
});

test('INFO latencystats: the proxy\'s per-command percentiles in Redis 7 format', async (t) => {
  const started = await startProxy(t, { shards: 2 });
  const c = started.client();
  for (let i = 0; i < 50; i++) await c.set(`l${i}`, 'v');
  await c.get('l1');
  const info = (await c.info('latencystats')) as string;
  t.regex(info, /^# Latencystats\r\n/);
  t.regex(info, /\r\nlatency_percentiles_usec_set:p50=\d+\.\d{3},p99=\d+\.\d{3},p99\.9=\d+\.\d{3}\r\n/);
  t.regex(info, /\r\nlatency_percentiles_usec_get:p50=/);
  const everything = (await c.info('everything')) as string;
  t.is((everything.match(/# Latencystats/g) ?? []).length, 1, "the shard's own section is replaced, not repeated");
});

test('the program: histograms on /metrics, a hot key under load, a big value, merged slowlog, ctl hotkeys/bigkeys', async (t) => {
  const kv = await startKvstore(t, {
    shards: 2,
    workers: 2,
    config: { hotKeys: { hitsPerSec: 300, sampleRate: 0.05 }, bigKeys: { bytes: 100000 }, slowlog: { slowerThanUs: 20000 } },
  });
  const clients = Array.from({ length: 4 }, () => new Redis({ port: kv.port, host: '127.0.0.1', maxRetriesPerRequest: 0 }));
  t.teardown(() => clients.forEach((c) => c.disconnect()));
  // ~4 clients hammering one key for 3 s (a few thousand hits/s), plus a cold spread.
  const until = Date.now() + 3000;
  await Promise.all(clients.map(async (c, n) => {
    let i = 0;
    while (Date.now() < until) {
      const p = c.pipeline();
      for (let j = 0; j < 20; j++) p.get('hot:key').get(`cold:${n}:${i++}`);
      await p.exec();
    }
  }));
  const big = 'x'.repeat(300000);
  await clients[0].set('big:value', big);
  t.is((await clients[0].get('big:value'))!.length, big.length);
  await clients[0].eval(BUSY, 0);

  const hot = await eventually(async () => {
    const r = await kv.admin('GET', '/hotkeys');
    return r.body.keys.find((k: { key: string }) => k.key === 'hot:key') ? r.body : undefined;
  }, 10000, 'hot:key in GET /hotkeys');
  t.true(hot.keys[0].hitsPerSec >= 300);
  t.false(hot.keys.some((k: { key: string }) => k.key.startsWith('cold:')), 'cold keys are not hot');

  const bigkeys = await eventually(async () => {
    const r = await kv.admin('GET', '/bigkeys');
    return r.body.keys.length >= 2 ? r.body : undefined;
  }, 10000, 'two big-key entries');
  const kinds = bigkeys.keys.map((k: { key: string; kind: string; command: string }) => `${k.kind}:${k.command}:${k.key}`).sort();
  t.deepEqual(kinds, ['reply:get:big:value', 'request:set:big:value']);

  const slow = await kv.admin('GET', '/slowlog?count=5');
  t.true(slow.body.entries.some((e: { args: string[] }) => e.args[0] === 'eval'));

  const metrics = (await kv.admin('GET', '/metrics')).text;
  const getCount = /kvstore_command_duration_seconds_count\{command="get"\} (\d+)/.exec(metrics);
  t.truthy(getCount, 'GET latency histogram on /metrics');
  t.true(Number(getCount![1]) > 1000);
  t.regex(metrics, /kvstore_command_duration_seconds_bucket\{command="get",le="0\.001"\} \d+/);
  t.regex(metrics, /kvstore_command_duration_seconds_bucket\{command="get",le="\+Inf"\} \d+/);
  const latency = await kv.admin('GET', '/latency');
  t.true(latency.body.commands.get.calls > 1000 && latency.body.commands.get.p99 >= latency.body.commands.get.p50);

  const admin = `127.0.0.1:${kv.adminPort}`;
  const hotJson = JSON.parse((await run(process.execPath, [KVSTORE_BIN, 'ctl', '--admin', admin, 'hotkeys', '--json'])).stdout);
  t.true(hotJson.keys.some((k: { key: string }) => k.key === 'hot:key'));
  const bigText = (await run(process.execPath, [KVSTORE_BIN, 'ctl', '--admin', admin, 'bigkeys'])).stdout;
  t.regex(bigText, /"big:value"\s+set\s+request\s+3000\d\d/);
  t.regex(kv.output(), /"msg":"hot key"/);
  t.regex(kv.output(), /"msg":"big key"/);
});
