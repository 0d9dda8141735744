/**
 * `npm run bench`: Kvstore next to direct Redis and Twemproxy on the same 3 shards, in one run.
 * Starts every process it measures (loopback, free ports, temp dirs, no persistence), runs
 * redis-benchmark for each (workload, pipeline) cell with the systems interleaved, reports the
 * medians with CPU per request and ratios, and stops exactly what it started.
 * See benchmarks/README.md for what is measured and how.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runConnections } from './connections';
import { describeMachine } from './lib/machine';
import { parseOptions, SuiteOptions, USAGE } from './lib/options';
import { checkSystem, fillKeyspace } from './lib/prepare';
import { installSignalCleanup, runMain } from './lib/processes';
import { processTree, treeCpuSeconds } from './lib/procStat';
import { runRedisBenchmark } from './lib/redisBenchmark';
import { measureInterleaved } from './lib/measure';
import { aggregate, checkTargets } from './lib/results';
import { runHeader, markdownMachine, markdownSummary, markdownTable, markdownTargets, SystemInfo, textTable } from './lib/report';
import { barChartSvg } from './lib/chart';
import { Server, startRedisServer, startTwemproxy, twemproxyBinary, which } from './lib/servers';
import { kvstoreAvailable, kvstoreCli, REPO_ROOT, startKvstore } from './lib/kvstore';
import { benchmarkArgs, CLIENTS, KEYSPACE, VALUE_BYTES, WORKLOADS, Workload } from './lib/workloads';
import { runBigMset } from './lib/bigMset';

interface RunningSystem extends SystemInfo {
  server: Server;
}

const ALL_SYSTEMS = ['redis', 'twemproxy', 'kvstore-1', 'kvstore-auto'];

function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Wait (bounded) until a Kvstore primary has forked its workers. */
async function waitForWorkers(rootPid: number, workers: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const count = processTree(rootPid).length - 1;
    if (count >= workers || Date.now() > deadline) return count;
    await sleep(100);
  }
}

/** A --kvstore-config / --baseline-config file's YAML, on a line of its own after the generated config. */
function extraYaml(file: string | null): string | undefined {
  return file ? `\n${fs.readFileSync(file, 'utf8')}\n` : undefined;
}

async function startSystems(options: SuiteOptions, shards: Server[], notes: string[]): Promise<RunningSystem[]> {
  const wanted = options.systems ?? ALL_SYSTEMS;
  for (const id of wanted) if (!ALL_SYSTEMS.includes(id)) throw new Error(`unknown system ${id}; known: ${ALL_SYSTEMS.join(', ')}`);
  const running: RunningSystem[] = [];
  if (wanted.includes('redis')) {
    const server = await startRedisServer('direct');
    running.push({ id: 'redis', label: 'Redis direct (1 server)', server });
  }
  if (wanted.includes('twemproxy')) {
    const binary = twemproxyBinary();
    if (!binary) {
      notes.push('Twemproxy skipped: `nutcracker` is not installed (Debian package `nutcracker`).');
    } else {
      try {
        const server = await startTwemproxy(binary, shards, options.distribution);
        running.push({ id: 'twemproxy', label: `Twemproxy (${options.distribution})`, server });
      } catch (err) {
        notes.push(`Twemproxy skipped: ${(err as Error).message}`);
      }
    }
  }
  const kvstores = wanted.filter((id) => id.startsWith('kvstore-'));
  const cli = kvstoreCli(options.kvstore);
  if (kvstores.length > 0 && !kvstoreAvailable(cli)) {
    notes.push(`Kvstore skipped: ${path.relative(REPO_ROOT, cli)} does not exist (yet) in this checkout.`);
  } else {
    for (const id of kvstores) {
      const workers = id === 'kvstore-auto' ? 'auto' : 1;
      const expected = workers === 'auto' ? os.availableParallelism() : 1;
      const nodeArgs = [...options.kvstoreNodeArgs, ...(options.profileDir ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(options.profileDir, id)] : [])];
      try {
        const server = await startKvstore(id, workers, shards, nodeArgs, cli, { extraYaml: extraYaml(options.kvstoreConfig) });
        const forked = await waitForWorkers(server.process.pid, expected, 15_000);
        if (forked < expected) notes.push(`${id}: expected ${expected} worker processes, found ${forked}.`);
        const config = options.kvstoreConfig ? ` (+ ${path.basename(options.kvstoreConfig)})` : '';
        running.push({ id, label: (workers === 'auto' ? `Kvstore auto (${expected} workers)` : 'Kvstore 1 worker') + config, server });
      } catch (err) {
        notes.push(`${id} skipped: ${(err as Error).message}`);
      }
    }
  }
  if (options.baseline) {
    const baselineCli = kvstoreCli(options.baseline);
    if (!kvstoreAvailable(baselineCli)) {
      notes.push(`baseline skipped: ${baselineCli} does not exist.`);
    } else {
      try {
        const server = await startKvstore('baseline', 1, shards, options.kvstoreNodeArgs, baselineCli, { extraYaml: extraYaml(options.baselineConfig) });
        await waitForWorkers(server.process.pid, 1, 15_000);
        const config = options.baselineConfig ? ` + ${path.basename(options.baselineConfig)}` : '';
        running.push({ id: 'baseline', label: `Kvstore baseline 1 worker (${path.basename(path.resolve(options.baseline))}${config})`, server });
      } catch (err) {
        notes.push(`baseline skipped: ${(err as Error).message}`);
      }
    }
  }
  return running;
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  if (options.connections > 0) {
    // the idle-connections section: memory per client and the spread over workers
    const args = ['--clients', String(options.connections), '--balance', '4000', ...(options.baseline ? ['--baseline', options.baseline] : []), ...(options.outDir ? ['--out', options.outDir] : [])];
    return runConnections(args);
  }
  installSignalCleanup();
  if (options.bigMset) return runBigMset(options);
  for (const binary of ['redis-server', 'redis-benchmark']) {
    if (!which(binary)) throw new Error(`${binary} not found: run \`bash scripts/install-deps.sh\``);
  }
  const workloads: Workload[] = options.workloads
    ? options.workloads.map((id) => {
        const w = WORKLOADS.find((x) => x.id === id);
        if (!w) throw new Error(`unknown workload ${id}; known: ${WORKLOADS.map((x) => x.id).join(', ')}`);
        return w;
      })
    : WORKLOADS;
  const machine = describeMachine(twemproxyBinary(), REPO_ROOT);
  const notes: string[] = [];
  const started = Date.now();

  log('starting 3 shards');
  const shards = await Promise.all([1, 2, 3].map((i) => startRedisServer(`shard${i}`)));
  const systems = await startSystems(options, shards, notes);
  for (const note of notes) log(note);

  const measured: RunningSystem[] = [];
  for (const s of systems) {
    try {
      await checkSystem(s.server.port);
      await fillKeyspace(s.server.port);
      measured.push(s);
      log(`${s.id} ready on 127.0.0.1:${s.server.port} (pids ${treeCpuSeconds([s.server.process.pid]).pids.join(' ')}), ${KEYSPACE} keys filled`);
    } catch (err) {
      const note = `${s.id} not measured: ${(err as Error).message}`;
      notes.push(note);
      log(note);
    }
  }
  if (measured.length === 0) throw new Error('no system could be measured');

  const timeoutMs = options.quick ? 60_000 : 120_000;
  // Warm up (JIT, connections, allocator) with one short pipelined GET and MSET run per system.
  for (const s of measured) {
    for (const w of WORKLOADS.filter((x) => x.id === 'get' || x.id === 'mset10')) {
      await runRedisBenchmark(benchmarkArgs(s.server.port, w, 16, Math.round(w.requests[16] / 10 / options.scale)), timeoutMs);
    }
  }

  const shardPids = shards.map((s) => s.process.pid);
  const run = await measureInterleaved(
    measured.map((s) => ({
      id: s.id,
      args: (w, pipeline, requests) => benchmarkArgs(s.server.port, w, pipeline, requests),
      roots: [s.server.process.pid],
      shardPids: s.id === 'redis' ? [] : shardPids,
    })),
    {
      workloads,
      pipelines: options.pipelines,
      reps: options.reps,
      requests: (w, pipeline) => Math.max(1000, Math.round((w.requests[pipeline] ?? w.requests[16]) / options.scale)),
      maxSeconds: options.maxSeconds,
      timeoutMs,
      log,
    },
  );
  const samples = run.samples;
  notes.push(...run.notes);

  const systemInfo: SystemInfo[] = measured.map(({ id, label }) => ({ id, label }));
  const cells = aggregate(samples, { workloads: workloads.map((w) => w.id), pipelines: options.pipelines, systems: measured.map((s) => s.id) });
  const targets = checkTargets(cells);
  const outDir = path.resolve(options.outDir ?? path.join(REPO_ROOT, 'benchmarks', 'results'));
  fs.mkdirSync(outDir, { recursive: true });
  const head = runHeader('bench', { ...options, clients: CLIENTS, keyspace: KEYSPACE, valueBytes: VALUE_BYTES, startedAt: started }, {
    twemproxyDistribution: options.distribution,
    requestsPerRun: Object.fromEntries(workloads.map((w) => [w.id, Object.fromEntries(options.pipelines.map((p) => [p, Math.max(1000, Math.round((w.requests[p] ?? w.requests[16]) / options.scale))]))])),
  });
  const json = {
    command: head.command,
    machine,
    settings: head.settings,
    systems: systemInfo,
    notes,
    cells,
    targets,
    samples,
  };
  fs.writeFileSync(path.join(outDir, `${options.name}.json`), `${JSON.stringify(json, null, 2)}\n`);
  const chartTitle = `Kvstore vs Twemproxy vs direct Redis: 3 shards, ${CLIENTS} clients (${machine.nproc} cores, ${machine.cpuModel})`;
  fs.writeFileSync(path.join(outDir, `${options.name}.svg`), barChartSvg(cells, systemInfo, workloads, options.pipelines, chartTitle));
  const md = [
    `# Benchmark results (${options.name})`,
    '',
    `Command: \`${head.command}\` — ${options.reps} run(s) per cell, median shown; systems interleaved; ${head.elapsed} s in all.`,
    `Each cell: redis-benchmark, ${CLIENTS} clients, keys random over ${KEYSPACE} (all filled beforehand), ${VALUE_BYTES}-byte values; MSET/MGET carry 10 keys each (requests/s counts commands).`,
    'CPU µs/request: user+system CPU of the system\'s own processes (Twemproxy: nutcracker; Kvstore: primary + workers; direct: the redis-server) over the run, divided by requests.',
    '',
    '## Machine',
    '',
    markdownMachine(machine),
    `- load average at end: ${head.loadAtEnd.join(' ')} (the machine is shared: other work running during the run shows as spread between repetitions, see \`rpsMin\`/\`rpsMax\` and every sample in the JSON)`,
    '',
    ...(notes.length ? ['## Notes', '', ...notes.map((n) => `- ${n}`), ''] : []),
    '## Summary',
    '',
    markdownSummary(cells, systemInfo, new Map(workloads.map((w) => [w.id, w.label]))),
    '',
    `![requests/s](${options.name}.svg)`,
    '',
    '## All columns',
    '',
    markdownTable(cells, systemInfo),
    '',
    '## Targets (issue 8, Kvstore at its best worker count)',
    '',
    markdownTargets(targets),
    '',
  ].join('\n');
  fs.writeFileSync(path.join(outDir, `${options.name}.md`), md);
  console.log(textTable(cells));
  if (notes.length) console.log(`\nnotes:\n${notes.map((n) => `- ${n}`).join('\n')}`);
  log(`wrote ${path.relative(process.cwd(), path.join(outDir, options.name))}.{json,md,svg} in ${head.elapsed} s`);
  return 0;
}

runMain(main, log);
