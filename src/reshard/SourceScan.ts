/**
 * One pass over a source master for all the slots it is giving away: SCAN the whole keyspace once
 * (keys written after the slots were marked migrating go to the destination, so the source's set
 * of keys in those slots only shrinks and one full SCAN sees every one of them), keep the keys
 * whose slot is moving, and MIGRATE them in paced batches per destination. When the pass ends no
 * key of those slots is left on the source.
 */
import type { Logger } from '../log';
import { SLOT_COUNT } from '../topology/types';
import { MigrateAuth, migrateKeys } from './migrateKeys';
import type { Move } from './planner';
import { RespClient } from '../resp';

/** Keeps the keys whose slot is marked in `wanted`; the native hot path may provide a batch version. */
export type SlotFilter = (keys: Buffer[], wanted: Uint8Array) => { keys: Buffer[]; slots: Int32Array };

export function perKeySlotFilter(keySlot: (key: Buffer) => number): SlotFilter {
  return (keys, wanted) => {
    const kept: Buffer[] = [];
    const slots: number[] = [];
    for (const key of keys) {
      const slot = keySlot(key);
      if (wanted[slot]) {
        kept.push(key);
        slots.push(slot);
      }
    }
    return { keys: kept, slots: Int32Array.from(slots) };
  };
}

/** Shared pacing across all sources of a job: at most `perSecond` keys per second (0 = unpaced). */
export class Pacer {
  private next = 0;
  constructor(private perSecond: number) {}
  setRate(perSecond: number): void {
    this.perSecond = perSecond;
  }
  async take(keys: number): Promise<void> {
    if (this.perSecond <= 0) return;
    const now = Date.now();
    if (this.next < now) this.next = now;
    const wait = this.next - now;
    this.next += (keys * 1000) / this.perSecond;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

export interface ScanProgress {
  scanned(n: number): void;
  moved(n: number, stale: number): void;
}

export type DeleteOrMigrate = 'migrate' | 'delete';

export interface SourceScanOptions {
  source: string; // master address
  /** Destination shard name → its master's current address (resolved at each batch: failover may change it). */
  destinationAddress: (shard: string) => string;
  moves: readonly Move[];
  filter: SlotFilter;
  batchKeys: number;
  scanCount: number;
  migrateTimeoutMs: number;
  auth: MigrateAuth;
  pacer: Pacer;
  progress: ScanProgress;
  log: Logger;
  /** 'delete': no-copy cleanup, the keys are dropped from the source instead of moved. */
  action: DeleteOrMigrate;
  /** Abort between batches (job cancelled / shutting down). */
  stopped: () => boolean;
  retries?: number;
}

export class ScanStopped extends Error {}

async function withRetries<T>(what: string, retries: number, log: Logger, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= retries) throw err;
      const delay = Math.min(2000, 50 * 2 ** attempt);
      log.warn({ err: (err as Error).message, attempt, delay }, `${what} failed, retrying`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

export async function scanSource(options: SourceScanOptions): Promise<void> {
  const { moves, log } = options;
  const wanted = new Uint8Array(SLOT_COUNT);
  const destinationOf: string[] = new Array(SLOT_COUNT);
  for (const m of moves) {
    wanted.fill(1, m.first, m.last + 1);
    for (let s = m.first; s <= m.last; s++) destinationOf[s] = m.to;
  }
  const retries = options.retries ?? 8;
  const client = new RespClient(options.source, { username: options.auth.username, password: options.auth.password });
  const pending = new Map<string, Buffer[]>();

  const flush = async (to: string, keys: Buffer[]) => {
    if (keys.length === 0) return;
    await options.pacer.take(keys.length);
    if (options.action === 'delete') {
      const n = await withRetries('UNLINK', retries, log, () => client.command(['UNLINK', ...keys]));
      options.progress.moved(Number(n), 0);
      return;
    }
    const outcome = await withRetries(`MIGRATE to ${to}`, retries, log, () =>
      migrateKeys((args) => client.command(args), options.destinationAddress(to), keys, options.migrateTimeoutMs, options.auth),
    );
    options.progress.moved(outcome.moved, outcome.staleDeleted);
  };

  try {
    let cursor = '0';
    do {
      if (options.stopped()) throw new ScanStopped('stopped');
      const reply = (await withRetries('SCAN', retries, log, () => client.command(['SCAN', cursor, 'COUNT', options.scanCount]))) as [Buffer, Buffer[]];
      cursor = reply[0].toString();
      const keys = reply[1];
      options.progress.scanned(keys.length);
      const { keys: kept, slots } = options.filter(keys, wanted);
      for (let i = 0; i < kept.length; i++) {
        const to = destinationOf[slots[i]];
        let list = pending.get(to);
        if (!list) pending.set(to, (list = []));
        list.push(kept[i]);
        if (list.length >= options.batchKeys) {
          pending.set(to, []);
          await flush(to, list);
        }
      }
    } while (cursor !== '0');
    for (const [to, list] of pending) await flush(to, list);
  } finally {
    client.close();
  }
}
