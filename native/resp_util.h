// Small byte helpers shared by the request parser, reply framer and split/merge.
// They mirror the libc/Redis primitives the Redis 7.0 parser uses, quirks included.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace kvstore {

// Redis searches its NUL-terminated query buffer with strchr(): a NUL byte before the
// wanted character means "not found yet". Returns the index of `ch` in [from, end), or -1.
inline int64_t strchrLike(const uint8_t* buf, size_t from, size_t end, uint8_t ch) {
  if (from >= end) return -1;
  const void* hit = std::memchr(buf + from, ch, end - from);
  size_t limit = hit ? static_cast<size_t>(static_cast<const uint8_t*>(hit) - buf) : end;
  if (std::memchr(buf + from, 0, limit - from) != nullptr) return -1;
  return hit ? static_cast<int64_t>(limit) : -1;
}

// Redis util.c string2ll: no leading zeros, no '+', no "-0", at most 20 characters.
inline bool string2ll(const uint8_t* s, size_t slen, long long* value) {
  if (slen == 0 || slen >= 21) return false;
  if (slen == 1 && s[0] == '0') {
    *value = 0;
    return true;
  }
  size_t i = 0;
  bool negative = false;
  if (s[0] == '-') {
    negative = true;
    i++;
    if (i == slen) return false;
  }
  if (s[i] < '1' || s[i] > '9') return false;
  unsigned long long v = s[i] - '0';
  i++;
  while (i < slen && s[i] >= '0' && s[i] <= '9') {
    if (v > (~0ULL) / 10) return false;
    v *= 10;
    unsigned d = s[i] - '0';
    if (v > (~0ULL) - d) return false;
    v += d;
    i++;
  }
  if (i < slen) return false;
  if (negative) {
    if (v > static_cast<unsigned long long>(INT64_MAX) + 1ULL) return false;
    *value = static_cast<long long>(0ULL - v);
  } else {
    if (v > static_cast<unsigned long long>(INT64_MAX)) return false;
    *value = static_cast<long long>(v);
  }
  return true;
}

inline uint8_t asciiLower(uint8_t c) { return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + 32) : c; }

// strcasecmp() on two C strings held as (ptr, len): comparison stops at the first NUL.
inline bool cstrCaseEqual(const uint8_t* a, size_t alen, const uint8_t* b, size_t blen) {
  size_t i = 0;
  for (;; i++) {
    uint8_t ca = i < alen ? a[i] : 0;
    uint8_t cb = i < blen ? b[i] : 0;
    if (asciiLower(ca) != asciiLower(cb)) return false;
    if (ca == 0) return true;
  }
}

inline bool caseEqual(const uint8_t* a, size_t alen, const uint8_t* b, size_t blen) {
  if (alen != blen) return false;
  for (size_t i = 0; i < alen; i++)
    if (asciiLower(a[i]) != asciiLower(b[i])) return false;
  return true;
}

// Writes the decimal form of v at out; returns the number of bytes written (max 20).
inline size_t writeDecimal(uint8_t* out, long long v) {
  uint8_t tmp[24];
  size_t n = 0;
  unsigned long long u = v < 0 ? 0ULL - static_cast<unsigned long long>(v) : static_cast<unsigned long long>(v);
  do {
    tmp[n++] = static_cast<uint8_t>('0' + u % 10);
    u /= 10;
  } while (u);
  size_t w = 0;
  if (v < 0) out[w++] = '-';
  while (n) out[w++] = tmp[--n];
  return w;
}

inline size_t decimalLength(long long v) {
  uint8_t tmp[24];
  return writeDecimal(tmp, v);
}

}  // namespace kvstore
