/**
 * `stateDir/ports.json`: the addresses a running kvstore actually listens on. With
 * `listen.port: 0` or `admin.port: 0` (any free port: tests, several instances on one host)
 * the config does not say where to connect; this file does (as do the "kvstore is serving" log
 * line and GET /health). `kvstore ctl --config FILE` reads it when the config's admin port is 0.
 * Written once the workers listen, removed on shutdown.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../topology/TopologyStore';
import type { ListenAddress } from './listen';

export const PORT_FILE = 'ports.json';

export interface PortFile {
  pid: number;
  listen: ListenAddress;
  admin: ListenAddress;
}

export function portFilePath(stateDir: string): string {
  return path.join(stateDir, PORT_FILE);
}

export function writePortFile(stateDir: string, ports: PortFile): void {
  writeFileAtomic(portFilePath(stateDir), JSON.stringify(ports, null, 2) + '\n');
}

/** The ports of the kvstore using `stateDir`, or undefined when none wrote them (not running, or not started yet). */
export function readPortFile(stateDir: string): PortFile | undefined {
  try {
    return JSON.parse(fs.readFileSync(portFilePath(stateDir), 'utf8')) as PortFile;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export function removePortFile(stateDir: string, pid = process.pid): void {
  // only our own: another kvstore may have started on the same stateDir meanwhile
  if (readPortFile(stateDir)?.pid === pid) fs.rmSync(portFilePath(stateDir), { force: true });
}
