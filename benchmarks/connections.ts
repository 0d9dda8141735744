/**
 * Idle client connections: memory per connection of Kvstore (1 worker) next to Twemproxy (and
 * optionally another checkout, `--baseline`, for before/after) in one run; and, with
 * `--balance N`, how N connections spread over the workers of a multi-worker Kvstore (this
 * checkout: each worker accepts on its own SO_REUSEPORT socket; the baseline: whatever it does,
 * e.g. node:cluster's round-robin handoff) and how fast they are accepted.
 *
 * Memory: each system is started alone, warmed up (300 connections used and closed), then N
 * clients connect from helper processes (benchmarks/lib/idleClients.ts; several processes, as
 * one holds at most its fd limit of sockets, from source addresses 127.0.0.10.. so the ephemeral
 * ports of one address do not run out), each sends one PING and reads +PONG, and all stay idle.
 * RSS per connection = (RSS with N idle clients - RSS before) / N, of the process that holds the
 * clients (Kvstore's worker, nutcracker). For Kvstore the native bytes reported by /stats are
 * shown too. Each RSS is the level the idle process settles to (the lowest over `--idle-ms`,
 * default 15 s, see settledRssKB): a Node worker's young generation grows during the accept burst
 * and V8's memory reducer gives it back some seconds after allocation stops, so RSS 2 s after the
 * burst (also shown) holds that transient, not what the clients cost.
 *
 * Usage: npm run bench:connections -- [--clients 10000] [--systems kvstore,twemproxy]
 *          [--baseline PATH] [--balance 4000] [--workers 2] [--name connections] [--out DIR]
 * (also: npm run bench -- --connections N). The fd limit of one process bounds N (see README).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { kvstoreAvailable, kvstoreCli, REPO_ROOT, startKvstore } from './lib/kvstore';
import { installSignalCleanup, lastStderr, startProcess, Started, stopAll } from './lib/processes';
import { processTree } from './lib/procStat';
import { Server, startRedisServer, startTwemproxy, twemproxyBinary } from './lib/servers';
import { residentByKind } from './lib/memoryBreakdown';

const log = (m: string) => process.stderr.write(`connections: ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Connections per helper process (its fd limit must be above it). */
const PER_PROCESS = 5000;
/**
 * Connections used and closed before "RSS before": more than a Kvstore worker's TRIM_AFTER_CLIENTS
 * (src/proxy/io/MemoryTrim.ts), so the state before the clients went through the same memory
 * trim (and V8 collection) as the state with them.
 */
const WARMUP = 300;

export interface MemoryRow {
  system: string;
  label: string;
  clients: number;
  failed: number;
  rssBeforeKB: number;
  rssAfterKB: number;
  bytesPerConnection: number;
  /** Per connection 2 s after the clients connected (before the idle wait). */
  bytesPerConnectionAt2s: number;
  /** (RSS at N - RSS at N/2) / (N/2): what one more connection costs, fixed costs left out. */
  marginalBytesPerConnection: number;
  /** RSS per connection extrapolated to 100,000 clients: (RSS at N - before + marginal x (100,000 - N)) / 100,000. */
  projected100kBytesPerConnection: number;
  /** Kvstore only: native bytes of the worker's sockets, per connection (/stats nativeBuffers). */
  nativeBytesPerConnection?: number;
  /** RSS growth per connection by kind of mapping (malloc heap, V8 heap pages, ...), with N vs before. */
  residentByKindPerConnection: Record<string, number>;
  openSeconds: number;
}

export interface BalanceRow {
  system: string;
  label: string;
  workers: number;
  connections: number;
  perWorker: number[];
  /** Largest share / fair share (1 = perfectly even). */
  maxOverFair: number;
  connectionsPerSecond: number;
}

function fdLimit(): number {
  const soft = Number(fs.readFileSync('/proc/self/limits', 'utf8').match(/Max open files\s+(\d+)/)?.[1] ?? 1024);
  return soft;
}

function rssKB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** Median RSS of three samples, 300 ms apart. */
async function stableRssKB(pid: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 3; i++) {
    samples.push(rssKB(pid));
    await sleep(300);
  }
  return samples.sort((a, b) => a - b)[1];
}

/**
 * The RSS a quiet process settles to: the lowest of samples every 500 ms over `ms` (a Node
 * worker's young generation, grown by a burst, is given back by V8's memory reducer some seconds
 * after allocation stops, at a time of V8's choosing; a fixed wait catches it before or after).
 */
async function settledRssKB(pid: number, ms: number): Promise<number> {
  let low = rssKB(pid);
  for (let waited = 0; waited < ms; waited += 500) {
    await sleep(500);
    low = Math.min(low, rssKB(pid));
  }
  return low;
}

interface Kvstore extends Server {
  adminPort: number;
}

async function startKvstoreFor(name: string, cli: string, workers: number, maxClients: number, shards: Server[]): Promise<Kvstore> {
  const kv = await startKvstore(name, workers, shards, [], cli, { extraYaml: `limits:\n  maxClients: ${maxClients}\n`, raiseFdLimit: true, startTimeoutMs: 30_000 });
  for (let i = 0; i < 100 && processTree(kv.process.pid).length - 1 < workers; i++) await sleep(100);
  return kv;
}

async function adminStats(adminPort: number): Promise<{ workers: Array<{ pid: number; clients: number }>; nativeBuffers?: { outputAllocated: number; poolBytes: number; streamStateBytes: number } }> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/stats`);
  return (await res.json()) as never;
}

/** Open `count` idle clients (PING answered) from helper processes; resolves with them open. */
async function openClients(port: number, count: number, firstSource: number): Promise<{ opened: number; failed: number; seconds: number; close: () => Promise<void> }> {
  const script = path.join(__dirname, 'lib', 'idleClients.js');
  const helpers: Started[] = [];
  const started = Date.now();
  const results: Array<Promise<{ opened: number; failed: number }>> = [];
  for (let i = 0, left = count; left > 0; i++, left -= PER_PROCESS) {
    const n = Math.min(PER_PROCESS, left);
    const source = `127.0.0.${firstSource + i}`;
    const h = startProcess(`clients-${i}`, 'sh', ['-c', 'ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"', process.execPath, script, String(port), String(n), source], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    helpers.push(h);
    results.push(
      new Promise((resolve, reject) => {
        h.child.once('message', (m: { opened?: number; failed?: number; error?: string }) => (m.error ? reject(new Error(m.error)) : resolve({ opened: m.opened!, failed: m.failed! })));
        void h.exited.then(() => reject(new Error(`client helper ${i} exited: ${lastStderr(h).slice(-400)}`)));
      }),
    );
  }
  const all = await Promise.all(results);
  return {
    opened: all.reduce((n, r) => n + r.opened, 0),
    failed: all.reduce((n, r) => n + r.failed, 0),
    seconds: (Date.now() - started) / 1000,
    close: async () => {
      for (const h of helpers) h.child.send({ type: 'close' });
      await Promise.all(helpers.map((h) => Promise.race([h.exited, sleep(5000).then(() => h.stop(1000))])));
    },
  };
}

async function measureMemory(system: { id: string; label: string; server: Server; pid: number; adminPort?: number }, clients: number, idleMs: number): Promise<MemoryRow> {
  const warm = await openClients(system.server.port, WARMUP, 10);
  await warm.close();
  await sleep(1500);
  const before = await settledRssKB(system.pid, idleMs);
  const kindsBefore = residentByKind(system.pid);
  const nativeBefore = system.adminPort ? (await adminStats(system.adminPort)).nativeBuffers : undefined;
  // two steps: the slope between N/2 and N leaves out fixed costs (heap growth, the pool)
  const half = Math.floor(clients / 2);
  const first = await openClients(system.server.port, half, 10);
  await sleep(2000); // the accepts' garbage collected
  const mid = await settledRssKB(system.pid, idleMs);
  const second = await openClients(system.server.port, clients - half, 10 + Math.ceil(half / PER_PROCESS));
  await sleep(2000);
  const afterBurst = await stableRssKB(system.pid);
  const after = await settledRssKB(system.pid, idleMs);
  const kindsAfter = residentByKind(system.pid);
  const nativeAfter = system.adminPort ? (await adminStats(system.adminPort)).nativeBuffers : undefined;
  await first.close();
  await second.close();
  const c = { opened: first.opened + second.opened, failed: first.failed + second.failed, seconds: first.seconds + second.seconds };
  const marginal = ((after - mid) * 1024) / Math.max(1, second.opened);
  const native = (n?: { outputAllocated: number; poolBytes: number; streamStateBytes: number }) => (n ? n.outputAllocated + n.poolBytes + n.streamStateBytes : 0);
  const row: MemoryRow = {
    system: system.id,
    label: system.label,
    clients: c.opened,
    failed: c.failed,
    rssBeforeKB: before,
    rssAfterKB: after,
    bytesPerConnection: Math.round(((after - before) * 1024) / Math.max(1, c.opened)),
    bytesPerConnectionAt2s: Math.round(((afterBurst - before) * 1024) / Math.max(1, c.opened)),
    marginalBytesPerConnection: Math.round(marginal),
    projected100kBytesPerConnection: Math.round(((after - before) * 1024 + marginal * Math.max(0, 100_000 - c.opened)) / 100_000),
    openSeconds: Math.round(c.seconds * 10) / 10,
    residentByKindPerConnection: Object.fromEntries(
      [...new Set([...Object.keys(kindsBefore), ...Object.keys(kindsAfter)])].map((k) => [k, Math.round((((kindsAfter[k] ?? 0) - (kindsBefore[k] ?? 0)) * 1024) / Math.max(1, c.opened))]),
    ),
  };
  if (nativeAfter) row.nativeBytesPerConnection = Math.round((native(nativeAfter) - native(nativeBefore)) / Math.max(1, c.opened));
  log(`${system.id}: ${c.opened} idle clients (${c.failed} failed): RSS ${before} → ${after} kB, ${row.bytesPerConnection} B/connection (2 s after connecting ${row.bytesPerConnectionAt2s} B, marginal ${row.marginalBytesPerConnection} B, projected at 100k ${row.projected100kBytesPerConnection} B)${row.nativeBytesPerConnection !== undefined ? `, native ${row.nativeBytesPerConnection} B/connection` : ''}`);
  return row;
}

async function measureBalance(id: string, label: string, cli: string, workers: number, connections: number, shards: Server[]): Promise<BalanceRow> {
  const kv = await startKvstoreFor(id, cli, workers, connections + 100, shards);
  try {
    // every worker must be ready (/stats lists the ready ones)
    for (let i = 0; i < 100 && (await adminStats(kv.adminPort)).workers.length < workers; i++) await sleep(100);
    const c = await openClients(kv.port, connections, 60);
    await sleep(1200); // /stats is built from the workers' stats of about the last second
    const stats = await adminStats(kv.adminPort);
    await c.close();
    const perWorker = stats.workers.map((w) => w.clients).sort((a, b) => b - a);
    const fair = connections / workers;
    const row: BalanceRow = {
      system: id,
      label,
      workers,
      connections: c.opened,
      perWorker,
      maxOverFair: Math.round((Math.max(...perWorker) / fair) * 1000) / 1000,
      connectionsPerSecond: Math.round(c.opened / c.seconds),
    };
    log(`${id}: ${c.opened} connections over ${workers} workers: ${perWorker.join(' / ')} (max/fair ${row.maxOverFair}), ${row.connectionsPerSecond} connections/s`);
    return row;
  } finally {
    await kv.process.stop(5000);
  }
}

function markdown(memory: MemoryRow[], balance: BalanceRow[], meta: Record<string, unknown>): string {
  const lines = [`# Idle client connections (${meta.name})`, '', `Command: \`${meta.command}\`; load average at start ${meta.loadStart}, at end ${meta.loadEnd} (${os.cpus().length} cores, shared).`, ''];
  if (memory.length) {
    lines.push(
      '## Memory per idle client connection',
      '',
      'Each client connected, sent one PING, read +PONG and stayed idle. RSS of the process holding the clients (Kvstore: its one worker; Twemproxy: nutcracker), before and with the clients.',
      '',
      `Each RSS (before, at N/2, at N) is the level the idle process settles to: the lowest of samples every 500 ms over ${meta.idleMs} ms once the clients are connected (a Node worker's young generation, grown by the accept burst, is given back by V8's memory reducer some seconds after allocation stops). "2 s after" is the RSS with N clients 2 s after they connected, that transient included.`,
      '',
      'Per connection: (RSS with N - before) / N. Marginal: (RSS at N - RSS at N/2) / (N/2), fixed costs (heap growth, buffer pool) left out. At 100k: the RSS growth at N plus the marginal cost of the clients up to 100,000, per client (a process here may hold at most its fd limit of sockets, so 100,000 are not opened). For a Node worker, marginal and the projection rest on the RSS at N/2, which moves with the V8 heap sizing by more than the clients cost: per connection is the steadier figure.',
      '',
      '| system | clients | RSS before | RSS with clients | per connection | 2 s after | marginal | projected at 100k | native (Kvstore /stats) |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...memory.map((r) => `| ${r.label} | ${r.clients}${r.failed ? ` (${r.failed} failed)` : ''} | ${(r.rssBeforeKB / 1024).toFixed(1)} MB | ${(r.rssAfterKB / 1024).toFixed(1)} MB | ${(r.bytesPerConnection / 1024).toFixed(2)} KB | ${(r.bytesPerConnectionAt2s / 1024).toFixed(2)} KB | ${(r.marginalBytesPerConnection / 1024).toFixed(2)} KB | ${(r.projected100kBytesPerConnection / 1024).toFixed(2)} KB | ${r.nativeBytesPerConnection !== undefined ? `${r.nativeBytesPerConnection} B` : '-'} |`),
      '',
    );
    // kinds that moved for some system (not [vdso], [stack]...)
    const kinds = [...new Set(memory.flatMap((r) => Object.keys(r.residentByKindPerConnection ?? {})))].filter((k) => memory.some((r) => (r.residentByKindPerConnection?.[k] ?? 0) !== 0)).sort();
    lines.push(
      'Where the growth is (RSS with N minus before, per connection, by kind of mapping in /proc/PID/smaps, read right after each settled RSS; see benchmarks/lib/memoryBreakdown.ts — for a Node worker, `[heap]` is malloc: the native per-stream state; 256 KiB anonymous mappings are V8 heap pages):',
      '',
      `| system | ${kinds.join(' | ')} |`,
      `| --- | ${kinds.map(() => '---:').join(' | ')} |`,
      ...memory.map((r) => `| ${r.label} | ${kinds.map((k) => `${r.residentByKindPerConnection?.[k] ?? 0} B`).join(' | ')} |`),
      '',
    );
  }
  if (balance.length) {
    lines.push(
      '## Connections over workers',
      '',
      'Connections opened at once (256 in flight per helper process) to a Kvstore with several workers; clients per worker from GET /stats.',
      '',
      '| system | workers | connections | per worker | largest / fair share | connections/s |',
      '| --- | ---: | ---: | --- | ---: | ---: |',
      ...balance.map((b) => `| ${b.label} | ${b.workers} | ${b.connections} | ${b.perWorker.join(' / ')} | ${b.maxOverFair} | ${b.connectionsPerSecond} |`),
      '',
    );
  }
  return lines.join('\n');
}

export async function runConnections(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      clients: { type: 'string', default: '10000' },
      systems: { type: 'string', default: 'kvstore,twemproxy' },
      baseline: { type: 'string' },
      balance: { type: 'string', default: '0' },
      workers: { type: 'string', default: '2' },
      name: { type: 'string', default: 'connections' },
      'idle-ms': { type: 'string', default: '15000' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log('usage: npm run bench:connections -- [--clients N] [--systems kvstore,twemproxy] [--baseline PATH] [--balance N] [--workers W] [--idle-ms MS (window for each settled RSS; default 15000)] [--name NAME] [--out DIR]');
    return 0;
  }
  const clients = Number(values.clients);
  const balanceConnections = Number(values.balance);
  const workers = Number(values.workers);
  const idleMs = Number(values['idle-ms']);
  const systems = values.systems!.split(',').filter(Boolean);
  const limit = fdLimit();
  if (clients + 200 > limit) log(`note: this process's fd limit is ${limit}; the systems get their hard limit (a Kvstore worker needs one fd per client)`);
  const loadStart = os.loadavg().map((v) => v.toFixed(2)).join(' ');
  installSignalCleanup();
  const started = Date.now();
  const shard = await startRedisServer('conn-shard');
  const memory: MemoryRow[] = [];
  const balance: BalanceRow[] = [];
  try {
    const candidates: Array<{ id: string; label: string; cli?: string }> = [];
    if (systems.includes('kvstore')) candidates.push({ id: 'kvstore', label: 'Kvstore (1 worker)', cli: kvstoreCli(null) });
    if (values.baseline) candidates.push({ id: 'baseline', label: `baseline ${path.basename(path.resolve(values.baseline))} (1 worker)`, cli: kvstoreCli(values.baseline) });
    if (systems.includes('twemproxy')) candidates.push({ id: 'twemproxy', label: 'Twemproxy' });
    if (clients > 0) {
      for (const c of candidates) {
        if (c.cli !== undefined) {
          if (!kvstoreAvailable(c.cli)) throw new Error(`${c.cli} does not exist`);
          const kv = await startKvstoreFor(c.id, c.cli, 1, clients + 500, [shard]);
          const worker = processTree(kv.process.pid).find((s) => s.pid !== kv.process.pid);
          if (!worker) throw new Error(`${c.id}: no worker process`);
          memory.push(await measureMemory({ id: c.id, label: c.label, server: kv, pid: worker.pid, adminPort: kv.adminPort }, clients, idleMs));
          await kv.process.stop(5000);
        } else {
          const binary = twemproxyBinary();
          if (!binary) {
            log('Twemproxy skipped: nutcracker is not installed');
            continue;
          }
          const tw = await startTwemproxy(binary, [shard], 'ketama');
          memory.push(await measureMemory({ id: c.id, label: c.label, server: tw, pid: tw.process.pid }, clients, idleMs));
          await tw.process.stop(3000);
        }
      }
    }
    if (balanceConnections > 0) {
      balance.push(await measureBalance('kvstore', `Kvstore (${workers} workers)`, kvstoreCli(null), workers, balanceConnections, [shard]));
      if (values.baseline) balance.push(await measureBalance('baseline', `baseline ${path.basename(path.resolve(values.baseline))} (${workers} workers)`, kvstoreCli(values.baseline), workers, balanceConnections, [shard]));
    }
  } finally {
    await stopAll();
  }
  const command = `npm run bench:connections -- ${argv.join(' ')}`.trim();
  const meta = { name: values.name, command, idleMs, loadStart, loadEnd: os.loadavg().map((v) => v.toFixed(2)).join(' '), elapsedSeconds: Math.round((Date.now() - started) / 1000), fdLimit: limit };
  const outDir = path.resolve(values.out ?? path.join(REPO_ROOT, 'benchmarks', 'results'));
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, `${values.name}.json`), `${JSON.stringify({ ...meta, memory, balance }, null, 2)}\n`);
  const md = markdown(memory, balance, meta);
  fs.writeFileSync(path.join(outDir, `${values.name}.md`), md);
  console.log(md);
  log(`wrote ${path.relative(process.cwd(), path.join(outDir, values.name!))}.{json,md}`);
  return 0;
}

if (require.main === module) {
  runConnections(process.argv.slice(2)).then(
    (code) => process.exit(code),
    async (err: Error) => {
      log(`failed: ${err.stack ?? err.message}`);
      await stopAll();
      process.exit(1);
    },
  );
}
