#include "reply_framer.h"

#include <cstring>

#include "resp_util.h"

namespace kvstore {

namespace {

// Index of the first "\r\n" at or after `from`, or -1.
inline int64_t findCrlf(const uint8_t* buf, size_t from, size_t len) {
  size_t i = from;
  while (i + 1 < len) {
    const void* hit = std::memchr(buf + i, '\r', len - 1 - i);
    if (!hit) return -1;
    size_t at = static_cast<size_t>(static_cast<const uint8_t*>(hit) - buf);
    if (buf[at + 1] == '\n') return static_cast<int64_t>(at);
    i = at + 1;
  }
  return -1;
}

constexpr long long kMaxAggregate = 0x7fffffffLL;

}  // namespace

ReplyScan scanReply(const uint8_t* buf, size_t len, size_t pos) {
  long long owed = 1;  // elements still to read
  size_t p = pos;
  while (owed > 0) {
    if (p >= len) return ReplyScan{ReplyScan::Incomplete, 0, 0};
    uint8_t type = buf[p];
    int64_t cr = findCrlf(buf, p + 1, len);
    if (cr < 0) return ReplyScan{ReplyScan::Incomplete, 0, 0};
    size_t lineEnd = static_cast<size_t>(cr) + 2;
    switch (type) {
      case '+':
      case '-':
      case ':':
      case '_':
      case ',':
      case '#':
      case '(':
        owed--;
        p = lineEnd;
        break;
      case '$':
      case '!':
      case '=': {
        long long n;
        if (!string2ll(buf + p + 1, static_cast<size_t>(cr) - p - 1, &n) || n < -1) return ReplyScan{ReplyScan::Error, 0, 0};
        owed--;
        if (n == -1) {
          p = lineEnd;
          break;
        }
        unsigned long long bodyEnd = static_cast<unsigned long long>(lineEnd) + static_cast<unsigned long long>(n) + 2;
        if (bodyEnd > len) return ReplyScan{ReplyScan::Incomplete, 0, static_cast<long long>(bodyEnd - pos)};
        if (buf[bodyEnd - 2] != '\r' || buf[bodyEnd - 1] != '\n') return ReplyScan{ReplyScan::Error, 0, 0};
        p = static_cast<size_t>(bodyEnd);
        break;
      }
      case '*':
      case '~':
      case '>':
      case '%':
      case '|': {
        long long n;
        if (!string2ll(buf + p + 1, static_cast<size_t>(cr) - p - 1, &n) || n < -1 || n > kMaxAggregate) return ReplyScan{ReplyScan::Error, 0, 0};
        if (n == -1 && (type == '%' || type == '|')) return ReplyScan{ReplyScan::Error, 0, 0};
        owed--;
        p = lineEnd;
        if (n <= 0) break;
        if (type == '%') owed += 2 * n;
        else if (type == '|') owed += 2 * n + 1;  // attribute pairs, then the reply they annotate
        else owed += n;
        break;
      }
      default:
        return ReplyScan{ReplyScan::Error, 0, 0};
    }
  }
  return ReplyScan{ReplyScan::Complete, p, 0};
}

int frameReplies(const uint8_t* buf, size_t len, size_t from, int32_t* ends, size_t cap, int32_t* status) {
  for (int i = 0; i < kReplyStatusLen; i++) status[i] = 0;
  size_t pos = from;
  size_t count = 0;
  while (pos < len && count < cap) {
    ReplyScan s = scanReply(buf, len, pos);
    if (s.kind == ReplyScan::Complete) {
      ends[count++] = static_cast<int32_t>(s.end);
      pos = s.end;
      continue;
    }
    if (s.kind == ReplyScan::Error) status[R_ERROR] = 1;
    else status[R_NEED] = static_cast<int32_t>(s.need > 0x7fffffffLL ? 0x7fffffffLL : s.need);
    break;
  }
  status[R_COUNT] = static_cast<int32_t>(count);
  status[R_CONSUMED] = static_cast<int32_t>(pos - from);
  return static_cast<int>(count);
}

}  // namespace kvstore
