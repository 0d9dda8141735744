/**
 * Online import of an existing redis-server, run by the primary: the manager, its admin routes
 * and metrics, and the resume of an import a previous run left running (once every worker
 * serves: the import writes through Kvstore's own listener).
 */
import { registerPrimaryPlugin } from '../supervisor/plugins';
import type { Supervisor } from '../supervisor/Supervisor';
import { createLogger } from '../log';
import { SlotTagTable } from '../keyrewrite/derivedName';
import { createKeySlot } from '../reshard/slotFilter';
import { registerImportRoutes } from './adminRoutes';
import { ImportManager } from './ImportManager';
import { TEMP_PREFIX } from './ImportJob';

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

async function resumeWhenReady(supervisor: Supervisor, imports: ImportManager): Promise<void> {
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
  name: 'import',
  start(supervisor) {
    const keySlot = createKeySlot(supervisor.config);
    const imports = new ImportManager({
      stateDir: supervisor.config.stateDir,
      target: () => ({ address: listenerAddress(supervisor.config.listen), password: supervisor.config.password }),
      tempName: tempNameFactory(keySlot),
      log,
    });
    manager = imports;
    registerImportRoutes(supervisor.admin, imports);
    supervisor.metrics.addSource(() => {
      const s = imports.status();
      const running = s?.state === 'running';
      const gauge = (name: string, help: string, value: number) => ({ name, help, type: 'gauge' as const, samples: [{ value }] });
      return [
        gauge('kvstore_import_running', 'An import is running', running ? 1 : 0),
        gauge('kvstore_import_keys_copied', 'Keys copied by the passes of the current (or last) import', s?.keysCopied ?? 0),
        gauge('kvstore_import_live_changes', 'Changes applied by the live phase of the current (or last) import', (s?.liveCopied ?? 0) + (s?.liveDeleted ?? 0)),
        gauge('kvstore_import_pending_keys', 'Changed keys waiting to be copied again', running ? s!.pending : 0),
        gauge('kvstore_import_lag_ms', 'Age of the oldest pending change (ms)', running ? s!.lagMs : 0),
      ];
    });
    void resumeWhenReady(supervisor, imports).catch((err) => log.error({ err: (err as Error).message }, 'cannot resume the unfinished import'));
  },
  async stop() {
    stopped = true;
    await manager?.stop();
  },
});
