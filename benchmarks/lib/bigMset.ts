/**
 * `npm run bench -- --big-mset`: one huge command of many small arguments (an MSET of 500,000
 * keys: 1,000,001 arguments, about 30 MB), sent at once on a fresh connection, timed from the
 * first byte written to the complete reply. It arrives in many socket reads, so it measures how
 * the proxy frames a command that spans reads (linear, or rescanned per read), then its split
 * into one sub-command per shard and the merge. Direct Redis, Kvstore (1 worker) and optionally
 * a baseline checkout, interleaved; medians of `reps` runs after one warm-up each.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { kvstoreAvailable, kvstoreCli, REPO_ROOT, startKvstore } from './kvstore';
import type { SuiteOptions } from './options';
import { treeCpuSeconds } from './procStat';
import { Server, startRedisServer } from './servers';
import { median, ratio, round } from './stats';

export const BIG_MSET_PAIRS = 500_000;
export const BIG_MSET_VALUE_BYTES = 30;

/** `*1000001\r\n$4\r\nMSET\r\n` then key:<12 digits> / value pairs. */
export function bigMsetCommand(pairs = BIG_MSET_PAIRS, valueBytes = BIG_MSET_VALUE_BYTES): Buffer {
  const value = 'v'.repeat(valueBytes);
  const parts: string[] = [`*${1 + 2 * pairs}\r\n$4\r\nMSET\r\n`];
  for (let i = 0; i < pairs; i++) {
    const key = `key:${String(i).padStart(12, '0')}`;
    parts.push(`$${key.length}\r\n${key}\r\n$${valueBytes}\r\n${value}\r\n`);
  }
  return Buffer.from(parts.join(''), 'latin1');
}

/** Writes `command` on a new connection; resolves with the milliseconds until `+OK\r\n` came back. */
export function timeCommand(port: number, command: Buffer, timeoutMs = 120_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let started = 0n;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => {
      started = process.hrtime.bigint();
      socket.write(command);
    });
    socket.on('data', (d) => {
      chunks.push(d);
      const reply = Buffer.concat(chunks);
      if (reply.length >= 2 && reply[reply.length - 2] === 0x0d && reply[reply.length - 1] === 0x0a) {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        clearTimeout(timer);
        socket.destroy();
        const text = reply.toString('latin1');
        if (text !== '+OK\r\n') reject(new Error(`replied ${text.slice(0, 200)}`));
        else resolve(ms);
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

interface System {
  id: string;
  label: string;
  server: Server;
}

function log(message: string): void {
  process.stderr.write(`bench big-mset: ${message}\n`);
}

export async function runBigMset(options: SuiteOptions): Promise<number> {
  const wanted = options.systems ?? ['redis', 'kvstore-1'];
  const systems: System[] = [];
  const notes: string[] = [];
  log('starting 3 shards');
  const shards = await Promise.all([1, 2, 3].map((i) => startRedisServer(`shard${i}`)));
  if (wanted.includes('redis')) systems.push({ id: 'redis', label: 'Redis direct (1 server)', server: await startRedisServer('direct') });
  if (wanted.includes('kvstore-1')) {
    const cli = kvstoreCli(options.kvstore);
    systems.push({ id: 'kvstore-1', label: 'Kvstore 1 worker', server: await startKvstore('kvstore-1', 1, shards, options.kvstoreNodeArgs, cli) });
  }
  if (options.baseline) {
    const cli = kvstoreCli(options.baseline);
    if (kvstoreAvailable(cli)) {
      systems.push({ id: 'baseline', label: `Kvstore baseline 1 worker (${path.basename(path.resolve(options.baseline))})`, server: await startKvstore('baseline', 1, shards, options.kvstoreNodeArgs, cli) });
    } else {
      notes.push(`baseline skipped: ${cli} does not exist.`);
    }
  }
  if (systems.length === 0) throw new Error('no system to measure (--systems among redis,kvstore-1; --baseline PATH)');
  const command = bigMsetCommand();
  log(`MSET of ${BIG_MSET_PAIRS} keys: ${1 + 2 * BIG_MSET_PAIRS} arguments, ${(command.length / 1e6).toFixed(1)} MB`);

  for (const s of systems) log(`${s.id} warm-up: ${round(await timeCommand(s.server.port, command), 1)} ms`);
  const samples: Array<{ system: string; rep: number; ms: number; cpuSeconds: number }> = [];
  for (let rep = 0; rep < options.reps; rep++) {
    const order = systems.map((_, i) => systems[(i + rep) % systems.length]);
    for (const s of order) {
      const before = treeCpuSeconds([s.server.process.pid]).seconds;
      const ms = await timeCommand(s.server.port, command);
      const cpuSeconds = round(treeCpuSeconds([s.server.process.pid]).seconds - before, 3);
      samples.push({ system: s.id, rep, ms: round(ms, 1) ?? ms, cpuSeconds: cpuSeconds ?? 0 });
      log(`rep ${rep + 1} ${s.id}: ${round(ms, 1)} ms, cpu ${cpuSeconds} s`);
    }
  }

  const redisMs = median(samples.filter((x) => x.system === 'redis').map((x) => x.ms));
  const rows = systems.map((s) => {
    const mine = samples.filter((x) => x.system === s.id);
    const ms = median(mine.map((x) => x.ms));
    return {
      system: s.id,
      label: s.label,
      medianMs: round(ms, 1),
      minMs: Math.min(...mine.map((x) => x.ms)),
      maxMs: Math.max(...mine.map((x) => x.ms)),
      medianCpuSeconds: round(median(mine.map((x) => x.cpuSeconds)), 3),
      vsRedis: s.id !== 'redis' ? round(ratio(ms, redisMs), 2) : null,
    };
  });
  const load = os.loadavg().map((v) => round(v, 2));
  const name = options.name === 'latest' || options.name === 'quick' ? 'big-mset' : options.name;
  const outDir = path.resolve(options.outDir ?? path.join(REPO_ROOT, 'benchmarks', 'results'));
  fs.mkdirSync(outDir, { recursive: true });
  const invocation = `npm run bench -- ${process.argv.slice(2).join(' ')}`;
  fs.writeFileSync(
    path.join(outDir, `${name}.json`),
    `${JSON.stringify({ command: invocation, pairs: BIG_MSET_PAIRS, valueBytes: BIG_MSET_VALUE_BYTES, bytes: command.length, reps: options.reps, loadAverageAtEnd: load, notes, rows, samples }, null, 2)}\n`,
  );
  const table = [
    '| system | median ms | min–max ms | CPU s (median) | × direct Redis |',
    '|---|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.label} | ${r.medianMs} | ${r.minMs}–${r.maxMs} | ${r.medianCpuSeconds} | ${r.vsRedis ?? ''} |`),
  ];
  fs.writeFileSync(
    path.join(outDir, `${name}.md`),
    [
      `# One MSET of ${BIG_MSET_PAIRS} keys (${(command.length / 1e6).toFixed(1)} MB, ${1 + 2 * BIG_MSET_PAIRS} arguments)`,
      '',
      `Command: \`${invocation}\` — ${options.reps} run(s) per system after one warm-up, interleaved; time from the first byte written to the complete \`+OK\`, on a new connection. Kvstore over 3 shards.`,
      `Load average at end: ${load.join(' ')}.`,
      '',
      ...(notes.length ? [...notes.map((n) => `- ${n}`), ''] : []),
      ...table,
      '',
    ].join('\n'),
  );
  console.log(table.join('\n'));
  log(`wrote ${path.relative(process.cwd(), path.join(outDir, name))}.{json,md}`);
  return 0;
}
