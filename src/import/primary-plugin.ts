/**
 * Online import of an existing redis-server, run by the primary: the manager, its admin routes
 * and metrics, and the resume of an import a previous run left running (once every worker
 * serves: the import writes through Kvstore's own listener).
 */
import { registerPrimaryPlugin } from '../supervisor/plugins';
import type { PrimaryContext } from '../supervisor/context';
import { gaugeFrom } from '../admin/metrics';
import { createLogger } from '../log';
import { SlotTagTable } from '../keyrewrite/derivedName';
import { createKeySlot } from '../reshard/slotFilter';
import { registerImportRoutes } from './adminRoutes';
import { ImportManager } from './ImportManager';
import { TEMP_PREFIX } from './ImportJob';
import { ImportStateError } from './errors';
import { readPortFile } from '../supervisor/portFile';

const log = createLogger('import');
let manager: ImportManager | undefined;
let stopped = false;

/** Where the primary reaches its own workers: the listener, through loopback when bound to any address. */
export function listenerAddress(listen: { host: string; port: number }): string {
  const host = listen.host === '0.0.0.0' || listen.host === '' ? '127.0.0.1' : listen.host === '::' ? '::1' : listen.host;
  return host.includes(':') ? `[${host}]:${listen.port}` : `${host}:${listen.port}`;
}

/**
 * A temporary name in the same slot as `name` (so RENAME over it stays on one shard, and is not
 * CROSSSLOT): the reserved-looking prefix, then a tag that hashes to the slot, then the name.
 */
export function tempNameFactory(keySlot: (key: Buffer) => number): (name: Buffer) => Buffer {
  let table: SlotTagTable | undefined;
  return (name) => {
    table ??= SlotTagTable.build(keySlot);
    return Buffer.concat([TEMP_PREFIX, Buffer.from('{'), table.tags[keySlot(name)], Buffer.from('}'), name]);
  };
}

/** The listener's address; with `listen.port: 0` the port the workers got (ports.json). */
function clientListener(config: PrimaryContext['config']): { host: string; port: number } {
  if (config.listen.port !== 0) return config.listen;
  const ports = readPortFile(config.stateDir);
  if (!ports) throw new ImportStateError('the workers do not listen yet (no ports.json); try again in a moment');
  return ports.listen;
}

async function resumeWhenReady(supervisor: PrimaryContext, imports: ImportManager): Promise<void> {
  for (;;) {
    if (stopped) return;
    const workers = supervisor.workerInfo();
    if (workers.length > 0 && workers.every((w) => w.ready)) break;
    await new Promise((r) => setTimeout(r, 100).unref());
  }
  const job = imports.resume();
  if (job) log.info({ import: job.id, phase: job.phase }, 'resuming an unfinished import');
}

registerPrimaryPlugin({
  // In a fleet, one proxy (the leader) runs the import, as it runs resharding.
  leaderOnly: true,
  name: 'import',
  start(supervisor) {
    const keySlot = createKeySlot(supervisor.config);
    const imports = new ImportManager({
      stateDir: supervisor.config.stateDir,
      target: () => ({ address: listenerAddress(clientListener(supervisor.config)), password: supervisor.config.password }),
      tempName: tempNameFactory(keySlot),
      log,
    });
    manager = imports;
    registerImportRoutes(supervisor.admin, imports);
    const status = () => imports.status();
    const running = () => status()?.state === 'running';
    const metrics = supervisor.metrics;
    gaugeFrom(metrics, 'kvstore_import_running', 'An import is running', () => (running() ? 1 : 0));
    gaugeFrom(metrics, 'kvstore_import_keys_copied', 'Keys copied by the passes of the current (or last) import', () => status()?.keysCopied ?? 0);
    gaugeFrom(metrics, 'kvstore_import_live_changes', 'Changes applied by the live phase of the current (or last) import', () => (status()?.liveCopied ?? 0) + (status()?.liveDeleted ?? 0));
    gaugeFrom(metrics, 'kvstore_import_pending_keys', 'Changed keys waiting to be copied again', () => (running() ? status()!.pending : 0));
    gaugeFrom(metrics, 'kvstore_import_lag_ms', 'Age of the oldest pending change (ms)', () => (running() ? status()!.lagMs : 0));
    void resumeWhenReady(supervisor, imports).catch((err) => log.error({ err: (err as Error).message }, 'cannot resume the unfinished import'));
  },
  async stop() {
    stopped = true;
    await manager?.stop();
  },
});
