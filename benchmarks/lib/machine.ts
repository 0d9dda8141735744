/** A description of the machine and software a run was measured on. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

export interface Machine {
  date: string;
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  loadAverageAtStart: number[];
  node: string;
  redisServer: string;
  redisBenchmark: string;
  twemproxy: string | null;
  kvstoreCommit: string | null;
}

function firstLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0] ?? '';
}

export function cpuModelFromCpuinfo(text: string): string {
  const match = /^model name\s*:\s*(.+)$/m.exec(text);
  return match ? match[1].trim() : 'unknown';
}

export function describeMachine(twemproxyBinary: string | null, repoRoot: string): Machine {
  let cpuinfo = '';
  try {
    cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    // not Linux
  }
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).stdout?.trim() || null;
  return {
    date: new Date().toISOString(),
    nproc: os.availableParallelism(),
    cpuModel: cpuModelFromCpuinfo(cpuinfo),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    loadAverageAtStart: os.loadavg().map((v) => Math.round(v * 100) / 100),
    node: process.version,
    redisServer: (/v=(\S+)/.exec(firstLine('redis-server', ['--version']))?.[1]) ?? 'unknown',
    redisBenchmark: firstLine('redis-benchmark', ['--version']).replace(/^redis-benchmark\s*/, ''),
    twemproxy: twemproxyBinary ? firstLine(twemproxyBinary, ['--version']).replace(/^This is /, '') : null,
    kvstoreCommit: commit,
  };
}
