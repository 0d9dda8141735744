/**
 * Copies keys from the source redis-server into Kvstore, exactly (type, value, TTL).
 *
 * Writes go through Kvstore's own listener as a client would send them, so the proxy routes each
 * key to the shard owning its slot (and follows resharding, failover and key rewrite) — the
 * import never keeps a second copy of the routing rules.
 *
 * Small keys (MEMORY USAGE at most `bigKeyBytes`): DUMP + PTTL on the source, RESTORE ... REPLACE
 * with the remaining TTL, less the time the copy took, so a TTL ends within a round trip of the
 * source's. Three pipelined round trips per batch (sizes, DUMP/PTTL, RESTOREs).
 *
 * Big hashes, sets and sorted sets: DUMP serializes them field by field while Redis does nothing
 * else (a hash of a million fields blocks the source for about a second), so they are read with
 * HSCAN/SSCAN/ZSCAN in chunks of `chunkElements` (each call blocks only for its chunk), written
 * to a temporary name in the same slot, given the TTL and RENAMEd over the key. Big strings,
 * lists and streams are still DUMPed: their dump is a copy of a few large blobs (listpacks,
 * quicklist nodes), not one step per element.
 *
 * A key missing on the source is deleted in Kvstore: that is how deletions and expiries seen by
 * the live phase propagate.
 */
import { RedisReplyError } from '../errors';
import type { RespArg, RespClient, RespValue } from '../resp';
import { ImportWriteError } from './errors';

export interface CopierOptions {
  source: RespClient;
  target: RespClient;
  bigKeyBytes: number;
  chunkElements?: number;
  /** Source key → name in Kvstore (strip-prefix). */
  targetName(key: Buffer): Buffer;
  /** A temporary name in the same slot as `name`, for chunked copies. */
  tempName(name: Buffer): Buffer;
  /** Kvstore names that must not be written (they existed before the import; onExisting: skip). */
  isSkipped(name: Buffer): boolean;
}

export interface CopyResult {
  /** Written (RESTORE or chunked copy). */
  copied: number;
  /** Of those, copied in chunks. */
  big: number;
  /** Missing on the source (deleted or expired): deleted in Kvstore. */
  missing: number;
  /** Left alone because they are skipped names. */
  skipped: number;
}

const CHUNK_TYPES = new Set(['hash', 'set', 'zset']);

export class KeyCopier {
  constructor(private readonly o: CopierOptions) {}

  async copy(keys: readonly Buffer[]): Promise<CopyResult> {
    const result: CopyResult = { copied: 0, big: 0, missing: 0, skipped: 0 };
    const work: { key: Buffer; name: Buffer }[] = [];
    for (const key of keys) {
      const name = this.o.targetName(key);
      if (this.o.isSkipped(name)) result.skipped++;
      else work.push({ key, name });
    }
    if (work.length === 0) return result;

    const sizes = await this.read(work.map((w) => ['MEMORY', 'USAGE', w.key]));
    const small: typeof work = [];
    const big: typeof work = [];
    const writes: RespArg[][] = [];
    work.forEach((w, i) => {
      const size = sizes[i];
      if (size === null) {
        writes.push(['DEL', w.name]);
        result.missing++;
      } else if (Number(size) > this.o.bigKeyBytes) big.push(w);
      else small.push(w);
    });

    const dumps = await this.read(small.flatMap((w) => [['DUMP', w.key], ['PTTL', w.key]]));
    const readAt = Date.now();
    small.forEach((w, i) => {
      const value = dumps[2 * i];
      const ttl = remainingTtl(Number(dumps[2 * i + 1]), readAt);
      if (value === null || ttl === null) {
        writes.push(['DEL', w.name]);
        result.missing++;
      } else {
        writes.push(['RESTORE', w.name, ttl, value as Buffer, 'REPLACE']);
        result.copied++;
      }
    });
    await this.write(writes);

    for (const w of big) {
      const r = await this.copyBig(w.key, w.name);
      if (r === 'missing') result.missing++;
      else {
        result.copied++;
        if (r === 'chunked') result.big++;
      }
    }
    return result;
  }

  /** One big key; 'dumped' when its type dumps cheaply, 'chunked' when copied by *SCAN. */
  private async copyBig(key: Buffer, name: Buffer): Promise<'dumped' | 'chunked' | 'missing'> {
    const type = String(await this.o.source.command(['TYPE', key]));
    if (type === 'none') {
      await this.write([['DEL', name]]);
      return 'missing';
    }
    if (!CHUNK_TYPES.has(type)) {
      const [value, pttl] = await this.read([['DUMP', key], ['PTTL', key]]);
      const ttl = remainingTtl(Number(pttl), Date.now());
      if (value === null || ttl === null) {
        await this.write([['DEL', name]]);
        return 'missing';
      }
      await this.write([['RESTORE', name, ttl, value as Buffer, 'REPLACE']]);
      return 'dumped';
    }
    const temp = this.o.tempName(name);
    await this.write([['DEL', temp]]);
    const scan = type === 'hash' ? 'HSCAN' : type === 'set' ? 'SSCAN' : 'ZSCAN';
    const count = this.o.chunkElements ?? 1000;
    let cursor = '0';
    do {
      const page = (await this.o.source.command([scan, key, cursor, 'COUNT', count])) as RespValue[];
      cursor = String(page[0]);
      const items = page[1] as Buffer[];
      if (items.length === 0) continue;
      if (type === 'hash') await this.write([['HSET', temp, ...items]]);
      else if (type === 'set') await this.write([['SADD', temp, ...items]]);
      else {
        // ZSCAN gives member, score; ZADD takes score, member. Scores come as Redis prints them
        // (17 significant digits, inf), which ZADD parses back to the same double.
        const args: Buffer[] = [];
        for (let i = 0; i < items.length; i += 2) args.push(items[i + 1], items[i]);
        await this.write([['ZADD', temp, ...args]]);
      }
    } while (cursor !== '0');
    const ttl = remainingTtl(Number(await this.o.source.command(['PTTL', key])), Date.now());
    if (ttl === null) {
      await this.write([['DEL', temp], ['DEL', name]]);
      return 'missing';
    }
    // An empty temp (the key emptied meanwhile) does not exist: RENAME would fail.
    const exists = Number(await this.o.target.command(['EXISTS', temp]));
    if (!exists) {
      await this.write([['DEL', name]]);
      return 'missing';
    }
    await this.write(ttl > 0 ? [['PEXPIRE', temp, ttl], ['RENAME', temp, name]] : [['RENAME', temp, name]]);
    return 'chunked';
  }

  private async read(commands: RespArg[][]): Promise<RespValue[]> {
    if (commands.length === 0) return [];
    const replies = await this.o.source.pipeline(commands);
    return replies.map((r) => {
      if (r instanceof Error) throw r;
      return r;
    });
  }

  private async write(commands: RespArg[][]): Promise<void> {
    if (commands.length === 0) return;
    const replies = await this.o.target.pipeline(commands);
    replies.forEach((r, i) => {
      if (r instanceof RedisReplyError || r instanceof Error) {
        throw new ImportWriteError(`Kvstore refused ${String(commands[i][0])} ${String(commands[i][1])}: ${r.message}`);
      }
    });
  }
}

/**
 * RESTORE's TTL for a key whose PTTL was read at `readAt`: 0 = none, null = expired or gone.
 * The time since the read is taken off, so the copy expires no later than the original.
 */
export function remainingTtl(pttl: number, readAt: number, now = Date.now()): number | null {
  if (pttl === -2) return null;
  if (pttl < 0) return 0;
  const left = pttl - (now - readAt);
  return left > 0 ? left : null;
}
