// Slot hashing: CRC16-XMODEM with Redis Cluster's hash-tag rule (keyHashSlot), and
// MurmurHash2 as the alternative. Plain C++, no N-API: unit-testable and fuzzable alone.
// The CRC16 path is inline: it runs once per key on the hot path.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace kvstore {

constexpr int kSlotCount = 16384;

namespace detail {
// CRC16-XMODEM (poly 0x1021), tables built at compile time. t[0]: the classic one-byte table;
// t[k]: a byte followed by k zero bytes. CRC is linear, so 8 bytes fold into 8 independent
// lookups ("slicing by 8"): the dependent chain that bounds short keys gets 8x shorter.
struct Crc16Tables {
  uint16_t t[8][256];
  constexpr Crc16Tables() : t() {
    for (int i = 0; i < 256; i++) {
      uint16_t crc = static_cast<uint16_t>(i << 8);
      for (int b = 0; b < 8; b++) crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021) : static_cast<uint16_t>(crc << 1);
      t[0][i] = crc;
    }
    for (int k = 1; k < 8; k++)
      for (int i = 0; i < 256; i++) t[k][i] = static_cast<uint16_t>(((t[k - 1][i] & 0xff) << 8) ^ t[0][t[k - 1][i] >> 8]);
  }
};
inline constexpr Crc16Tables kCrc;

// True when any byte of the 8-byte word equals `b` (SWAR).
inline bool wordHasByte(uint64_t w, uint8_t b) {
  uint64_t x = w ^ (0x0101010101010101ULL * b);
  return ((x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL) != 0;
}

inline const uint8_t* findByte(const uint8_t* p, size_t len, uint8_t b) {
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    if (wordHasByte(w, b)) break;
    if (i >= 24) return static_cast<const uint8_t*>(std::memchr(p + i + 8, b, len - i - 8));  // long key: libc
  }
  for (; i < len; i++)
    if (p[i] == b) return p + i;
  return nullptr;
}
}  // namespace detail

inline uint16_t crc16(const uint8_t* data, size_t len) {
  const auto& t = detail::kCrc.t;
  uint32_t crc = 0;
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    const uint8_t* d = data + i;
    crc = t[7][(crc >> 8) ^ d[0]] ^ t[6][(crc & 0xff) ^ d[1]] ^ t[5][d[2]] ^ t[4][d[3]] ^ t[3][d[4]] ^ t[2][d[5]] ^ t[1][d[6]] ^ t[0][d[7]];
  }
  const uint8_t* d = data + i;
  switch (len - i) {  // the tail, also in one step
    case 7: crc = t[6][(crc >> 8) ^ d[0]] ^ t[5][(crc & 0xff) ^ d[1]] ^ t[4][d[2]] ^ t[3][d[3]] ^ t[2][d[4]] ^ t[1][d[5]] ^ t[0][d[6]]; break;
    case 6: crc = t[5][(crc >> 8) ^ d[0]] ^ t[4][(crc & 0xff) ^ d[1]] ^ t[3][d[2]] ^ t[2][d[3]] ^ t[1][d[4]] ^ t[0][d[5]]; break;
    case 5: crc = t[4][(crc >> 8) ^ d[0]] ^ t[3][(crc & 0xff) ^ d[1]] ^ t[2][d[2]] ^ t[1][d[3]] ^ t[0][d[4]]; break;
    case 4: crc = t[3][(crc >> 8) ^ d[0]] ^ t[2][(crc & 0xff) ^ d[1]] ^ t[1][d[2]] ^ t[0][d[3]]; break;
    case 3: crc = t[2][(crc >> 8) ^ d[0]] ^ t[1][(crc & 0xff) ^ d[1]] ^ t[0][d[2]]; break;
    case 2: crc = t[1][(crc >> 8) ^ d[0]] ^ t[0][(crc & 0xff) ^ d[1]]; break;
    case 1: crc = ((crc << 8) ^ t[0][(crc >> 8) ^ d[0]]) & 0xffff; break;
    default: break;
  }
  return static_cast<uint16_t>(crc);
}

uint32_t murmur2(const uint8_t* data, size_t len, uint32_t seed);

// The part of the key that is hashed: the content of the first {...} when non-empty.
inline void hashTag(const uint8_t* key, size_t len, const uint8_t** tag, size_t* tagLen) {
  // Same rule as Redis keyHashSlot: first '{', then the first '}' after it; empty tag = whole key.
  const uint8_t* open = detail::findByte(key, len, '{');
  if (open) {
    size_t s = static_cast<size_t>(open - key);
    const uint8_t* close = detail::findByte(key + s + 1, len - s - 1, '}');
    size_t e = close ? static_cast<size_t>(close - key) : len;
    if (e < len && e != s + 1) {
      *tag = key + s + 1;
      *tagLen = e - s - 1;
      return;
    }
  }
  *tag = key;
  *tagLen = len;
}

inline int crc16Slot(const uint8_t* key, size_t len) {
  const uint8_t* tag;
  size_t tagLen;
  hashTag(key, len, &tag, &tagLen);
  return crc16(tag, tagLen) & (kSlotCount - 1);
}

int murmurSlot(const uint8_t* key, size_t len, uint32_t seed);

}  // namespace kvstore
