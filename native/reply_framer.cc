#include "reply_framer.h"

#include <cmath>
#include <cstring>

namespace kvstore {

namespace {

constexpr double kMinValueBytes = 3;  // "_\r\n": the smallest value on the wire
constexpr double kIntMax = 2147483647.0;

inline int32_t needFrom(double need, size_t start, size_t end) {
  if (!(need > static_cast<double>(end - start))) return 0;
  return static_cast<int32_t>(need < kIntMax ? need : kIntMax);
}

}  // namespace

double parseLooseInteger(const uint8_t* buf, size_t start, size_t end) {
  size_t p = start;
  bool negative = false;
  if (p < end && buf[p] == '-') {
    negative = true;
    p++;
  }
  if (p >= end) return NAN;
  double v = 0;
  for (; p < end; p++) {
    unsigned d = static_cast<unsigned>(buf[p]) - '0';
    if (d > 9) return NAN;
    v = v * 10 + d;
  }
  return negative ? -v : v;
}

long long frameOne(const uint8_t* buf, size_t start, size_t end, int32_t* need, FrameResume from, FrameResume* resume) {
  double owed = 1;  // a double, like the reference: absurd counts behave the same way
  size_t p = start;
  if (from.owed > 0 && from.at > start && from.at <= end) {
    owed = from.owed;
    p = from.at;
  }
  *need = 0;
  // Every incomplete return below happens with p still at the start of the value it could not
  // finish (a value boundary) and `owed` counting it: that pair is where framing resumes.
  auto incomplete = [&]() {
    if (resume != nullptr) {
      resume->at = p;
      resume->owed = owed;
    }
    return kFrameIncomplete;
  };
  while (owed > 0) {
    if (p >= end) {
      *need = needFrom(static_cast<double>(p) + kMinValueBytes * owed - static_cast<double>(start), start, end);
      return incomplete();
    }
    uint8_t type = buf[p];
    // The line's '\r': most lines are short, so a plain loop first, memchr for long ones.
    size_t r = p + 1;
    size_t quick = end - r > 32 ? r + 32 : end;
    while (r < quick && buf[r] != '\r') r++;
    if (r == quick && r < end) {
      const void* cr = std::memchr(buf + r, '\r', end - r);
      r = cr ? static_cast<size_t>(static_cast<const uint8_t*>(cr) - buf) : end;
    }
    if (r + 1 >= end) {
      *need = needFrom(static_cast<double>(p) + kMinValueBytes * owed - static_cast<double>(start), start, end);
      return incomplete();
    }
    if (buf[r + 1] != '\n') return kFrameError;
    size_t lineNext = r + 2;
    switch (type) {
      case '+':
      case '-':
      case ':':
      case '_':
      case ',':
      case '#':
      case '(':
        owed--;
        p = lineNext;
        break;
      case '$':
      case '=':
      case '!': {
        double n = parseLooseInteger(buf, p + 1, r);
        if (n == -1) {
          owed--;
          p = lineNext;
          break;
        }
        if (!(n >= 0)) return kFrameError;
        double next = static_cast<double>(lineNext) + n + 2;
        if (next > static_cast<double>(end)) {
          *need = needFrom(next + kMinValueBytes * (owed - 1) - static_cast<double>(start), start, end);
          return incomplete();
        }
        size_t ne = static_cast<size_t>(next);
        if (buf[ne - 2] != '\r' || buf[ne - 1] != '\n') return kFrameError;
        owed--;
        p = ne;
        break;
      }
      case '*':
      case '~':
      case '>': {
        double n = parseLooseInteger(buf, p + 1, r);
        if (n == -1) owed--;
        else if (n >= 0) owed += n - 1;
        else return kFrameError;
        p = lineNext;
        break;
      }
      case '%': {
        double n = parseLooseInteger(buf, p + 1, r);
        if (!(n >= 0)) return kFrameError;
        owed += 2 * n - 1;
        p = lineNext;
        break;
      }
      case '|': {
        // Attribute: n pairs, then the value it describes (still owed).
        double n = parseLooseInteger(buf, p + 1, r);
        if (!(n >= 0)) return kFrameError;
        owed += 2 * n;
        p = lineNext;
        break;
      }
      default:
        return kFrameError;
    }
  }
  return static_cast<long long>(p);
}

int frameReplies(const uint8_t* buf, size_t len, size_t from, int32_t* ends, size_t cap, int32_t* status, FrameResume resume) {
  size_t pos = from;
  size_t count = 0;
  int32_t need = 0, error = 0;
  FrameResume next;
  while (pos < len && count < cap) {
    int32_t n;
    long long e = frameOne(buf, pos, len, &n, pos == from ? resume : FrameResume{}, &next);
    if (e == kFrameIncomplete) {
      need = n;
      break;
    }
    if (e == kFrameError) {
      error = 1;
      break;
    }
    ends[count++] = static_cast<int32_t>(e);
    pos = static_cast<size_t>(e);
  }
  status[R_COUNT] = static_cast<int32_t>(count);
  status[R_CONSUMED] = static_cast<int32_t>(pos - from);
  status[R_NEED] = need;
  status[R_ERROR] = error;
  bool resumable = error == 0 && pos < len && count < cap && next.owed > 0 && next.owed <= kIntMax && next.at <= 0x7fffffffu;
  status[R_RESUME_AT] = resumable ? static_cast<int32_t>(next.at) : 0;
  status[R_RESUME_OWED] = resumable ? static_cast<int32_t>(next.owed) : 0;
  return static_cast<int>(count);
}

}  // namespace kvstore
