/**
 * Micro-benchmark of the hot path: request framing + slot → shard lookup of 100-command
 * pipelined GET and SET chunks (and, for context, framing 100 backend replies), native addon vs
 * TypeScript reference, in commands per second on one core.
 * Target (issue #2): >= 10 M commands/s natively and >= 3x the reference.
 * Then one huge command arriving in 64 KB reads (an MSET of 100,000 keys, 6 MB): framed with the
 * resume point passed back (S_RESUME_AT / S_RESUME_ARGS, as the proxy does) and without it
 * (rescanned from its start per read), native CPU time.
 * Run: npm run bench:native   (env BENCH_SECONDS=seconds per measurement, default 1)
 */
import {
  ARG_STRIDE, CMD_STRIDE, C_SLOT, HotPath, KEY_STRIDE, R_STATUS_LEN, SLOT_NONE, STATUS_LEN, S_CONSUMED, S_GROW_ARGS, S_NCMDS, S_RESUME_ARGS,
  S_RESUME_AT,
} from '../src/native/api';
import { bigMsetCommand } from './lib/bigMset';
import { compileForNative } from '../src/commands/table';
import { NativeHotPath } from '../src/native/NativeHotPath';
import { ReferenceHotPath } from '../src/native/reference/ReferenceHotPath';

const PIPELINE = 100;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);

function resp(args: string[]): string {
  return `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('');
}

const key = (i: number) => `key:${String(i * 7919 % 1000000).padStart(6, '0')}`;
const chunks: Record<string, Buffer> = {
  'GET (100 pipelined)': Buffer.from(Array.from({ length: PIPELINE }, (_, i) => resp(['GET', key(i)])).join('')),
  'SET 16 B (100 pipelined)': Buffer.from(Array.from({ length: PIPELINE }, (_, i) => resp(['SET', key(i), 'v'.repeat(16)])).join('')),
  'SET 256 B (100 pipelined)': Buffer.from(Array.from({ length: PIPELINE }, (_, i) => resp(['SET', key(i), 'v'.repeat(256)])).join('')),
};
const replyChunk = Buffer.from(Array.from({ length: PIPELINE }, (_, i) => (i % 10 === 0 ? '$-1\r\n' : `$16\r\n${'x'.repeat(16)}\r\n`)).join(''));

interface Setup {
  hp: HotPath;
  cmds: Int32Array;
  slotTable: Uint16Array;
}

function setup(hp: HotPath): Setup {
  hp.configure({ maxBulkBytes: 512 * 1024 * 1024, maxInlineBytes: 64 * 1024, hash: 'crc16', murmurSeed: 0 });
  hp.setCommandTable(compileForNative());
  const cmds = new Int32Array(CMD_STRIDE * 128);
  hp.bindBatch({ cmds, args: new Int32Array(2 * 1024), keys: new Int32Array(2 * 1024), status: new Int32Array(STATUS_LEN) }, new Int32Array(128), new Int32Array(R_STATUS_LEN), new Int32Array(1024));
  const slotTable = new Uint16Array(16384);
  for (let s = 0; s < 16384; s++) slotTable[s] = Math.floor((s * 3) / 16384);
  hp.bindSlotTable(slotTable);
  return { hp, cmds, slotTable };
}

/**
 * Commands per CPU-second of this process (the per-core figure; wall-clock rates on a shared,
 * oversubscribed machine mostly measure the neighbours) and per wall-clock second.
 */
function measure(fn: () => number): { cpu: number; wall: number } {
  const cpuNow = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const warmEnd = cpuNow() + SECONDS * 0.3;
  while (cpuNow() < warmEnd) for (let i = 0; i < 100; i++) fn();
  let commands = 0;
  const cpu0 = cpuNow();
  const wall0 = process.hrtime.bigint();
  let cpu = cpu0;
  while (cpu - cpu0 < SECONDS) {
    for (let i = 0; i < 200; i++) commands += fn();
    cpu = cpuNow();
  }
  const wall = Number(process.hrtime.bigint() - wall0) / 1e9;
  return { cpu: commands / (cpu - cpu0), wall: commands / wall };
}

/** Frame the chunk and look up every command's shard, as the worker does per read. */
function frameAndRoute(s: Setup, chunk: Buffer): () => number {
  let sink = 0;
  return () => {
    const n = s.hp.parseRequests(chunk, 0);
    const cmds = s.cmds;
    for (let i = 0; i < n; i++) {
      const slot = cmds[i * CMD_STRIDE + C_SLOT];
      if (slot !== SLOT_NONE) sink += s.slotTable[slot];
    }
    if (n !== PIPELINE || sink < 0) throw new Error(`framed ${n} commands`);
    return n;
  };
}

function frameReplies(s: Setup): () => number {
  return () => {
    const n = s.hp.frameReplies(replyChunk, 0);
    if (n !== PIPELINE) throw new Error(`framed ${n} replies`);
    return n;
  };
}

const fmt = (v: number) => (v / 1e6).toFixed(2).padStart(8) + ' M/s';

function main(): void {
  const native = setup(new NativeHotPath());
  const reference = setup(new ReferenceHotPath());
  console.log(`native-framing: ${PIPELINE}-command pipelined chunks, framing + slot -> shard lookup, ${SECONDS} CPU-s per figure, node ${process.version}`);
  console.log('commands per CPU-second (per core); wall-clock rate in parentheses');
  console.log('workload                          native                  reference              native/reference');
  const rows: Array<[string, () => number, () => number]> = [
    ...Object.entries(chunks).map(([name, chunk]): [string, () => number, () => number] => [name, frameAndRoute(native, chunk), frameAndRoute(reference, chunk)]),
    ['replies: 100 bulk/null (framing)', frameReplies(native), frameReplies(reference)],
  ];
  for (const [name, n, r] of rows) {
    const nv = measure(n);
    const rv = measure(r);
    const both = (m: { cpu: number; wall: number }) => `${fmt(m.cpu)} (${(m.wall / 1e6).toFixed(2)})`.padEnd(22);
    console.log(`${name.padEnd(33)} ${both(nv)}  ${both(rv)}  ${(nv.cpu / rv.cpu).toFixed(1).padStart(6)}x`);
  }
}

/**
 * Feeds `wire` in `piece`-byte reads the way RequestReader does (the tail kept, args grown on
 * S_GROW_ARGS) and returns the CPU seconds until the one command is framed.
 */
function frameInPieces(wire: Buffer, piece: number, resume: boolean): number {
  const hp = new NativeHotPath();
  const s = setup(hp);
  const status = new Int32Array(STATUS_LEN);
  let args = new Int32Array(2 * 1024);
  const bind = () => hp.bindBatch({ cmds: s.cmds, args, keys: new Int32Array((args.length / ARG_STRIDE) * KEY_STRIDE), status }, new Int32Array(128), new Int32Array(R_STATUS_LEN), new Int32Array(1024));
  bind();
  const cpu0 = process.cpuUsage();
  let from = 0;
  let at = 0;
  let nargs = 0;
  let framed = 0;
  for (let end = Math.min(piece, wire.length); ; end = Math.min(end + piece, wire.length)) {
    for (;;) {
      framed += resume ? hp.parseRequests(wire, from, end, at, nargs) : hp.parseRequests(wire, from, end);
      at = status[S_RESUME_AT];
      nargs = status[S_RESUME_ARGS];
      if (status[S_GROW_ARGS] > 0) {
        args = new Int32Array(ARG_STRIDE * status[S_GROW_ARGS]);
        bind();
        continue;
      }
      from += status[S_CONSUMED];
      break;
    }
    if (end === wire.length) break;
  }
  const used = process.cpuUsage(cpu0);
  if (framed !== 1 || status[S_NCMDS] !== 1 || from !== wire.length) throw new Error(`framed ${framed} commands, ${from} of ${wire.length} bytes`);
  return (used.user + used.system) / 1e6;
}

main();
const big = bigMsetCommand(100_000);
const resumed = frameInPieces(big, 64 * 1024, true);
const rescanned = frameInPieces(big, 64 * 1024, false);
console.log(`\none MSET of 100,000 keys (${(big.length / 1e6).toFixed(1)} MB) in 64 KB reads, native, CPU s: resumed ${resumed.toFixed(3)}, rescanned per read ${rescanned.toFixed(3)} (${(rescanned / resumed).toFixed(0)}x)`);
