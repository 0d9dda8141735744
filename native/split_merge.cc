#include "split_merge.h"

#include <cmath>
#include <cstring>

#include "reply_framer.h"
#include "resp_util.h"

namespace kvstore {

namespace {

inline size_t bulkBytes(size_t len) { return 1 + decimalLength(static_cast<long long>(len)) + 2 + len + 2; }

inline uint8_t* putHeader(uint8_t* w, uint8_t type, long long n) {
  *w++ = type;
  w += writeDecimal(w, n);
  *w++ = '\r';
  *w++ = '\n';
  return w;
}

inline uint8_t* putBulk(uint8_t* w, const ArgView& a) {
  w = putHeader(w, '$', static_cast<long long>(a.len));
  if (a.len) std::memcpy(w, a.data, a.len);
  w += a.len;
  *w++ = '\r';
  *w++ = '\n';
  return w;
}

// The end of the bulk string at buf[p] ($<len>\r\n<bytes>\r\n or $-1\r\n): what MGET's
// sub-replies are made of, framed here without the general framer's cost. 0 when buf[p] is not a
// well-formed bulk within [p, len) (the caller then asks frameOne, which also reports errors).
inline long long bulkEnd(const uint8_t* buf, size_t p, size_t len) {
  if (p + 4 > len || buf[p] != '$') return 0;
  size_t i = p + 1;
  if (buf[i] == '-') return buf[i + 1] == '1' && p + 5 <= len && buf[i + 2] == '\r' && buf[i + 3] == '\n' ? static_cast<long long>(p + 5) : 0;
  size_t n = 0;
  size_t digits = 0;
  while (i < len && buf[i] >= '0' && buf[i] <= '9' && digits < 12) {
    n = n * 10 + static_cast<size_t>(buf[i] - '0');
    i++;
    digits++;
  }
  if (digits == 0 || i + 2 > len || buf[i] != '\r' || buf[i + 1] != '\n') return 0;
  size_t end = i + 2 + n + 2;
  if (end > len || buf[end - 2] != '\r' || buf[end - 1] != '\n') return 0;
  return static_cast<long long>(end);
}

}  // namespace

bool Splitter::placeKey(MergeKind kind, const ArgView* argv, size_t argc, int32_t keyArg, int32_t slot, const uint16_t* slotTable,
                        int32_t* subOut, int32_t* posOut) {
  if (keyArg < 1 || static_cast<size_t>(keyArg) >= argc) return false;
  if (kind == MK_ALL_OK && static_cast<size_t>(keyArg) + 1 >= argc) return false;  // MSET key without value
  if (slot < 0 || slot >= 16384) return false;
  int shard = slotTable[slot];
  int s = subOfShard_[shard];
  if (s < 0) {
    s = static_cast<int>(subs_.size());
    subOfShard_[shard] = s;
    subs_.push_back(Sub{shard, 0, 0, 0});
  }
  *subOut = s;
  *posOut = static_cast<int32_t>(subs_[s].keyCount++);
  subs_[s].bytes += bulkBytes(argv[keyArg].len);
  if (kind == MK_ALL_OK) subs_[s].bytes += bulkBytes(argv[keyArg + 1].len);
  return true;
}

bool Splitter::plan(MergeKind kind, const ArgView* argv, size_t argc, const int32_t* keyArgs, const int32_t* keySlots, size_t nkeys,
                    const uint16_t* slotTable, int32_t* plan, size_t planCap, size_t* outBytes) {
  if (nkeys == 0) return false;
  if (kind == MK_ALL_OK && argc != 1 + 2 * nkeys) return false;  // MSET needs key/value pairs
  kind_ = kind;
  argv_ = argv;
  keyArgs_ = keyArgs;
  nkeys_ = nkeys;
  subs_.clear();
  keySub_.assign(nkeys, 0);
  if (subOfShard_.empty()) subOfShard_.assign(65536, -1);
  posInSub_.assign(nkeys, 0);
  std::vector<int32_t>& posInSub = posInSub_;
  bool ok = true;
  for (size_t k = 0; k < nkeys && ok; k++) {
    ok = placeKey(kind, argv, argc, keyArgs[k], keySlots[k], slotTable, &keySub_[k], &posInSub[k]);
  }
  for (const Sub& sub : subs_) subOfShard_[sub.shard] = -1;  // left all -1 for the next call
  if (!ok) return false;
  size_t n = subs_.size();
  if (kPlanHeader + n * kPlanSubStride + nkeys * kPlanKeyStride > planCap) return false;
  size_t total = 0;
  for (size_t s = 0; s < n; s++) {
    Sub& sub = subs_[s];
    size_t subArgc = 1 + sub.keyCount * (kind == MK_ALL_OK ? 2 : 1);
    sub.bytes += 1 + decimalLength(static_cast<long long>(subArgc)) + 2 + bulkBytes(argv[0].len);
    sub.start = total;
    total += sub.bytes;
  }
  // Keys grouped by sub-command (stable: client order inside each group).
  fill_.assign(n, 0);
  std::vector<size_t>& fill = fill_;
  for (size_t s = 1; s < n; s++) fill[s] = fill[s - 1] + subs_[s - 1].keyCount;
  order_.assign(nkeys, 0);
  for (size_t k = 0; k < nkeys; k++) order_[fill[keySub_[k]]++] = static_cast<int32_t>(k);

  plan[0] = static_cast<int32_t>(n);
  plan[1] = kind;
  plan[2] = static_cast<int32_t>(nkeys);
  int32_t* rec = plan + kPlanHeader;
  for (size_t s = 0; s < n; s++, rec += kPlanSubStride) {
    rec[0] = subs_[s].shard;
    rec[1] = static_cast<int32_t>(subs_[s].start);
    rec[2] = static_cast<int32_t>(subs_[s].start + subs_[s].bytes);
    rec[3] = static_cast<int32_t>(subs_[s].keyCount);
  }
  for (size_t k = 0; k < nkeys; k++, rec += kPlanKeyStride) {
    rec[0] = keySub_[k];
    rec[1] = posInSub[k];
  }
  *outBytes = total;
  return true;
}

void Splitter::write(uint8_t* out) const {
  size_t next = 0;
  for (size_t s = 0; s < subs_.size(); s++) {
    const Sub& sub = subs_[s];
    uint8_t* w = out + sub.start;
    w = putHeader(w, '*', static_cast<long long>(1 + sub.keyCount * (kind_ == MK_ALL_OK ? 2 : 1)));
    w = putBulk(w, argv_[0]);
    for (size_t i = 0; i < sub.keyCount; i++) {
      int32_t a = keyArgs_[order_[next + i]];
      w = putBulk(w, argv_[a]);
      if (kind_ == MK_ALL_OK) w = putBulk(w, argv_[a + 1]);
    }
    next += sub.keyCount;
  }
}

namespace {

// The reply when a shard answers a split sub-command with something of the wrong shape.
const char kUnexpectedReply[] = "-ERR Proxy error: unexpected reply from a shard to a split command\r\n";

void unexpected(std::string* out) { out->assign(kUnexpectedReply, sizeof(kUnexpectedReply) - 1); }

inline bool isErrorReply(const Span& r) { return r.len > 0 && (r.data[0] == '-' || r.data[0] == '!'); }

}  // namespace

bool mergeReplies(const int32_t* plan, size_t planLen, const Span* replies, size_t nreplies, std::string* out) {
  out->clear();
  if (planLen < kPlanHeader) return false;
  long long n = plan[0], kind = plan[1], k = plan[2];
  if (n < 0 || k < 0 || static_cast<unsigned long long>(kPlanHeader + n * kPlanSubStride + k * kPlanKeyStride) > planLen) return false;
  if (nreplies < static_cast<size_t>(n)) {
    unexpected(out);
    return true;
  }
  const int32_t* subs = plan + kPlanHeader;
  const int32_t* keys = subs + n * kPlanSubStride;
  // Any error sub-reply becomes the reply (the first one, in sub-command order).
  for (long long s = 0; s < n; s++) {
    if (isErrorReply(replies[s])) {
      out->assign(reinterpret_cast<const char*>(replies[s].data), replies[s].len);
      return true;
    }
  }
  if (kind == MK_SUM) {
    long long sum = 0;
    for (long long s = 0; s < n; s++) {
      const Span& r = replies[s];
      if (r.len < 4 || r.data[0] != ':' || r.data[r.len - 2] != '\r' || r.data[r.len - 1] != '\n') {
        unexpected(out);
        return true;
      }
      double v = parseLooseInteger(r.data, 1, r.len - 2);
      if (std::isnan(v) || std::fabs(v) > 9.0e15) {
        unexpected(out);
        return true;
      }
      sum += static_cast<long long>(v);
    }
    uint8_t tmp[32];
    uint8_t* w = putHeader(tmp, ':', sum);
    out->assign(reinterpret_cast<const char*>(tmp), static_cast<size_t>(w - tmp));
    return true;
  }
  if (kind == MK_ALL_OK) {
    for (long long s = 0; s < n; s++) {
      if (replies[s].len != 5 || std::memcmp(replies[s].data, "+OK\r\n", 5) != 0) {
        unexpected(out);
        return true;
      }
    }
    out->assign("+OK\r\n");
    return true;
  }
  if (kind != MK_ARRAY) {
    unexpected(out);
    return true;
  }
  // Element byte ranges of every sub-reply, then reassembled in the client's key order.
  // Scratch kept per thread between calls: a merge allocates nothing once these have grown.
  static thread_local std::vector<size_t> elemStart;
  static thread_local std::vector<Span> elems;
  elemStart.assign(static_cast<size_t>(n) + 1, 0);
  elems.clear();
  for (long long s = 0; s < n; s++) {
    const Span& r = replies[s];
    long long expected = subs[s * kPlanSubStride + 3];
    elemStart[s] = elems.size();
    if (r.len < 4 || r.data[0] != '*') {
      unexpected(out);
      return true;
    }
    size_t p = 1;
    while (p < r.len && r.data[p] != '\r') p++;
    if (parseLooseInteger(r.data, 1, p) != static_cast<double>(expected) || p + 1 >= r.len || r.data[p + 1] != '\n') {
      unexpected(out);
      return true;
    }
    p += 2;
    for (long long e = 0; e < expected; e++) {
      long long next = bulkEnd(r.data, p, r.len);
      int32_t need;
      if (next == 0) next = frameOne(r.data, p, r.len, &need);  // not a plain bulk: the full framer
      if (next < 0) {
        unexpected(out);
        return true;
      }
      elems.push_back(Span{r.data + p, static_cast<size_t>(next) - p});
      p = static_cast<size_t>(next);
    }
    if (p != r.len) {
      unexpected(out);
      return true;
    }
  }
  elemStart[n] = elems.size();
  if (elems.size() != static_cast<size_t>(k)) {
    unexpected(out);
    return true;
  }
  uint8_t head[32];
  uint8_t* w = putHeader(head, '*', k);
  size_t total = static_cast<size_t>(w - head);
  for (long long i = 0; i < k; i++) {
    long long s = keys[i * kPlanKeyStride], pos = keys[i * kPlanKeyStride + 1];
    if (s < 0 || s >= n || pos < 0 || static_cast<size_t>(pos) >= elemStart[s + 1] - elemStart[s]) return false;
    total += elems[elemStart[s] + pos].len;
  }
  out->reserve(total);
  out->assign(reinterpret_cast<const char*>(head), static_cast<size_t>(w - head));
  for (long long i = 0; i < k; i++) {
    const Span& e = elems[elemStart[keys[i * kPlanKeyStride]] + keys[i * kPlanKeyStride + 1]];
    out->append(reinterpret_cast<const char*>(e.data), e.len);
  }
  return true;
}

}  // namespace kvstore
