/**
 * The migrator's key filter: the keys of a SCAN page whose slot is moving, hashed with the hot
 * path's keySlot (same hash and seed as the workers). Without the hot path loader (src/native),
 * the addon's CRC16 keySlot is used directly.
 */
import path from 'node:path';
import type { KvstoreConfig } from '../config/types';
import { NativeLoadError } from '../errors';
import { perKeySlotFilter, SlotFilter } from './SourceScan';

interface SlotHasher {
  keySlot(key: Buffer): number;
  configure?(options: { maxBulkBytes: number; maxInlineBytes: number; hash: 'crc16' | 'murmur'; murmurSeed: number }): void;
}

/** The workers' key → slot function (same hash and seed), for the primary's jobs. */
export function createKeySlot(config: Pick<KvstoreConfig, 'hash' | 'murmurSeed' | 'limits'>): (key: Buffer) => number {
  let hasher: SlotHasher | undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const mod = require('../native/index') as { loadHotPath?: () => SlotHasher };
    hasher = mod.loadHotPath?.();
    hasher?.configure?.({ maxBulkBytes: config.limits.maxBulkBytes, maxInlineBytes: config.limits.maxInlineBytes, hash: config.hash, murmurSeed: config.murmurSeed });
  } catch {
    hasher = undefined;
  }
  if (!hasher) {
    if (config.hash !== 'crc16') throw new NativeLoadError('the hot path (src/native) is needed to hash keys with murmur');
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    hasher = require(path.join(__dirname, '..', '..', '..', 'build', 'Release', 'kvstore_native.node')) as SlotHasher;
  }
  const h = hasher;
  return (key) => h.keySlot(key);
}

export function createSlotFilter(config: Pick<KvstoreConfig, 'hash' | 'murmurSeed' | 'limits'>): SlotFilter {
  return perKeySlotFilter(createKeySlot(config));
}
