import test from 'ava';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { median, ratio, round } from '../../benchmarks/lib/stats';
import { parseRedisBenchmarkCsv, splitCsvLine } from '../../benchmarks/lib/redisBenchmarkCsv';
import { descendants, parseProcStat, ProcStat } from '../../benchmarks/lib/procStat';
import { aggregate, checkTargets, Sample } from '../../benchmarks/lib/results';
import { markdownSummary, textTable } from '../../benchmarks/lib/report';
import { barChartSvg, gridDivisions, niceMax, shortNumber } from '../../benchmarks/lib/chart';
import { parseOptions } from '../../benchmarks/lib/options';
import { benchmarkArgs, keyName, WORKLOADS } from '../../benchmarks/lib/workloads';
import { parseReply, encodeCommand } from '../../src/resp';
import { cpuModelFromCpuinfo } from '../../benchmarks/lib/machine';
import { twemproxyConfig } from '../../benchmarks/lib/servers';
import { kvstoreConfig, kvstoreEnv } from '../../benchmarks/lib/kvstore';
import { summarizeProfile } from '../../benchmarks/lib/cpuProfile';

test('median: odd and even counts, ignores missing values', (t) => {
  t.is(median([3, 1, 2]), 2);
  t.is(median([4, 1, 3, 2]), 2.5);
  t.is(median([null, 5, undefined, NaN]), 5);
  t.is(median([]), null);
  t.is(median([null]), null);
});

test('ratio and round', (t) => {
  t.is(ratio(3, 2), 1.5);
  t.is(ratio(3, 0), null);
  t.is(ratio(null, 2), null);
  t.is(ratio(2, undefined), null);
  t.is(round(1.23456, 2), 1.23);
  t.is(round(null, 2), null);
});

// Captured from redis-benchmark 7.0.15 with --csv (progress lines end in \r).
const CSV_OUTPUT = [
  'WARNING: Could not fetch server CONFIG',
  'SET: rps=0.0 (overall: nan) avg_msec=nan (overall: nan)\r"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"',
  '"SET","79051.38","0.348","0.096","0.311","0.551","1.327","2.215"',
  '',
].join('\n');

test('parses the redis-benchmark 7 CSV row with latencies', (t) => {
  const parsed = parseRedisBenchmarkCsv(CSV_OUTPUT);
  t.deepEqual(parsed.errorLines, []);
  t.deepEqual(parsed.rows, [{ test: 'SET', rps: 79051.38, avgMs: 0.348, minMs: 0.096, p50Ms: 0.311, p95Ms: 0.551, p99Ms: 1.327, maxMs: 2.215 }]);
});

test('custom command names with quotes and commas survive CSV splitting', (t) => {
  t.deepEqual(splitCsvLine('"mget a,b ""x""","1.5"'), ['mget a,b "x"', '1.5']);
  t.is(splitCsvLine('not csv'), null);
  const parsed = parseRedisBenchmarkCsv('"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"\n"mset k:__rand_int__ v","84745.77","0.305","0.096","0.295","0.383","0.463","0.815"\n');
  t.is(parsed.rows[0].test, 'mset k:__rand_int__ v');
  t.is(parsed.rows[0].p99Ms, 0.463);
});

test('server errors are reported, not parsed as a row', (t) => {
  const parsed = parseRedisBenchmarkCsv('WARNING: -e option has no effect.\nError from server: ERR unknown command\n"test","rps","avg_latency_ms"\n');
  t.deepEqual(parsed.errorLines, ['Error from server: ERR unknown command']);
  t.is(parsed.rows.length, 0);
});

test('parses /proc/<pid>/stat even with spaces and parentheses in the name', (t) => {
  const line = '4242 (node (worker) 1) S 4200 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 11 0 98765 1000 100 18446744073709551615';
  t.deepEqual(parseProcStat(line), { pid: 4242, ppid: 4200, state: 'S', cpuTicks: 325, userTicks: 250, startTicks: 98765 });
  t.is(parseProcStat('garbage'), null);
});

test('descendants walks the whole process tree and nothing else', (t) => {
  const p = (pid: number, ppid: number): ProcStat => ({ pid, ppid, state: 'S', cpuTicks: pid, userTicks: 0, startTicks: 0 });
  const all = [p(1, 0), p(10, 1), p(11, 10), p(12, 10), p(13, 12), p(20, 1), p(21, 20)];
  t.deepEqual(descendants(all, 10).map((s) => s.pid).sort(), [10, 11, 12, 13]);
  t.deepEqual(descendants(all, 99), []);
});

function sample(system: string, workload: string, rps: number, extra: Partial<Sample> = {}): Sample {
  return { system, workload, pipeline: 1, rep: 0, requests: 100_000, rps, p50Ms: 0.3, p99Ms: 1, cpuSeconds: 1, cpuUserSeconds: 0.25, shardCpuSeconds: 0.5, wallSeconds: 1, error: null, ...extra };
}

test('aggregate takes medians per cell and ratios against Twemproxy and direct Redis', (t) => {
  const samples = [
    sample('redis', 'set', 100_000), sample('redis', 'set', 90_000), sample('redis', 'set', 110_000),
    sample('twemproxy', 'set', 50_000, { cpuSeconds: 1, p99Ms: 2 }), sample('twemproxy', 'set', 60_000, { cpuSeconds: 1.2, p99Ms: 2 }), sample('twemproxy', 'set', 70_000, { cpuSeconds: 1.4, p99Ms: 2 }),
    sample('kvstore-1', 'set', 75_000, { cpuSeconds: 1.8, p99Ms: 1 }), sample('kvstore-1', 'set', 0, { error: 'timed out', rps: null }),
  ];
  const cells = aggregate(samples, { workloads: ['set'], pipelines: [1], systems: ['redis', 'twemproxy', 'kvstore-1'] });
  t.deepEqual(cells.map((c) => c.system), ['redis', 'twemproxy', 'kvstore-1']);
  const [direct, twem, kv] = cells;
  t.is(direct.rps, 100_000);
  t.is(direct.rpsVsDirect, null);
  t.is(twem.rps, 60_000);
  t.is(twem.rpsMin, 50_000);
  t.is(twem.rpsMax, 70_000);
  t.is(twem.rpsVsDirect, 0.6);
  t.is(twem.rpsVsTwemproxy, null);
  t.is(round(twem.cpuUsPerRequest, 6), 12); // median of 10, 12, 14 µs
  t.is(round(twem.cpuUserUsPerRequest, 6), 2.5);
  t.is(kv.runs, 1);
  t.is(kv.failed, 1);
  t.deepEqual(kv.errors, ['timed out']);
  t.is(kv.rpsVsTwemproxy, 1.25);
  t.is(kv.rpsVsDirect, 0.75);
  t.is(round(kv.cpuVsTwemproxy, 6), 1.5);
  t.is(kv.p99VsTwemproxy, 0.5);
});

test('checkTargets uses the best Kvstore worker count and the 1.5x bar for MSET/MGET', (t) => {
  const samples = [
    sample('twemproxy', 'get', 100), sample('kvstore-1', 'get', 90), sample('kvstore-auto', 'get', 120, { p99Ms: 1.5 }),
    sample('twemproxy', 'mget10', 100), sample('kvstore-1', 'mget10', 140), sample('kvstore-auto', 'mget10', 130),
  ];
  const cells = aggregate(samples, { workloads: ['get', 'mget10'], pipelines: [1], systems: ['twemproxy', 'kvstore-1', 'kvstore-auto'] });
  const [get, mget] = checkTargets(cells);
  t.is(get.best, 'kvstore-auto');
  t.is(get.throughput, 1.2);
  t.true(get.throughputOk);
  t.false(get.p99Ok);
  t.true(get.cpuOk);
  t.is(mget.best, 'kvstore-1');
  t.is(mget.throughputNeeded, 1.5);
  t.false(mget.throughputOk);
});

test('checkTargets reports n/a without Twemproxy or Kvstore', (t) => {
  const cells = aggregate([sample('redis', 'set', 100)], { workloads: ['set'], pipelines: [1], systems: ['redis'] });
  const [check] = checkTargets(cells);
  t.is(check.best, null);
  t.is(check.throughputOk, null);
});

test('the text table is fixed-width and stable', (t) => {
  const cells = aggregate([sample('redis', 'set', 100_000), sample('twemproxy', 'set', 50_000)], { workloads: ['set'], pipelines: [1], systems: ['redis', 'twemproxy'] });
  const lines = textTable(cells).split('\n');
  t.is(lines.length, 3);
  t.regex(lines[0], /^workload\s+P\s+system\s+req\/s/);
  t.regex(lines[2], /^set\s+1\s+twemproxy\s+50000\s+0\.300\s+1\.000\s+10\.00\s+2\.50\s+-\s+0\.50x/);
  t.is(textTable(cells), textTable(cells));
});

test('chart helpers and SVG output', (t) => {
  t.is(niceMax(73_000), 80_000);
  t.is(niceMax(431_965), 500_000);
  t.is(niceMax(268_609), 300_000);
  t.is(niceMax(0), 1);
  t.deepEqual([25_000, 200_000, 300_000, 150_000, 80_000].map(gridDivisions), [5, 4, 3, 3, 4]);
  t.is(shortNumber(25_000), '25k');
  t.is(shortNumber(431_965), '432k');
  t.is(shortNumber(1_500_000), '1.5M');
  t.is(shortNumber(950), '950');
  const cells = aggregate([sample('redis', 'set', 100_000), sample('twemproxy', 'set', 50_000)], { workloads: ['set'], pipelines: [1], systems: ['redis', 'twemproxy'] });
  const svg = barChartSvg(cells, [{ id: 'redis', label: 'Redis <direct>' }, { id: 'twemproxy', label: 'Twemproxy' }], [{ id: 'set', label: 'SET' }], [1], 'title & more');
  t.true(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  t.is((svg.match(/<rect [^>]*><title>/g) ?? []).length, 2);
  t.true(svg.includes('Redis &lt;direct&gt;'));
  t.true(svg.includes('title &amp; more'));
});

test('options: --quick means one repetition at a third of the requests', (t) => {
  const quick = parseOptions(['--quick']);
  t.is(quick.reps, 1);
  t.is(quick.scale, 3);
  t.is(quick.name, 'quick');
  const full = parseOptions(['--systems', 'redis,twemproxy', '--pipelines', '16']);
  t.is(full.reps, 3);
  t.is(full.name, 'latest');
  t.deepEqual(full.systems, ['redis', 'twemproxy']);
  t.deepEqual(full.pipelines, [16]);
  t.deepEqual(parseOptions(['--kvstore-node-args', '--perf-basic-prof  --max-old-space-size=256']).kvstoreNodeArgs, ['--perf-basic-prof', '--max-old-space-size=256']);
  t.is(parseOptions(['--baseline', '../before']).baseline, '../before');
  const onOff = parseOptions(['--baseline', '.', '--baseline-config', 'off.yaml', '--kvstore-config', 'on.yaml']);
  t.deepEqual([onOff.baseline, onOff.baselineConfig, onOff.kvstoreConfig], ['.', 'off.yaml', 'on.yaml']);
  t.is(parseOptions([]).baselineConfig, null);
  t.throws(() => parseOptions(['--baseline-config']), { message: /needs a value/ });
  t.throws(() => parseOptions(['--bogus']), { message: /unknown option/ });
  t.throws(() => parseOptions(['--reps', '0']), { message: /positive/ });
});

test('workloads: MSET/MGET carry 10 independent random keys, no hash tag', (t) => {
  const mset = WORKLOADS.find((w) => w.id === 'mset10')!;
  const args = benchmarkArgs(7000, mset, 16, 1000);
  t.deepEqual(args.slice(0, 14), ['-h', '127.0.0.1', '-p', '7000', '-c', '50', '-n', '1000', '-P', '16', '-r', '100000', '--csv', 'mset']);
  t.is(args.filter((a) => a === 'key:__rand_int__').length, 10);
  t.false(args.some((a) => a.includes('{')));
  t.is(keyName(42), 'key:000000000042');
});

test('RESP encode and parse as the suite reads replies (bulk strings as text), including partial input', (t) => {
  const text = { strings: true };
  t.is(encodeCommand(['GET', 'k']).toString(), '*2\r\n$3\r\nGET\r\n$1\r\nk\r\n');
  const buf = Buffer.from('*3\r\n$1\r\na\r\n$-1\r\n:5\r\n-ERR x\r\n');
  const first = parseReply(buf, 0, text)!;
  t.deepEqual(first.value, ['a', null, 5]);
  const err = parseReply(buf, first.next, text)!;
  t.true(err.value instanceof Error);
  t.is(parseReply(Buffer.from('$5\r\nab'), 0, text), undefined);
  t.is(parseReply(Buffer.from('*2\r\n+OK\r\n'), 0, text), undefined);
});

test('machine and Twemproxy config details', (t) => {
  t.is(cpuModelFromCpuinfo('processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t: x\n'), 'AMD EPYC 7B13');
  t.is(cpuModelFromCpuinfo(''), 'unknown');
  const conf = twemproxyConfig(9000, [{ name: 'shard1', port: 1, address: '127.0.0.1:1' } as never], 'ketama');
  t.true(conf.includes('hash_tag: "{}"'));
  t.true(conf.includes('listen: 127.0.0.1:9000'));
  t.true(conf.includes('- 127.0.0.1:1:1 shard1'));
});

test('Kvstore gets the generated config only: KVSTORE_* overrides are dropped', (t) => {
  const env = kvstoreEnv({ PATH: '/bin', KVSTORE_LISTEN_PORT: '1', KVSTORE_WORKERS: '8' });
  t.deepEqual(env, { PATH: '/bin', KVSTORE_LOG_LEVEL: 'warn' });
  const yaml = kvstoreConfig({ port: 7401, adminPort: 7501, workers: 'auto', stateDir: '/tmp/x y', shards: [{ name: 'shard1', port: 1, address: '127.0.0.1:1' } as never] });
  t.true(yaml.includes('workers: auto'));
  t.true(yaml.includes('stateDir: "/tmp/x y"'));
  t.true(yaml.includes('    master: 127.0.0.1:1'));
});

test('CPU profile summary attributes sampled time to functions and files', (t) => {
  const profile = {
    startTime: 0,
    endTime: 100,
    nodes: [
      { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 }, children: [2, 3] },
      { id: 2, callFrame: { functionName: 'onData', url: 'file:///w/dist/src/proxy/Client.js', lineNumber: 9 } },
      { id: 3, callFrame: { functionName: '(garbage collector)', url: '', lineNumber: -1 } },
      { id: 4, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
    ],
    samples: [2, 2, 3, 2, 4],
    timeDeltas: [10, 10, 20, 40, 500],
  };
  const s = summarizeProfile(profile);
  t.is(s.totalMicros, 80);
  t.is(s.idleMicros, 500);
  t.deepEqual(s.functions[0], { name: 'onData dist/src/proxy/Client.js:10', micros: 60, share: 0.75 });
  t.deepEqual(s.files.map((f) => f.name), ['dist/src/proxy/Client.js', '(garbage collector)']);
});

test('the summary puts the systems side by side with Kvstore\'s best ratio', (t) => {
  const cells = aggregate(
    [sample('twemproxy', 'get', 100_000, { p99Ms: 2 }), sample('kvstore-1', 'get', 90_000), sample('kvstore-auto', 'get', 150_000)],
    { workloads: ['get'], pipelines: [1], systems: ['twemproxy', 'kvstore-1', 'kvstore-auto'] },
  );
  const md = markdownSummary(cells, [{ id: 'twemproxy', label: 'Twemproxy' }, { id: 'kvstore-1', label: 'Kvstore 1' }, { id: 'kvstore-auto', label: 'Kvstore auto' }], new Map([['get', 'GET']]));
  const lines = md.split('\n');
  t.is(lines.length, 3);
  t.is(lines[2], '| GET | 1 | 100000 (2.00) | 90000 (1.00) | 150000 (1.00) | 1.50x |');
});

test('npm run bench:native runs against the current HotPath contract (smoke run, no speed asserted)', (t) => {
  const script = path.join(__dirname, '..', '..', 'benchmarks', 'native-framing.js');
  const run = spawnSync(process.execPath, [script], { env: { ...process.env, BENCH_SECONDS: '0.02' }, encoding: 'utf8', timeout: 60_000 });
  t.is(run.status, 0, run.stderr);
  for (const row of ['GET (100 pipelined)', 'SET 16 B', 'SET 256 B', 'replies: 100 bulk/null']) t.regex(run.stdout, new RegExp(`${row.replace(/[()]/g, '\\$&')}.* M/s .* M/s .*x`));
});

test('big MSET: the exact wire bytes, and --big-mset selects it', async (t) => {
  const { bigMsetCommand } = await import('../../benchmarks/lib/bigMset');
  t.is(bigMsetCommand(2, 3).toString('latin1'), '*5\r\n$4\r\nMSET\r\n$16\r\nkey:000000000000\r\n$3\r\nvvv\r\n$16\r\nkey:000000000001\r\n$3\r\nvvv\r\n');
  const full = bigMsetCommand();
  t.true(full.length > 29e6 && full.length < 31e6, `${full.length} bytes`);
  t.true(parseOptions(['--big-mset']).bigMset);
  t.false(parseOptions([]).bigMset);
});
