/**
 * Key → slot hashing, byte-exact with Redis Cluster's keyHashSlot (CRC16-XMODEM & 0x3FFF with
 * the {hash tag} rule), plus MurmurHash2 (32-bit, seeded) mod 16384 as the alternative.
 * All functions take a byte range so the parser can hash keys in place, without copies.
 */

export const SLOT_COUNT = 16384;
const SLOT_MASK = SLOT_COUNT - 1;

/** CRC16-XMODEM (poly 0x1021, init 0) lookup table, computed once. */
const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

export function crc16(buf: Uint8Array, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >>> 8) ^ buf[i]) & 0xff];
  return crc;
}

const MURMUR_M = 0x5bd1e995;

/** MurmurHash2 (Austin Appleby's 32-bit variant, little-endian block reads), unsigned result. */
export function murmur2(buf: Uint8Array, start: number, end: number, seed: number): number {
  let len = end - start;
  let h = (seed ^ len) | 0;
  let i = start;
  while (len >= 4) {
    let k = buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24);
    k = Math.imul(k, MURMUR_M);
    k ^= k >>> 24;
    k = Math.imul(k, MURMUR_M);
    h = Math.imul(h, MURMUR_M) ^ k;
    i += 4;
    len -= 4;
  }
  // The 1..3 trailing bytes (Appleby's fall-through switch, unrolled).
  if (len === 3) h ^= buf[i + 2] << 16;
  if (len >= 2) h ^= buf[i + 1] << 8;
  if (len >= 1) {
    h ^= buf[i];
    h = Math.imul(h, MURMUR_M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, MURMUR_M);
  h ^= h >>> 15;
  return h >>> 0;
}

/**
 * Slot of a key with the configured algorithm. Hash tag (Redis's rule): if the key has a '{'
 * and a '}' after it with at least one byte between, only the bytes between the first '{' and
 * the first '}' after it are hashed; otherwise the whole key.
 */
export class SlotHasher {
  murmur = false;
  seed = 0;

  configure(hash: 'crc16' | 'murmur', seed: number): void {
    this.murmur = hash === 'murmur';
    this.seed = seed | 0;
  }

  slot(buf: Uint8Array, start: number, end: number): number {
    let s = start;
    while (s < end && buf[s] !== 0x7b /* { */) s++;
    if (s < end) {
      let e = s + 1;
      while (e < end && buf[e] !== 0x7d /* } */) e++;
      if (e < end && e !== s + 1) {
        start = s + 1;
        end = e;
      }
    }
    return this.murmur ? murmur2(buf, start, end, this.seed) & SLOT_MASK : crc16(buf, start, end) & SLOT_MASK;
  }
}
