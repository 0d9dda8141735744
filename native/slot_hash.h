// Slot hashing: CRC16-XMODEM with Redis Cluster's hash-tag rule (keyHashSlot), and
// MurmurHash2 as the alternative. Plain C++, no N-API: unit-testable and fuzzable alone.
#pragma once
#include <cstddef>
#include <cstdint>

namespace kvstore {

constexpr int kSlotCount = 16384;

uint16_t crc16(const uint8_t* data, size_t len);
uint32_t murmur2(const uint8_t* data, size_t len, uint32_t seed);

// The part of the key that is hashed: the content of the first {...} when non-empty.
void hashTag(const uint8_t* key, size_t len, const uint8_t** tag, size_t* tagLen);

int crc16Slot(const uint8_t* key, size_t len);
int murmurSlot(const uint8_t* key, size_t len, uint32_t seed);

}  // namespace kvstore
