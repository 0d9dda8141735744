/**
 * Every process the suite starts goes through here, so that it can stop exactly those (by PID,
 * and by the process group it leads), on success, on error and on SIGINT/SIGTERM.
 */
import { ChildProcess, spawn, SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import { processTree, readProcStat } from './procStat';

export interface Started {
  name: string;
  child: ChildProcess;
  pid: number;
  exited: Promise<void>;
  /** SIGTERM the process (and, after `graceMs`, SIGKILL what remains of its group). */
  stop(graceMs?: number): Promise<void>;
}

const started = new Set<Started>();
const tempDirs = new Set<string>();

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone
  }
}

/**
 * Start a process in its own process group (detached), so that Ctrl-C in the terminal reaches
 * only the suite, which then stops its children in order; and so that anything they fork is
 * stopped with them.
 */
export function startProcess(name: string, command: string, args: string[], options: SpawnOptions = {}): Started {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], ...options, detached: true });
  if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
  const pid = child.pid;
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const handle: Started = {
    name,
    child,
    pid,
    exited,
    stop: async (graceMs = 5000) => {
      // Descendants are recorded first: once the leader exits they are re-parented and can no
      // longer be found by walking from it. The (pid, start time) pair guards against reuse.
      const tree = processTree(pid).filter((s) => s.pid !== pid);
      if (alive(child)) {
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, graceMs))]);
      }
      if (alive(child)) {
        child.kill('SIGKILL');
        await exited;
      }
      // Children get a moment to finish their own shutdown (e.g. write a CPU profile).
      const leftovers = () =>
        tree.filter((s) => {
          const now = readProcStat(s.pid);
          return now !== null && now.startTicks === s.startTicks && now.state !== 'Z';
        });
      const until = Date.now() + Math.min(graceMs, 5000);
      while (leftovers().length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      signalGroup(pid, 'SIGKILL');
      for (const s of leftovers()) {
        try {
          process.kill(s.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      started.delete(handle);
    },
  };
  Object.defineProperty(handle, 'stderr', { get: () => stderr });
  started.add(handle);
  return handle;
}

export function lastStderr(p: Started): string {
  return (p as unknown as { stderr: string }).stderr ?? '';
}

export function registerTempDir(dir: string): string {
  tempDirs.add(dir);
  return dir;
}

/** Run a benchmark's main: stop what it started, then exit with its code (1, after logging the stack, when it threw). */
export function runMain(main: () => Promise<number>, log: (line: string) => void): void {
  main()
    .then(async (code) => {
      await stopAll();
      process.exit(code);
    })
    .catch(async (err: Error) => {
      log(`failed: ${err.stack ?? err.message}`);
      await stopAll();
      process.exit(1);
    });
}

/** Stop everything still running (most recently started first) and remove temp dirs. */
export async function stopAll(): Promise<void> {
  const list = [...started].reverse();
  for (const p of list) await p.stop(3000).catch(() => undefined);
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

let installed = false;
/** On SIGINT/SIGTERM: stop what was started, then exit with 130/143. */
export function installSignalCleanup(onSignal?: () => void): void {
  if (installed) return;
  installed = true;
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    onSignal?.();
    process.stderr.write(`\nbench: ${signal}, stopping the processes it started...\n`);
    void stopAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
