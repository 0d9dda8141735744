/**
 * `npm run bench:tls`: Kvstore's TLS listener (Node's tls.Server, clients served through
 * NodeStream) against redis-server's own TLS port, in one run on the same machine. Certificates
 * are made with openssl in a temp dir; redis-benchmark connects with `--tls --cacert`. Kvstore's
 * plain-TCP listener (the addon's sockets, same process) is measured beside for context, and
 * `--baseline CHECKOUT` adds another checkout's Kvstore over TLS (A/B of a change in one run).
 * See benchmarks/README.md ("TLS") for what is measured and how.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { makeCertificates } from '../test/helpers/tls';
import { freePort, waitForPort } from '../test/helpers/ports';
import { kvstoreAvailable, kvstoreCli, REPO_ROOT, startKvstore } from './lib/kvstore';
import { describeMachine } from './lib/machine';
import { measureInterleaved } from './lib/measure';
import { checkSystem, fillKeyspace } from './lib/prepare';
import { installSignalCleanup, registerTempDir, runMain } from './lib/processes';
import { treeCpuSeconds } from './lib/procStat';
import { runRedisBenchmark } from './lib/redisBenchmark';
import { aggregate, Cell } from './lib/results';
import { runHeader, alignedRows, int, markdownMachine, markdownRows, num, times } from './lib/report';
import { Server, startRedisServer, TlsFiles, twemproxyBinary, which } from './lib/servers';
import { ratio } from './lib/stats';
import { benchmarkArgs, CLIENTS, KEYSPACE, VALUE_BYTES, WORKLOADS, Workload } from './lib/workloads';

const USAGE = `usage: npm run bench:tls -- [options]
  --reps N               repetitions per cell, systems interleaved (default 3; 1 with --quick)
  --quick                one repetition, a third of the requests
  --scale X              divide the request counts by X (default 1; 3 with --quick)
  --workloads a,b        among set,get (default set,get)
  --pipelines 1,16       pipeline depths (default 1,16)
  --systems a,b          among redis-tls,kvstore-tls,kvstore-plain (default all; --baseline adds baseline-tls)
  --baseline PATH        also measure another checkout's Kvstore over TLS (1 worker): before/after in one run
  --kvstore PATH         measure another checkout's Kvstore instead of this one
  --kvstore-node-args=A  node arguments for Kvstore (and the baseline), e.g. --kvstore-node-args=--perf-basic-prof
                         (with "=": the value starts with a dash)
  --profile DIR          run this checkout's Kvstore under node --cpu-prof, profiles in DIR
                         (summarize: node dist/benchmarks/profile-summary.js DIR)
  --name NAME            output names in benchmarks/results (default tls; tls-quick with --quick)
  --out DIR              output directory (default benchmarks/results)
  --max-seconds N        stop measuring after N seconds (default 1500)`;

/** Requests per run at each depth (a full run; --scale divides them). */
const REQUESTS: Record<number, number> = { 1: 100_000, 16: 500_000 };
const SYSTEM_IDS = ['redis-tls', 'kvstore-tls', 'kvstore-plain'];
const DIRECT_TLS = 'redis-tls';
const KVSTORE_TLS = 'kvstore-tls';
const BASELINE_TLS = 'baseline-tls';

interface Options {
  reps: number;
  scale: number;
  workloads: Workload[];
  pipelines: number[];
  systems: string[];
  baseline: string | null;
  kvstore: string | null;
  kvstoreNodeArgs: string[];
  profileDir: string | null;
  name: string;
  outDir: string;
  maxSeconds: number;
}

/** One measured endpoint: a port, TLS or not, and the processes whose CPU is its cost. */
interface Endpoint {
  id: string;
  label: string;
  port: number;
  tls: boolean;
  root: number;
  /** the shards' CPU is recorded apart for proxies; the direct redis-server has none */
  shardPids: number[];
}

function log(message: string): void {
  process.stderr.write(`bench:tls: ${message}\n`);
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      reps: { type: 'string' },
      quick: { type: 'boolean', default: false },
      scale: { type: 'string' },
      workloads: { type: 'string', default: 'set,get' },
      pipelines: { type: 'string', default: '1,16' },
      systems: { type: 'string', default: SYSTEM_IDS.join(',') },
      baseline: { type: 'string' },
      kvstore: { type: 'string' },
      'kvstore-node-args': { type: 'string', default: '' },
      profile: { type: 'string' },
      name: { type: 'string' },
      out: { type: 'string' },
      'max-seconds': { type: 'string', default: '1500' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return null;
  const positive = (name: string, v: string): number => {
    const n = Number(v);
    if (!(n > 0)) throw new Error(`--${name} needs a positive number, got ${v}`);
    return n;
  };
  const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
  const workloads = list(values.workloads).map((id) => {
    const w = WORKLOADS.find((x) => x.id === id && (id === 'set' || id === 'get'));
    if (!w) throw new Error(`unknown workload ${id}; known: set, get`);
    return w;
  });
  const systems = list(values.systems);
  for (const id of systems) if (!SYSTEM_IDS.includes(id)) throw new Error(`unknown system ${id}; known: ${SYSTEM_IDS.join(', ')}`);
  const quick = values.quick;
  return {
    reps: values.reps ? Math.floor(positive('reps', values.reps)) : quick ? 1 : 3,
    scale: values.scale ? positive('scale', values.scale) : quick ? 3 : 1,
    workloads,
    pipelines: list(values.pipelines).map((p) => positive('pipelines', p)),
    systems,
    baseline: values.baseline ?? null,
    kvstore: values.kvstore ?? null,
    kvstoreNodeArgs: values['kvstore-node-args'].split(/\s+/).filter(Boolean),
    profileDir: values.profile ? path.resolve(values.profile) : null,
    name: values.name ?? (quick ? 'tls-quick' : 'tls'),
    outDir: path.resolve(values.out ?? path.join(REPO_ROOT, 'benchmarks', 'results')),
    maxSeconds: positive('max-seconds', values['max-seconds']),
  };
}

/** The YAML that gives a Kvstore its TLS listener beside the plain one. */
function tlsYaml(port: number, files: TlsFiles): string {
  return ['', 'tls:', `  port: ${port}`, `  certFile: ${JSON.stringify(files.certFile)}`, `  keyFile: ${JSON.stringify(files.keyFile)}`, ''].join('\n');
}

/** A Kvstore (1 worker) over the shards with a TLS listener; its TLS and plain endpoints. */
async function startKvstoreTls(
  id: string, cli: string, shards: Server[], files: TlsFiles, nodeArgs: string[],
): Promise<{ tls: number; plain: number; root: number }> {
  const tlsPort = await freePort();
  const server = await startKvstore(id, 1, shards, nodeArgs, cli, { extraYaml: tlsYaml(tlsPort, files) });
  await waitForPort(tlsPort, '127.0.0.1', 15_000);
  return { tls: tlsPort, plain: server.port, root: server.process.pid };
}

async function startEndpoints(options: Options, shards: Server[], files: TlsFiles, notes: string[]): Promise<Endpoint[]> {
  const shardPids = shards.map((s) => s.process.pid);
  const endpoints: Endpoint[] = [];
  if (options.systems.includes(DIRECT_TLS)) {
    const direct = await startRedisServer('direct-tls', { tls: files });
    endpoints.push({ id: DIRECT_TLS, label: 'redis-server --tls-port (direct, 1 server)', port: direct.port, tls: true, root: direct.process.pid, shardPids: [] });
  }
  const wantsKvstore = options.systems.includes(KVSTORE_TLS) || options.systems.includes('kvstore-plain');
  const cli = kvstoreCli(options.kvstore);
  if (wantsKvstore && !kvstoreAvailable(cli)) {
    notes.push(`Kvstore skipped: ${cli} does not exist.`);
  } else if (wantsKvstore) {
    const nodeArgs = [...options.kvstoreNodeArgs, ...(options.profileDir ? ['--cpu-prof', '--cpu-prof-dir', options.profileDir] : [])];
    const kv = await startKvstoreTls('kvstore', cli, shards, files, nodeArgs);
    if (options.systems.includes(KVSTORE_TLS)) {
      endpoints.push({ id: KVSTORE_TLS, label: 'Kvstore 1 worker, TLS port', port: kv.tls, tls: true, root: kv.root, shardPids });
    }
    if (options.systems.includes('kvstore-plain')) {
      endpoints.push({ id: 'kvstore-plain', label: 'Kvstore 1 worker, plain TCP (same process)', port: kv.plain, tls: false, root: kv.root, shardPids });
    }
  }
  if (options.baseline) {
    const baselineCli = kvstoreCli(options.baseline);
    if (!kvstoreAvailable(baselineCli)) {
      notes.push(`baseline skipped: ${baselineCli} does not exist.`);
    } else {
      try {
        const b = await startKvstoreTls('baseline', baselineCli, shards, files, options.kvstoreNodeArgs);
        const dir = path.resolve(options.baseline);
        const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: dir, encoding: 'utf8' }).stdout?.trim();
        const name = `${path.basename(dir)}${commit ? ` @ ${commit}` : ''}`;
        endpoints.push({ id: BASELINE_TLS, label: `Kvstore baseline (${name}) 1 worker, TLS port`, port: b.tls, tls: true, root: b.root, shardPids });
      } catch (err) {
        notes.push(`baseline skipped: ${(err as Error).message}`);
      }
    }
  }
  return endpoints;
}

/** Per-cell comparisons: against redis-server's TLS port, and this checkout against the baseline. */
interface Comparison {
  workload: string;
  pipeline: number;
  system: string;
  rpsVsDirectTls: number | null;
  cpuVsDirectTls: number | null;
  rpsVsBaseline: number | null;
  cpuVsBaseline: number | null;
}

function compare(cells: Cell[]): Comparison[] {
  return cells.map((cell) => {
    const same = (id: string) => cells.find((c) => c.workload === cell.workload && c.pipeline === cell.pipeline && c.system === id);
    const direct = same(DIRECT_TLS);
    const baseline = cell.system === KVSTORE_TLS ? same(BASELINE_TLS) : undefined;
    const vsDirect = cell.system !== DIRECT_TLS;
    return {
      workload: cell.workload,
      pipeline: cell.pipeline,
      system: cell.system,
      rpsVsDirectTls: vsDirect ? ratio(cell.rps, direct?.rps) : null,
      cpuVsDirectTls: vsDirect ? ratio(cell.cpuUsPerRequest, direct?.cpuUsPerRequest) : null,
      rpsVsBaseline: ratio(cell.rps, baseline?.rps),
      cpuVsBaseline: ratio(cell.cpuUsPerRequest, baseline?.cpuUsPerRequest),
    };
  });
}

const HEADER = ['workload', 'P', 'system', 'req/s', 'p50 ms', 'p99 ms', 'cpu us/req', 'user us/req', 'vs direct TLS', 'cpu vs direct TLS', 'vs baseline', 'cpu vs baseline'];

function rows(cells: Cell[], comparisons: Comparison[], labels?: Map<string, string>): string[][] {
  return cells.map((c, i) => [
    c.workload,
    String(c.pipeline),
    labels?.get(c.system) ?? c.system,
    int(c.rps),
    num(c.p50Ms, 3),
    num(c.p99Ms, 3),
    num(c.cpuUsPerRequest, 2),
    num(c.cpuUserUsPerRequest, 2),
    times(comparisons[i].rpsVsDirectTls),
    times(comparisons[i].cpuVsDirectTls),
    times(comparisons[i].rpsVsBaseline),
    times(comparisons[i].cpuVsBaseline),
  ]);
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (!options) {
    console.log(USAGE);
    return 0;
  }
  installSignalCleanup();
  for (const binary of ['redis-server', 'redis-benchmark', 'openssl']) {
    if (!which(binary)) throw new Error(`${binary} not found: run \`bash scripts/install-deps.sh\``);
  }
  const machine = describeMachine(twemproxyBinary(), REPO_ROOT);
  const notes: string[] = [];
  const started = Date.now();

  log('making certificates (openssl) and starting 3 shards');
  const certs = makeCertificates();
  registerTempDir(certs.dir);
  const files: TlsFiles = { certFile: certs.certFile, keyFile: certs.keyFile, caFile: certs.caFile };
  const clientTls = { ca: fs.readFileSync(certs.caFile), servername: 'localhost' };
  const shards = await Promise.all([1, 2, 3].map((i) => startRedisServer(`shard${i}`)));
  const endpoints = await startEndpoints(options, shards, files, notes);
  for (const note of notes) log(note);

  // Each endpoint must answer like Redis (over its own protocol); the keyspace is filled once
  // through the shards' first Kvstore endpoint and once in the direct redis-server.
  const measured: Endpoint[] = [];
  let shardsFilled = false;
  for (const e of endpoints) {
    try {
      const tls = e.tls ? { tls: clientTls } : {};
      await checkSystem(e.port, tls);
      if (e.shardPids.length === 0 || !shardsFilled) await fillKeyspace(e.port, 120_000, tls);
      if (e.shardPids.length > 0) shardsFilled = true;
      measured.push(e);
      log(`${e.id} ready on 127.0.0.1:${e.port} (pids ${treeCpuSeconds([e.root]).pids.join(' ')})`);
    } catch (err) {
      const note = `${e.id} not measured: ${(err as Error).message}`;
      notes.push(note);
      log(note);
    }
  }
  if (measured.length === 0) throw new Error('no system could be measured');

  const timeoutMs = 180_000;
  const tlsArgs = (e: Endpoint) => (e.tls ? ['--tls', '--cacert', certs.caFile, '--sni', 'localhost'] : []);
  const requestsAt = (pipeline: number) => Math.max(1000, Math.round((REQUESTS[pipeline] ?? REQUESTS[16]) / options.scale));
  log('warming up');
  for (const e of measured) {
    const get = WORKLOADS.find((w) => w.id === 'get')!;
    await runRedisBenchmark([...tlsArgs(e), ...benchmarkArgs(e.port, get, 16, Math.round(requestsAt(16) / 5))], timeoutMs);
  }

  const run = await measureInterleaved(
    measured.map((e) => ({
      id: e.id,
      args: (w, pipeline, requests) => [...tlsArgs(e), ...benchmarkArgs(e.port, w, pipeline, requests)],
      roots: [e.root],
      shardPids: e.shardPids,
    })),
    { workloads: options.workloads, pipelines: options.pipelines, reps: options.reps, requests: (_w, pipeline) => requestsAt(pipeline), maxSeconds: options.maxSeconds, timeoutMs, log },
  );
  const samples = run.samples;
  notes.push(...run.notes);

  const cells = aggregate(samples, { workloads: options.workloads.map((w) => w.id), pipelines: options.pipelines, systems: measured.map((e) => e.id) });
  const comparisons = compare(cells);
  const requestsPerRun = Object.fromEntries(options.pipelines.map((p) => [p, requestsAt(p)]));
  const head = runHeader('bench:tls', { ...options, clients: CLIENTS, keyspace: KEYSPACE, valueBytes: VALUE_BYTES, startedAt: started }, { requestsPerRun });
  fs.mkdirSync(options.outDir, { recursive: true });
  const json = {
    command: head.command,
    machine,
    settings: head.settings,
    systems: measured.map(({ id, label, tls }) => ({ id, label, tls })),
    notes,
    cells,
    comparisons,
    samples,
  };
  fs.writeFileSync(path.join(options.outDir, `${options.name}.json`), `${JSON.stringify(json, null, 2)}\n`);
  const labels = new Map(measured.map((e) => [e.id, e.label]));
  const md = [
    `# TLS benchmark (${options.name})`,
    '',
    `Command: \`${head.command}\` — ${options.reps} run(s) per cell, median shown; systems interleaved; ${head.elapsed} s in all.`,
    `Each cell: redis-benchmark (\`--tls --cacert\` on the TLS ports), ${CLIENTS} clients, keys random over ${KEYSPACE} (all filled beforehand), ${VALUE_BYTES}-byte values; ${Object.entries(requestsPerRun).map(([p, n]) => `${n} requests per run at -P ${p}`).join(', ')}.`,
    'Kvstore: 1 worker over 3 redis-server shards, `tls.port` (Node\'s tls.Server, clients served through NodeStream) and its plain listener (the addon\'s sockets) in the same process. Direct: one redis-server with `--port 0 --tls-port` and the same certificate.',
    'CPU µs/request: user+system CPU of the system\'s own processes (Kvstore: primary + worker; direct: its redis-server) over the run, divided by requests; the shards\' CPU is in the JSON (`shardCpuUsPerRequest`). vs direct TLS: requests/s (and CPU per request) over redis-server\'s TLS port in the same cell; vs baseline: this checkout\'s Kvstore TLS over `--baseline`\'s.',
    '',
    '## Machine',
    '',
    markdownMachine(machine),
    `- load average at end: ${head.loadAtEnd.join(' ')} (the machine is shared: other work during the run shows as spread between repetitions, see \`rpsMin\`/\`rpsMax\` and every sample in the JSON)`,
    '',
    ...(notes.length ? ['## Notes', '', ...notes.map((n) => `- ${n}`), ''] : []),
    '## Results',
    '',
    markdownRows(HEADER.map((h) => h.replace('us/req', 'µs/request')), rows(cells, comparisons, labels)),
    '',
  ].join('\n');
  fs.writeFileSync(path.join(options.outDir, `${options.name}.md`), md);
  console.log(alignedRows(HEADER, rows(cells, comparisons)));
  console.log(`\nload average: start ${machine.loadAverageAtStart.join(' ')}, end ${head.loadAtEnd.join(' ')}`);
  if (notes.length) console.log(`\nnotes:\n${notes.map((n) => `- ${n}`).join('\n')}`);
  log(`wrote ${path.relative(process.cwd(), path.join(options.outDir, options.name))}.{json,md} in ${head.elapsed} s`);
  return 0;
}

runMain(main, log);
