/**
 * CPU time of processes from /proc/<pid>/stat (Linux). utime + stime cover every thread of a
 * process; a proxy's cost is the sum over its process tree (Kvstore: primary + workers).
 */
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';

export interface ProcStat {
  pid: number;
  ppid: number;
  /** R, S, D, Z (zombie: exited, not yet reaped), ... */
  state: string;
  /** user + system CPU, in clock ticks */
  cpuTicks: number;
  /** user CPU alone, in clock ticks (the rest is kernel time: syscalls, TCP) */
  userTicks: number;
  /** start time since boot, in clock ticks: with the pid, identifies one process for its lifetime */
  startTicks: number;
}

/** Parse the text of /proc/<pid>/stat; the command name may hold spaces and parentheses. */
export function parseProcStat(text: string): ProcStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  // fields from field 3 (state) on
  const rest = text.slice(close + 2).trim().split(/\s+/);
  const ppid = Number(rest[1]);
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  const startTicks = Number(rest[19]);
  if (![pid, ppid, utime, stime, startTicks].every(Number.isFinite)) return null;
  return { pid, ppid, state: rest[0], cpuTicks: utime + stime, userTicks: utime, startTicks };
}

export function readProcStat(pid: number): ProcStat | null {
  try {
    return parseProcStat(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null; // exited
  }
}

let clockTicks: number | null = null;
/** Clock ticks per second (CLK_TCK, almost always 100). */
export function ticksPerSecond(): number {
  if (clockTicks === null) {
    const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim();
    const parsed = Number(out);
    clockTicks = Number.isFinite(parsed) && parsed > 0 ? parsed : 100;
  }
  return clockTicks;
}

/** Every live process under `rootPid` (itself included), by walking ppid links once over /proc. */
export function processTree(rootPid: number): ProcStat[] {
  const all: ProcStat[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(Number(entry));
    if (stat) all.push(stat);
  }
  return descendants(all, rootPid);
}

/** The processes in `all` that are `rootPid` or descend from it. */
export function descendants(all: ProcStat[], rootPid: number): ProcStat[] {
  const children = new Map<number, ProcStat[]>();
  for (const s of all) {
    const list = children.get(s.ppid) ?? [];
    list.push(s);
    children.set(s.ppid, list);
  }
  const root = all.find((s) => s.pid === rootPid);
  if (!root) return [];
  const out: ProcStat[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const next = queue.shift()!;
    out.push(next);
    for (const child of children.get(next.pid) ?? []) queue.push(child);
  }
  return out;
}

/** Total CPU seconds (and user CPU seconds) of the given root processes and all their descendants. */
export function treeCpuSeconds(rootPids: number[]): { seconds: number; userSeconds: number; pids: number[] } {
  const seen = new Map<number, ProcStat>();
  for (const root of rootPids) for (const s of processTree(root)) seen.set(s.pid, s);
  let ticks = 0;
  let user = 0;
  for (const s of seen.values()) {
    ticks += s.cpuTicks;
    user += s.userTicks;
  }
  const hz = ticksPerSecond();
  return { seconds: ticks / hz, userSeconds: user / hz, pids: [...seen.keys()].sort((a, b) => a - b) };
}
