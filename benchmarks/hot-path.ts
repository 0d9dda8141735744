/**
 * `npm run bench:hotpath -- [--workload get|set|mget10|mset10] [--pipeline 16] [--clients 50] [--rounds 7]
 *   [--seconds 1] [--config FILE.yaml] [--baseline CHECKOUT [--ab 4]] [--json]`
 *
 * The worker's own per-command work, alone: one ProxyServer (cache mode, 3 shards) on streams that
 * do nothing but hand bytes over (no socket, no kernel, no native output buffer), in one process.
 * Each turn, every client delivers one read of `pipeline` commands (in one read batch, as the
 * native streams deliver a turn's reads), then every shard answers what it was sent in one read.
 * What is left is the JS (and the parse/frame calls into the addon) that every request pays:
 * framing, dispatch, reply ring, ordering, observability. CPU ns per command is the process's
 * user+system CPU over a timed round divided by the commands answered; the median of the rounds
 * is reported. `npm run bench` measures the whole system with sockets; this isolates the part
 * the proxy's code decides, with much less noise (no other process runs in it), so a change to
 * the per-command path can be measured in seconds. `--baseline CHECKOUT` runs this benchmark and
 * CHECKOUT's own copy (dist/benchmarks/hot-path.js, built there; copy the file into an older
 * checkout's dist/benchmarks/) alternately, `--ab` times each, in child processes, and prints both
 * series with their medians: load on a shared machine then hits both alike.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import fs from 'node:fs';
import { parseConfig, parseConfigText } from '../src/config';
import { readBatch } from '../src/proxy/FlushScheduler';
import type { ByteStream, StreamHandler } from '../src/proxy/io';
import type { ClientConnection } from '../src/proxy/ClientConnection';
import { ProxyServer } from '../src/proxy/ProxyServer';
import type { Clock, TimerHandle } from '../src/proxy/Clock';
import { encodeCommand } from '../src/resp';
import type { TopologySnapshot } from '../src/topology/types';
import { evenSlotRanges } from '../src/topology/slots';
import pino from 'pino';

const KEYSPACE = 100_000;
const VALUE = Buffer.alloc(64, 0x78);

/** Time stands still: the data path's timers never fire during a round. */
const stillClock: Clock = {
  now: () => Date.now(),
  setTimeout: () => ({}) as TimerHandle,
  setInterval: () => ({}) as TimerHandle,
  clearTimer: () => undefined,
};

/** A stream whose peer is this benchmark: output is counted (not copied), input delivered by it. */
class BenchStream implements ByteStream {
  readonly kind = 'node';
  readonly queued = 0;
  /** Bytes and append calls since the peer last looked. */
  bytes = 0;
  appends = 0;
  /** Per append since the peer last looked, the command's argument count (a backend's commands are one append each). */
  readonly argcs = new Int32Array(1 << 16);
  constructor(
    public handler: StreamHandler,
    readonly remote: string,
  ) {}
  attach(handler: StreamHandler): void {
    this.handler = handler;
  }
  append(data: Buffer, start = 0, end = data.length): void {
    this.bytes += end - start;
    if (data[start] === 0x2a) {
      let argc = 0;
      for (let i = start + 1; data[i] !== 0x0d; i++) argc = argc * 10 + data[i] - 0x30;
      this.argcs[this.appends & 0xffff] = argc;
    }
    this.appends++;
  }
  flush(): number {
    return 0;
  }
  pause(): void {}
  resume(): void {}
  end(): void {}
  destroy(): void {
    this.handler.onStreamClose(null);
  }
  setIdleTimeout(): void {}
}

type Workload = 'get' | 'set' | 'mget10' | 'mset10';
const WORKLOADS: Workload[] = ['get', 'set', 'mget10', 'mset10'];

interface Options {
  workload: Workload;
  pipeline: number;
  clients: number;
  rounds: number;
  seconds: number;
  extraYaml: string | null;
  json: boolean;
  baseline: string | null;
  ab: number;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      workload: { type: 'string', default: 'get' },
      pipeline: { type: 'string', default: '16' },
      clients: { type: 'string', default: '50' },
      rounds: { type: 'string', default: '7' },
      seconds: { type: 'string', default: '1' },
      config: { type: 'string' },
      json: { type: 'boolean', default: false },
      baseline: { type: 'string' },
      ab: { type: 'string', default: '4' },
    },
  });
  const workload = values.workload as Workload;
  if (!WORKLOADS.includes(workload)) throw new Error(`--workload: one of ${WORKLOADS.join(', ')}, not ${workload}`);
  return {
    workload,
    pipeline: Number(values.pipeline),
    clients: Number(values.clients),
    rounds: Number(values.rounds),
    seconds: Number(values.seconds),
    extraYaml: values.config ? fs.readFileSync(values.config, 'utf8') : null,
    json: values.json,
    baseline: values.baseline ?? null,
    ab: Number(values.ab),
  };
}

/** 64 different reads per client, each `pipeline` commands on random keys (as redis-benchmark -r). */
function clientReads(o: Options): Buffer[] {
  const reads: Buffer[] = [];
  for (let r = 0; r < 64; r++) {
    const parts: Buffer[] = [];
    const key = (): string => `key:${String(Math.floor(Math.random() * KEYSPACE)).padStart(12, '0')}`;
    for (let p = 0; p < o.pipeline; p++) {
      if (o.workload === 'get') parts.push(encodeCommand(['GET', key()]));
      else if (o.workload === 'set') parts.push(encodeCommand(['SET', key(), VALUE]));
      else if (o.workload === 'mget10') parts.push(encodeCommand(['MGET', ...Array.from({ length: 10 }, key)]));
      else parts.push(encodeCommand(['MSET', ...Array.from({ length: 10 }, () => [key(), VALUE]).flat()]));
    }
    reads.push(Buffer.concat(parts));
  }
  return reads;
}

/** This checkout and `o.baseline` alternately, each in a child process; both series and medians. */
function compare(o: Options, argv: string[]): void {
  const own = __filename;
  const other = path.resolve(o.baseline!, 'dist', 'benchmarks', 'hot-path.js');
  if (!fs.existsSync(other)) throw new Error(`${other} does not exist: build that checkout, or copy ${own} there`);
  // The same arguments for both, without the A/B ones.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--baseline' || argv[i] === '--ab') i++;
    else if (argv[i] !== '--json') args.push(argv[i]);
  }
  const series: Record<'this' | 'baseline', number[]> = { this: [], baseline: [] };
  for (let r = 0; r < o.ab; r++) {
    const order: ('this' | 'baseline')[] = r % 2 === 0 ? ['this', 'baseline'] : ['baseline', 'this'];
    for (const which of order) {
      const out = execFileSync(process.execPath, [which === 'this' ? own : other, ...args, '--json'], { encoding: 'utf8' });
      series[which].push((JSON.parse(out.trim().split('\n').pop()!) as { nsPerCommand: number }).nsPerCommand);
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const line = (name: string, xs: number[]): string => `${name.padEnd(9)} ${median(xs).toFixed(1).padStart(7)} ns/command  (${xs.map((x) => x.toFixed(1)).join(', ')})`;
  console.log(`${o.workload} -P ${o.pipeline} x${o.clients} clients, ${o.ab} alternating runs each:`);
  console.log(line('this', series.this));
  console.log(line('baseline', series.baseline));
  console.log(`this / baseline: ${(median(series.this) / median(series.baseline)).toFixed(3)}`);
}

function main(): void {
  const argv = process.argv.slice(2);
  const o = options(argv);
  if (o.baseline !== null) return compare(o, argv);
  const addresses = ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3'];
  const raw = {
    ...(o.extraYaml ? (parseConfigText(o.extraYaml) as object) : {}),
    shards: addresses.map((master, i) => ({ name: `s${i}`, master })),
  };
  const config = parseConfig(raw);
  const ranges = evenSlotRanges(addresses.length);
  const topology: TopologySnapshot = {
    epoch: 1,
    mode: 'cache',
    hash: 'crc16',
    shards: addresses.map((master, i) => ({ name: `s${i}`, master, replicas: [], state: 'up', slots: [ranges[i]] })),
    migrations: [],
    keyRewrite: [],
  };
  const backends: BenchStream[] = [];
  const proxy = new ProxyServer({
    config,
    topology,
    logger: pino({ level: 'silent' }),
    io: {
      clock: stillClock,
      connect: (host, port, handler) => {
        const s = new BenchStream(handler, `${host}:${port}`);
        backends.push(s);
        return s;
      },
    },
  });

  const clients: { stream: BenchStream; connection: ClientConnection; reads: Buffer[] }[] = [];
  for (let c = 0; c < o.clients; c++) {
    let stream: BenchStream | null = null;
    const connection = proxy.attachClient((handler) => (stream = new BenchStream(handler, `127.0.0.1:${20000 + c}`)));
    clients.push({ stream: stream!, connection, reads: clientReads(o) });
  }
  // What a shard answers to a command of `argc` arguments, and what the client gets per command.
  const bulk = Buffer.concat([Buffer.from(`$${VALUE.length}\r\n`), VALUE, Buffer.from('\r\n')]);
  const ok = Buffer.from('+OK\r\n');
  const shardReply = (argc: number): Buffer =>
    o.workload === 'get' ? bulk : o.workload === 'mget10' ? Buffer.concat([Buffer.from(`*${argc - 1}\r\n`), ...Array(argc - 1).fill(bulk)]) : ok;
  const clientReply = o.workload === 'get' ? bulk : o.workload === 'mget10' ? shardReply(11) : ok;

  let turnNo = 0;
  const deliverReads = (): void => {
    const r = turnNo++ & 63;
    for (const c of clients) c.stream.handler.onStreamData(c.reads[r], 0, c.reads[r].length);
  };
  // Turn r (of 64) sends each shard the same commands every time: its replies are built once.
  const answers = new Map<number, Buffer>();
  let cacheAnswers = false; // (not for the first turn: it also carries the connections' handshakes)
  const answer = (): void => {
    const r = (turnNo - 1) & 63;
    for (let b = 0; b < backends.length; b++) {
      const s = backends[b];
      const n = s.appends;
      s.appends = 0;
      s.bytes = 0;
      if (n === 0) continue;
      let reply = cacheAnswers ? answers.get(r * 64 + b) : undefined;
      if (reply === undefined) {
        reply = Buffer.concat(Array.from(s.argcs.subarray(0, n), shardReply));
        if (cacheAnswers) answers.set(r * 64 + b, reply);
      }
      s.handler.onStreamData(reply, 0, reply.length);
    }
  };
  const turn = (): void => {
    readBatch(deliverReads, clients.length);
    readBatch(answer, backends.length);
  };

  // Backend connections come up on the first commands: answer their handshake-free connect.
  readBatch(deliverReads, clients.length);
  for (const b of backends) readBatch(() => b.handler.onStreamConnect(), 0);
  readBatch(answer, backends.length);
  cacheAnswers = true;

  const commandsPerTurn = o.pipeline * o.clients;
  const expectedBytes = commandsPerTurn * clientReply.length;
  const check = (): void => {
    let got = 0;
    for (const c of clients) {
      got += c.stream.bytes;
      c.stream.bytes = 0;
    }
    if (got !== expectedBytes) throw new Error(`clients got ${got} reply bytes in a turn, expected ${expectedBytes}: the path under test is broken`);
  };
  for (const c of clients) c.stream.bytes = 0;
  // Warm up (JIT tiers), checking every turn answers every command.
  for (let i = 0; i < 2000; i++) {
    turn();
    check();
  }

  const results: number[] = [];
  for (let round = 0; round < o.rounds; round++) {
    let turns = 0;
    const wallEnd = performance.now() + o.seconds * 1000;
    const cpu0 = process.cpuUsage();
    while (performance.now() < wallEnd) {
      for (let k = 0; k < 50; k++) turn();
      turns += 50;
    }
    const cpu = process.cpuUsage(cpu0);
    for (const c of clients) c.stream.bytes = 0;
    turn();
    check();
    results.push(((cpu.user + cpu.system) * 1000) / (turns * commandsPerTurn));
  }
  proxy.close(0);
  const sorted = [...results].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  if (o.json) console.log(JSON.stringify({ workload: o.workload, pipeline: o.pipeline, clients: o.clients, nsPerCommand: median, rounds: results }));
  else
    console.log(
      `${o.workload} -P ${o.pipeline} x${o.clients} clients: ${median.toFixed(1)} ns CPU per command (median of ${o.rounds}; ` +
        `min ${sorted[0].toFixed(1)}, max ${sorted[sorted.length - 1].toFixed(1)})`,
    );
}

main();
