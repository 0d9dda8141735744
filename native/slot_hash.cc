#include "slot_hash.h"

namespace kvstore {

namespace {
// CRC16-XMODEM (poly 0x1021), table built at compile time.
struct Crc16Table {
  uint16_t v[256];
  constexpr Crc16Table() : v() {
    for (int i = 0; i < 256; i++) {
      uint16_t crc = static_cast<uint16_t>(i << 8);
      for (int b = 0; b < 8; b++) crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021) : static_cast<uint16_t>(crc << 1);
      v[i] = crc;
    }
  }
};
constexpr Crc16Table kCrc16;
}  // namespace

uint16_t crc16(const uint8_t* data, size_t len) {
  uint16_t crc = 0;
  for (size_t i = 0; i < len; i++) crc = static_cast<uint16_t>((crc << 8) ^ kCrc16.v[((crc >> 8) ^ data[i]) & 0xff]);
  return crc;
}

uint32_t murmur2(const uint8_t* data, size_t len, uint32_t seed) {
  const uint32_t m = 0x5bd1e995;
  const int r = 24;
  uint32_t h = seed ^ static_cast<uint32_t>(len);
  while (len >= 4) {
    uint32_t k = static_cast<uint32_t>(data[0]) | (static_cast<uint32_t>(data[1]) << 8) | (static_cast<uint32_t>(data[2]) << 16) | (static_cast<uint32_t>(data[3]) << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
    data += 4;
    len -= 4;
  }
  switch (len) {
    case 3: h ^= static_cast<uint32_t>(data[2]) << 16; [[fallthrough]];
    case 2: h ^= static_cast<uint32_t>(data[1]) << 8; [[fallthrough]];
    case 1: h ^= data[0]; h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return h;
}

void hashTag(const uint8_t* key, size_t len, const uint8_t** tag, size_t* tagLen) {
  // Same rule as Redis keyHashSlot: first '{', then the first '}' after it; empty tag = whole key.
  size_t s = 0;
  while (s < len && key[s] != '{') s++;
  if (s < len) {
    size_t e = s + 1;
    while (e < len && key[e] != '}') e++;
    if (e < len && e != s + 1) {
      *tag = key + s + 1;
      *tagLen = e - s - 1;
      return;
    }
  }
  *tag = key;
  *tagLen = len;
}

int crc16Slot(const uint8_t* key, size_t len) {
  const uint8_t* tag;
  size_t tagLen;
  hashTag(key, len, &tag, &tagLen);
  return crc16(tag, tagLen) & (kSlotCount - 1);
}

int murmurSlot(const uint8_t* key, size_t len, uint32_t seed) {
  const uint8_t* tag;
  size_t tagLen;
  hashTag(key, len, &tag, &tagLen);
  return static_cast<int>(murmur2(tag, tagLen, seed) % kSlotCount);
}

}  // namespace kvstore
