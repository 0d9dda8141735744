/**
 * `npm run bench:hotpath -- [--workload get|set] [--pipeline 16] [--clients 50] [--rounds 7]
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
  constructor(
    public handler: StreamHandler,
    readonly remote: string,
  ) {}
  attach(handler: StreamHandler): void {
    this.handler = handler;
  }
  append(data: Buffer, start = 0, end = data.length): void {
    this.bytes += end - start;
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

interface Options {
  workload: 'get' | 'set';
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
  const workload = values.workload;
  if (workload !== 'get' && workload !== 'set') throw new Error(`--workload: get or set, not ${workload}`);
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
    for (let p = 0; p < o.pipeline; p++) {
      const key = `key:${String(Math.floor(Math.random() * KEYSPACE)).padStart(12, '0')}`;
      parts.push(encodeCommand(o.workload === 'get' ? ['GET', key] : ['SET', key, VALUE]));
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
  // One read holding many replies, cut to what each shard was sent.
  const one = o.workload === 'get' ? Buffer.concat([Buffer.from(`$${VALUE.length}\r\n`), VALUE, Buffer.from('\r\n')]) : Buffer.from('+OK\r\n');
  const replies = Buffer.concat(Array.from({ length: o.pipeline * o.clients }, () => one));

  let turnNo = 0;
  const deliverReads = (): void => {
    const r = turnNo++ & 63;
    for (const c of clients) c.stream.handler.onStreamData(c.reads[r], 0, c.reads[r].length);
  };
  const answer = (): void => {
    for (const b of backends) {
      const n = b.appends;
      b.appends = 0;
      b.bytes = 0;
      if (n > 0) b.handler.onStreamData(replies, 0, n * one.length);
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

  const commandsPerTurn = o.pipeline * o.clients;
  const expectedBytes = commandsPerTurn * one.length;
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
