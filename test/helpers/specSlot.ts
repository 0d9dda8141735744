/**
 * Redis Cluster's key slot written from the spec (CRC16/XMODEM of the hash tag or the whole key),
 * independent of the project's own hashing: tests check the project against it.
 */
export function specCrc16(buf: Buffer): number {
  let crc = 0;
  for (const byte of buf) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

export function specKeySlot(key: Buffer): number {
  const open = key.indexOf(0x7b);
  if (open >= 0) {
    const close = key.indexOf(0x7d, open + 1);
    if (close > open + 1) return specCrc16(key.subarray(open + 1, close)) % 16384;
  }
  return specCrc16(key) % 16384;
}
