/**
 * Micro-benchmark of the hot path: request framing + slot → shard lookup of 100-command
 * pipelined GET and SET chunks (and, for context, framing 100 backend replies), native addon vs
 * TypeScript reference, in commands per second on one core.
 * Target (issue #2): >= 10 M commands/s natively and >= 3x the reference.
 * Run: npm run bench:native   (env BENCH_SECONDS=seconds per measurement, default 1)
 */
import { CMD_STRIDE, C_SLOT, HotPath, R_STATUS_LEN, SLOT_NONE, STATUS_LEN } from '../src/native/api';
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

main();
