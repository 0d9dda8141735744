/**
 * JS heap per idle client connection of one proxy worker (the JS half of issue 12's memory goal;
 * RSS with native buffers is the connections benchmark's job).
 *
 *   node dist/benchmarks/client-heap.js [--clients 10000] [--baseline /path/to/other/checkout] [--breakdown]
 *
 * A child process (node --expose-gc) runs an in-process ProxyServer of a checkout (this one, and
 * the baseline's when given) over one redis-server; this process opens N idle TCP clients to it
 * (some after one PING, so reply state that stays after first use shows too). The child measures
 * after a full GC: heapUsed, external, arrayBuffers, RSS, and V8's used heap size, before the
 * clients and with them; the report is the difference per client. --breakdown adds, per client:
 * committed bytes by V8 space, RSS by kind of mapping (benchmarks/lib/memoryBreakdown.ts), and
 * the heap-snapshot classes (count x size) with vs without the clients, from a second run (writing
 * snapshots mallocs, which would show in the first run's RSS). Loopback only, free ports,
 * everything it starts is stopped.
 */
import { fork, ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import v8 from 'node:v8';
import { parseArgs } from 'node:util';
import { startRedisServer, Server } from './lib/servers';
import { installSignalCleanup, stopAll } from './lib/processes';
import { REPO_ROOT } from './lib/kvstore';
import { classDelta, heapClasses, residentByKind } from './lib/memoryBreakdown';

interface Sample {
  heapUsed: number;
  /** V8 heap committed (what the JS heap costs in RSS, free space included). */
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  rss: number;
  v8Used: number;
  /** V8 space → committed bytes (space_size). */
  spaces: Record<string, number>;
  /** RSS KiB by kind of mapping (benchmarks/lib/memoryBreakdown.ts). */
  resident: Record<string, number>;
}

type ToChild = { kind: 'measure'; snapshot?: string } | { kind: 'stop' };
type FromChild = { kind: 'listening'; port: number } | { kind: 'sample'; sample: Sample } | { kind: 'error'; message: string };

/* ---------- child: the proxy being measured ---------- */

async function child(repo: string, backend: string): Promise<void> {
  // The checkout under test: its ProxyServer and its test config helper.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { ProxyServer } = require(path.join(repo, 'dist/src/proxy/ProxyServer.js'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { testConfig } = require(path.join(repo, 'dist/test/helpers/proxy.js'));
  const config = testConfig({ shards: [{ name: 's0', master: backend }], limits: { maxClients: 1_000_000 } });
  const topology = {
    epoch: 1,
    mode: 'cache',
    hash: 'crc16',
    shards: [{ name: 's0', master: backend, replicas: [], state: 'up', slots: [[0, 16383]] }],
    migrations: [],
    keyRewrite: [],
  };
  const silent = { info() {}, warn() {}, error() {}, debug() {}, trace() {}, fatal() {}, child() { return silent; } };
  const server = new ProxyServer({ config, topology, logger: silent });
  const { port } = await server.listen();
  const send = (m: FromChild) => process.send!(m);
  send({ kind: 'listening', port });
  process.on('message', (m: ToChild) => {
    if (m.kind === 'measure') {
      const sample = measure();
      // A heap snapshot with the clients (after the sample: writing it allocates).
      if (m.snapshot) v8.writeHeapSnapshot(m.snapshot);
      send({ kind: 'sample', sample });
    }
    else void server.close(0).then(() => process.exit(0));
  });
}

function measure(): Sample {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run the child with --expose-gc');
  for (let i = 0; i < 4; i++) gc();
  const m = process.memoryUsage();
  const spaces: Record<string, number> = {};
  for (const s of v8.getHeapSpaceStatistics()) spaces[s.space_name] = s.space_size;
  return { heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, rss: m.rss, v8Used: v8.getHeapStatistics().used_heap_size, spaces, resident: residentByKind('self') };
}

/* ---------- parent ---------- */

function request(p: ChildProcess, m: ToChild, kind: FromChild['kind']): Promise<FromChild> {
  return new Promise((resolve, reject) => {
    const onMessage = (r: FromChild) => {
      if (r.kind === 'error') reject(new Error(r.message));
      else if (r.kind === kind) {
        p.off('message', onMessage);
        resolve(r);
      }
    };
    p.on('message', onMessage);
    p.send(m);
  });
}

async function openClients(port: number, count: number, pingEvery: number): Promise<net.Socket[]> {
  const sockets: net.Socket[] = [];
  const batch = 200;
  for (let i = 0; i < count; i += batch) {
    const opened = await Promise.all(
      Array.from({ length: Math.min(batch, count - i) }, (_, j) =>
        new Promise<net.Socket>((resolve, reject) => {
          const s = net.connect({ host: '127.0.0.1', port }, () => {
            if ((i + j) % pingEvery !== 0) return resolve(s);
            // One PING first: what a client keeps after it was used once counts too.
            s.once('data', () => resolve(s));
            s.write('PING\r\n');
          });
          s.once('error', reject);
        }),
      ),
    );
    sockets.push(...opened);
  }
  return sockets;
}

interface RunResult {
  /** (after - before) / clients of every number in Sample. */
  per: Record<string, number>;
  /** Per client, by V8 space and by kind of mapping. */
  spaces: Record<string, number>;
  resident: Record<string, number>;
  /** With --breakdown: heap snapshot classes, after - before per client (from a run of its own). */
  classes?: ReturnType<typeof classDelta>;
}

function perClient(before: Record<string, number>, after: Record<string, number>, clients: number, scale = 1): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) out[k] = (((after[k] ?? 0) - (before[k] ?? 0)) * scale) / clients;
  return out;
}

async function run(label: string, repo: string, backend: Server, clients: number, pingEvery: number, settleMs: number, snapshot?: string, breakdownDir?: string): Promise<RunResult> {
  const p = fork(__filename, ['--child', repo, backend.address], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const ready = (await new Promise<FromChild>((resolve, reject) => {
      p.once('message', resolve);
      p.once('exit', (code) => reject(new Error(`${label}: proxy child exited (${code})`)));
    })) as { kind: 'listening'; port: number };
    const warm = await openClients(ready.port, 200, pingEvery);
    for (const s of warm) s.destroy();
    await new Promise((r) => setTimeout(r, 300));
    const snapBefore = breakdownDir ? path.join(breakdownDir, `${label.replace(/\W+/g, '-')}-before.heapsnapshot`) : undefined;
    const snapAfter = breakdownDir ? path.join(breakdownDir, `${label.replace(/\W+/g, '-')}-after.heapsnapshot`) : snapshot;
    const before = ((await request(p, { kind: 'measure', snapshot: snapBefore }, 'sample')) as { sample: Sample }).sample;
    const sockets = await openClients(ready.port, clients, pingEvery);
    await new Promise((r) => setTimeout(r, settleMs));
    const after = ((await request(p, { kind: 'measure', snapshot: snapAfter }, 'sample')) as { sample: Sample }).sample;
    for (const s of sockets) s.destroy();
    const numeric = (x: Sample) => ({ heapUsed: x.heapUsed, heapTotal: x.heapTotal, external: x.external, arrayBuffers: x.arrayBuffers, rss: x.rss, v8Used: x.v8Used });
    const result: RunResult = {
      per: perClient(numeric(before), numeric(after), clients),
      spaces: perClient(before.spaces, after.spaces, clients),
      resident: perClient(before.resident, after.resident, clients, 1024),
    };
    if (snapBefore && snapAfter) {
      result.classes = classDelta(heapClasses(snapBefore), heapClasses(snapAfter), clients, clients * 4);
      fs.rmSync(snapBefore);
      fs.rmSync(snapAfter);
    }
    return result;
  } finally {
    p.send({ kind: 'stop' });
    await new Promise((r) => {
      if (p.exitCode !== null) r(null);
      else p.once('exit', r);
    });
  }
}

/** The --breakdown tables of one checkout. */
function breakdown(label: string, r: RunResult): string {
  const out = [`### ${label}`, '', '| V8 space | committed B/client |', '| --- | ---: |'];
  for (const [k, v] of Object.entries(r.spaces)) if (Math.abs(v) >= 1) out.push(`| ${k} | ${v.toFixed(0)} |`);
  out.push('', '| mapping kind | resident B/client |', '| --- | ---: |');
  for (const [k, v] of Object.entries(r.resident)) if (Math.abs(v) >= 1) out.push(`| ${k} | ${v.toFixed(0)} |`);
  if (r.classes) {
    out.push('', '| heap snapshot class | objects/client | B each | B/client |', '| --- | ---: | ---: | ---: |');
    for (const c of r.classes.slice(0, 25)) out.push(`| ${c.name} | ${c.countPerClient.toFixed(2)} | ${c.bytesEach.toFixed(0)} | ${c.bytesPerClient.toFixed(1)} |`);
  }
  return out.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      clients: { type: 'string', default: '10000' },
      'ping-every': { type: 'string', default: '2' },
      baseline: { type: 'string' },
      'heap-snapshot': { type: 'string' },
      breakdown: { type: 'boolean', default: false },
      // Idle means quiet for a while: the proxy's idle sweep (1 s) gives per-command state back.
      'settle-ms': { type: 'string', default: '2500' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write('usage: node dist/benchmarks/client-heap.js [--clients N] [--ping-every K (every K-th client sends one PING first)] [--baseline CHECKOUT] [--heap-snapshot FILE (this checkout, with the clients)] [--breakdown (per client: V8 spaces, RSS by mapping kind, heap snapshot classes with vs without the clients)] [--settle-ms MS (idle time before measuring; default 2500)]\n');
    return;
  }
  const clients = Number(values.clients);
  const pingEvery = Math.max(1, Number(values['ping-every']));
  const settleMs = Math.max(0, Number(values['settle-ms']));
  installSignalCleanup();
  const backend = await startRedisServer('heap-backend');
  try {
    const systems: Array<[string, string]> = [['this checkout', REPO_ROOT]];
    if (values.baseline) systems.unshift(['baseline', path.resolve(values.baseline)]);
    const rows: string[] = [];
    const details: string[] = [];
    rows.push(`| checkout | heapUsed B/client | V8 used B/client | heapTotal B/client | external B/client | arrayBuffers B/client | RSS B/client |`);
    rows.push('| --- | --- | --- | --- | --- | --- | --- |');
    for (const [label, repo] of systems) {
      const snapshot = repo === REPO_ROOT && values['heap-snapshot'] ? path.resolve(values['heap-snapshot']) : undefined;
      const breakdownDir = values.breakdown ? fs.mkdtempSync(path.join(os.tmpdir(), 'client-heap-')) : undefined;
      const r = await run(label, repo, backend, clients, pingEvery, settleMs, snapshot);
      if (breakdownDir) {
        // classes from a second run: writing snapshots mallocs, which would show in the first run's RSS
        r.classes = (await run(label, repo, backend, clients, pingEvery, settleMs, undefined, breakdownDir)).classes;
        fs.rmSync(breakdownDir, { recursive: true, force: true });
      }
      const per = r.per;
      details.push(breakdown(`${label} (${repo})`, r));
      rows.push(`| ${label} (${repo}) | ${per.heapUsed.toFixed(0)} | ${per.v8Used.toFixed(0)} | ${per.heapTotal.toFixed(0)} | ${per.external.toFixed(0)} | ${per.arrayBuffers.toFixed(0)} | ${per.rss.toFixed(0)} |`);
    }
    process.stdout.write(`${clients} idle clients (every ${pingEvery}. sent one PING first; measured after ${settleMs} ms idle), one in-process proxy, loopback\n\n${rows.join('\n')}\n\n${details.join('\n\n')}\n`);
  } finally {
    await stopAll();
  }
}

if (process.argv[2] === '--child') {
  child(process.argv[3], process.argv[4]).catch((err) => {
    process.send?.({ kind: 'error', message: String(err?.stack ?? err) });
    process.exit(1);
  });
} else {
  main().catch((err) => {
    process.stderr.write(`client-heap: ${err?.stack ?? err}\n`);
    void stopAll().then(() => process.exit(1));
  });
}
