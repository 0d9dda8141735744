/**
 * The real program for integration tests: `node bin/kvstore.js start -c FILE` as a child process
 * (primary + cluster workers) over real redis-servers, in a temp dir. The proxy and the admin API
 * bind port 0 and the helper reads the ports they got from `stateDir/ports.json`
 * (src/supervisor/portFile.ts): picking a free port first and binding it later races with other
 * tests. Teardown kills exactly what was started: the primary and the worker pids it reported.
 *
 *   const kv = await startKvstore(t, { shards: 2, workers: 2 });
 *   await kv.admin('GET', '/stats');
 */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { RedisProcess, startRedisGroup } from './redis';
import { readPortFile } from '../../src/supervisor/portFile';
import { trackPid, untrackPid } from './reaper';

export const REPO_ROOT = path.join(__dirname, '..', '..', '..');
export const KVSTORE_BIN = path.join(REPO_ROOT, 'bin', 'kvstore.js');

export interface TestContextLike {
  teardown(fn: () => Promise<void> | void): void;
  log?(...values: unknown[]): void;
}

export interface KvstoreOptions {
  shards?: number;
  workers?: number | 'auto';
  /** Extra config keys (merged over the generated ones). */
  config?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
}

export interface KvstoreProcess {
  /** Where clients connect (the port the proxy got). */
  port: number;
  /** Where the admin API listens (the port it got). */
  adminPort: number;
  configFile: string;
  dir: string;
  redis: RedisProcess[];
  process: ChildProcess;
  /** Resolves with the exit code/signal once the primary exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** All output of the primary and workers (pino JSON lines). */
  output(): string;
  admin<T = any>(method: string, urlPath: string, body?: unknown): Promise<{ status: number; body: T; text: string }>;
  workerPids(): Promise<number[]>;
  /** Rewrite the config file (for reload tests). */
  writeConfig(config: Record<string, unknown>): void;
  config: Record<string, unknown>;
}

export function adminRequest(port: number, method: string, urlPath: string, body?: unknown): Promise<{ status: number; body: any; text: string }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, headers: payload ? { 'content-type': 'application/json' } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = undefined;
        try {
          parsed = JSON.parse(text);
        } catch {
          /* not JSON (e.g. /metrics) */
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, text });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

export async function startKvstore(t: TestContextLike, options: KvstoreOptions = {}): Promise<KvstoreProcess> {
  const redis = await startRedisGroup(options.shards ?? 2, t.teardown.bind(t));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvstore-it-'));
  const config: Record<string, unknown> = {
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    workers: options.workers ?? 2,
    stateDir: path.join(dir, 'state'),
    shards: redis.map((r, i) => ({ name: `s${i + 1}`, master: r.address, replicas: [] })),
    timeouts: { shutdownDrainMs: 5000 },
    ...options.config,
  };
  const configFile = path.join(dir, 'kvstore.yaml');
  fs.writeFileSync(configFile, yaml.dump(config));

  let output = '';
  const child = spawn(process.execPath, [KVSTORE_BIN, 'start', '-c', configFile], {
    env: { ...process.env, KVSTORE_LOG_LEVEL: 'info', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  trackPid(child.pid);
  child.once('exit', () => untrackPid(child.pid));
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

  const knownWorkers = new Set<number>();
  const handle: KvstoreProcess = {
    port: 0,
    adminPort: 0,
    configFile,
    dir,
    redis,
    process: child,
    exited,
    output: () => output,
    admin: (method, urlPath, body) => adminRequest(handle.adminPort, method, urlPath, body),
    async workerPids() {
      const r = await adminRequest(handle.adminPort, 'GET', '/workers');
      const pids = (r.body.workers as Array<{ pid?: number; ready: boolean }>).filter((w) => w.ready && w.pid).map((w) => w.pid!);
      pids.forEach((p) => knownWorkers.add(p));
      return pids;
    },
    writeConfig(next) {
      fs.writeFileSync(configFile, yaml.dump(next));
    },
    config,
  };

  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        await handle.workerPids();
      } catch {
        /* admin gone */
      }
      child.kill('SIGKILL');
      await exited;
    }
    // workers exit when the primary goes away; make sure of it (only pids this test saw)
    for (const pid of knownWorkers) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const stateDir = String(config.stateDir);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`kvstore exited during start (code ${child.exitCode}):\n${output}`);
    try {
      // written once the workers listen; a file left by an earlier process on this stateDir has its pid
      const ports = readPortFile(stateDir);
      if (!ports || ports.pid !== child.pid) throw new Error('no port file yet');
      handle.port = ports.listen.port;
      handle.adminPort = ports.admin.port;
      const h = await adminRequest(handle.adminPort, 'GET', '/health');
      if (h.status === 200 && h.body.status === 'ok') break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`kvstore did not become healthy:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await handle.workerPids();
  return handle;
}

/** Wait until `fn` returns a truthy value (polling), or throw after `timeoutMs`. */
export async function eventually<T>(fn: () => Promise<T> | T, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs `kvstore ctl` against `kv`'s admin API asynchronously (a sync spawn would freeze a load generator meanwhile). */
export function ctl(kv: { adminPort: number }, ...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [KVSTORE_BIN, 'ctl', '--admin', `127.0.0.1:${kv.adminPort}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}
