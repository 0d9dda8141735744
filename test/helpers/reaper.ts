/**
 * Makes sure the servers a test process started die with it, even when ava kills a timed-out
 * test worker with no chance to run `t.teardown`. Each tracked PID is listed in a file; a tiny
 * watchdog shell (one per test process) waits for this process to go away and then SIGKILLs
 * exactly the PIDs still listed. Normal teardown untracks them first, so nothing else is touched.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const tracked = new Set<number>();
let listFile: string | null = null;

function ensureWatchdog(): string {
  if (listFile) return listFile;
  listFile = path.join(os.tmpdir(), `kvstore-test-pids-${process.pid}`);
  fs.writeFileSync(listFile, '');
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ` +
    `for p in $(cat '${listFile}' 2>/dev/null); do kill -9 "$p" 2>/dev/null; done; rm -f '${listFile}'`;
  const watchdog = spawn('sh', ['-c', script], { stdio: 'ignore', detached: true });
  watchdog.unref();
  // A graceful exit kills synchronously; the watchdog covers SIGKILL.
  process.once('exit', () => {
    for (const pid of tracked) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  return listFile;
}

function writeList(): void {
  fs.writeFileSync(ensureWatchdog(), [...tracked].join('\n'));
}

export function trackPid(pid: number | undefined): void {
  if (!pid) return;
  tracked.add(pid);
  writeList();
}

export function untrackPid(pid: number | undefined): void {
  if (!pid || !tracked.delete(pid)) return;
  writeList();
}
