/**
 * Kvstore as a benchmarked system: `node bin/kvstore.js start -c <generated yaml>` in the
 * foreground, over the suite's shards, with its own state dir and admin port.
 */
import fs from 'node:fs';
import path from 'node:path';
import { freePort, waitForPort } from '../../test/helpers/ports';
import { lastStderr, startProcess } from './processes';
import { makeTempDir, Server } from './servers';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
export const KVSTORE_CLI = path.join(REPO_ROOT, 'bin', 'kvstore.js');

/**
 * The CLI to run: this checkout's, or another checkout's (`--kvstore DIR`), e.g. to measure a
 * hot-path change before and after in one run on the same machine.
 */
export function kvstoreCli(checkout: string | null): string {
  if (!checkout) return KVSTORE_CLI;
  const resolved = path.resolve(checkout);
  return resolved.endsWith('.js') ? resolved : path.join(resolved, 'bin', 'kvstore.js');
}

export function kvstoreAvailable(cli = KVSTORE_CLI): boolean {
  return fs.existsSync(cli);
}

export function kvstoreConfig(options: { port: number; adminPort: number; workers: number | 'auto'; stateDir: string; shards: Server[] }): string {
  return [
    'listen:',
    '  host: 127.0.0.1',
    `  port: ${options.port}`,
    `workers: ${options.workers}`,
    'mode: cache',
    'hash: crc16',
    'admin:',
    '  host: 127.0.0.1',
    `  port: ${options.adminPort}`,
    `stateDir: ${JSON.stringify(options.stateDir)}`,
    'shards:',
    ...options.shards.flatMap((s) => [`  - name: ${s.name}`, `    master: ${s.address}`, '    replicas: []']),
    '',
  ].join('\n');
}

/**
 * The caller's environment without KVSTORE_* overrides (they would silently change the
 * generated config), logging at warn unless KVSTORE_LOG_LEVEL says otherwise.
 */
export function kvstoreEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (!k.startsWith('KVSTORE_')) out[k] = v;
  out.KVSTORE_LOG_LEVEL = env.KVSTORE_LOG_LEVEL ?? 'warn';
  return out;
}

export interface KvstoreStartOptions {
  /** YAML appended to the generated config (e.g. a `limits:` block). */
  extraYaml?: string;
  /** Raise the soft fd limit to the hard one first (a worker holds every client's socket). */
  raiseFdLimit?: boolean;
  startTimeoutMs?: number;
}

export async function startKvstore(
  name: string, workers: number | 'auto', shards: Server[], extraNodeArgs: string[] = [], cli = KVSTORE_CLI,
  options: KvstoreStartOptions = {},
): Promise<Server & { adminPort: number }> {
  const port = await freePort();
  const adminPort = await freePort();
  const dir = makeTempDir(name);
  const stateDir = path.join(dir, 'state');
  fs.mkdirSync(stateDir);
  const conf = path.join(dir, 'kvstore.yaml');
  fs.writeFileSync(conf, kvstoreConfig({ port, adminPort, workers, stateDir, shards }) + (options.extraYaml ?? ''));
  const args = [...extraNodeArgs, cli, 'start', '-c', conf];
  const p = options.raiseFdLimit
    ? startProcess(name, 'sh', ['-c', 'ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"', process.execPath, ...args], { cwd: dir, env: kvstoreEnv(process.env) })
    : startProcess(name, process.execPath, args, { cwd: dir, env: kvstoreEnv(process.env) });
  const exited = p.exited.then(() => {
    throw new Error(`${name} exited during start: ${lastStderr(p).trim().slice(-800)}`);
  });
  await Promise.race([waitForPort(port, '127.0.0.1', options.startTimeoutMs ?? 20_000), exited]);
  return { name, port, adminPort, address: `127.0.0.1:${port}`, process: p };
}
