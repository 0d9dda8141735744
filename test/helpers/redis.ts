/**
 * Real redis-servers for tests: each on a free loopback port, in its own temp dir, without
 * persistence unless asked, stopped by PID (never by name) when the test ends.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from './ports';
import { trackPid, untrackPid } from './reaper';

export interface RedisProcess {
  port: number;
  address: string; // "127.0.0.1:port"
  pid: number;
  dir: string;
  /** SIGTERM and wait for exit (idempotent). */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would (idempotent). */
  kill(): Promise<void>;
  /** Start again on the same port and dir (after stop/kill). */
  restart(): Promise<void>;
  process(): ChildProcess;
}

export interface RedisOptions {
  port?: number;
  args?: string[];
  persistence?: boolean;
}

export function redisServerBinary(): string {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
  if (!found) throw new Error('redis-server not found: run `bash scripts/install-deps.sh` (installs Debian\'s redis-server)');
  return found;
}

export async function startRedis(options: RedisOptions = {}): Promise<RedisProcess> {
  const port = options.port ?? (await freePort());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `kvstore-redis-${port}-`));
  const binary = redisServerBinary();
  let child: ChildProcess;
  let exited: Promise<void>;

  const launch = async () => {
    const args = [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--dir', dir,
      '--daemonize', 'no',
      '--logfile', path.join(dir, 'redis.log'),
      ...(options.persistence ? [] : ['--save', '', '--appendonly', 'no']),
      ...(options.args ?? []),
    ];
    child = spawn(binary, args, { stdio: 'ignore' });
    const pid = child.pid;
    trackPid(pid);
    exited = new Promise((resolve) => child.once('exit', () => {
      untrackPid(pid);
      resolve();
    }));
    await waitForPort(port);
  };

  const signal = async (sig: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(sig);
    await exited;
  };

  await launch();
  const handle: RedisProcess = {
    port,
    address: `127.0.0.1:${port}`,
    get pid() {
      return child.pid!;
    },
    dir,
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    restart: async () => {
      await signal('SIGTERM');
      await launch();
    },
    process: () => child,
  };
  return handle;
}

/** `n` redis-servers; all are stopped (by PID) and their dirs removed at teardown. */
export async function startRedisGroup(n: number, teardown: (fn: () => Promise<void>) => void, options: RedisOptions = {}): Promise<RedisProcess[]> {
  const servers = await Promise.all(Array.from({ length: n }, () => startRedis(options)));
  teardown(async () => {
    await Promise.all(servers.map((s) => s.kill()));
    for (const s of servers) fs.rmSync(s.dir, { recursive: true, force: true });
  });
  return servers;
}
