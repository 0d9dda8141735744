/**
 * Moving keys from a source master to a destination master with MIGRATE, shared by the background
 * migrator (primary) and the workers' move-on-access (src/proxy/MigrationGate.ts).
 *
 * No REPLACE, on purpose: once a slot is migrating, every write goes to the destination, so a key
 * that already exists there is at least as new as the source's copy (a worker moved it and maybe
 * rewrote it, or an earlier MIGRATE restored it but timed out before deleting it at the source).
 * MIGRATE then fails with BUSYKEY for that key and the source copy is stale: it is deleted.
 */
import { RedisReplyError, RespArg, RespValue, splitAddress } from '../resp';

/** Runs one command on the source master; rejects with RedisReplyError on an error reply. */
export type SourceExec = (args: RespArg[]) => Promise<RespValue>;

export interface MigrateAuth {
  username?: string;
  password?: string;
}

export interface MigrateOutcome {
  /** Keys that were on the source and now are on the destination. */
  moved: number;
  /** Stale source copies deleted because the destination already had a newer one. */
  staleDeleted: number;
}

export function migrateCommand(destination: string, keys: readonly Buffer[], timeoutMs: number, auth: MigrateAuth): RespArg[] {
  const { host, port } = splitAddress(destination);
  const authArgs: RespArg[] = auth.password ? (auth.username ? ['AUTH2', auth.username, auth.password] : ['AUTH', auth.password]) : [];
  return ['MIGRATE', host, port, '', 0, timeoutMs, ...authArgs, 'KEYS', ...keys];
}

function isBusyKey(err: unknown): boolean {
  return err instanceof RedisReplyError && /BUSYKEY/.test(err.reply);
}

/**
 * Move `keys` (all in slots migrating from `source` to `destination`) in one MIGRATE. Missing
 * keys are fine. Rejects on connection errors and on target errors other than BUSYKEY (callers
 * retry: a retried MIGRATE of an already restored key resolves through BUSYKEY).
 */
export async function migrateKeys(source: SourceExec, destination: string, keys: readonly Buffer[], timeoutMs: number, auth: MigrateAuth): Promise<MigrateOutcome> {
  if (keys.length === 0) return { moved: 0, staleDeleted: 0 };
  try {
    const reply = await source(migrateCommand(destination, keys, timeoutMs, auth));
    if (reply === 'NOKEY') return { moved: 0, staleDeleted: 0 };
    return { moved: keys.length, staleDeleted: 0 };
  } catch (err) {
    if (!isBusyKey(err)) throw err;
  }
  // Some key was already on the destination. MIGRATE deleted the keys it did move; settle the
  // rest one by one.
  let moved = 0;
  let staleDeleted = 0;
  for (const key of keys) {
    try {
      const reply = await source(migrateCommand(destination, [key], timeoutMs, auth));
      if (reply !== 'NOKEY') moved++;
    } catch (err) {
      if (!isBusyKey(err)) throw err;
      staleDeleted += Number(await source(['DEL', key]));
    }
  }
  return { moved, staleDeleted };
}
