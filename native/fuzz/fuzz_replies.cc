// libFuzzer harness for the reply framer and the merge of sub-replies. Checks, beyond
// "no crash / no sanitizer report": ends are ordered and inside the input; framing in two
// pieces (prefix, then from R_CONSUMED) or with a tiny `ends` array gives the same ends;
// R_NEED is a true lower bound; resuming at R_RESUME_AT/R_RESUME_OWED frames exactly what a
// rescan does; merge never reads outside its inputs.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../reply_framer.h"
#include "../split_merge.h"

using namespace kvstore;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "CHECK failed: %s at %s:%d\n", #cond, __FILE__, __LINE__); \
      abort();                                                                 \
    }                                                                          \
  } while (0)

namespace {

struct Framed {
  std::vector<int32_t> ends;
  size_t consumed;
  int need, error;
  FrameResume resume;
};

Framed frameAll(const uint8_t* data, size_t len, size_t from, size_t cap, FrameResume resume = {}) {
  Framed f{{}, from, 0, 0, {}};
  std::vector<int32_t> ends(cap);
  int32_t st[kReplyStatusLen];
  for (;;) {
    int n = frameReplies(data, len, f.consumed, ends.data(), cap, st, resume);
    resume = FrameResume{};
    CHECK(st[R_COUNT] == n);
    for (int i = 0; i < n; i++) {
      CHECK(ends[i] > static_cast<int32_t>(f.consumed) && static_cast<size_t>(ends[i]) <= len);
      if (!f.ends.empty()) CHECK(ends[i] > f.ends.back());
      f.ends.push_back(ends[i]);
    }
    f.consumed += st[R_CONSUMED];
    if (n > 0) CHECK(static_cast<int32_t>(f.consumed) == f.ends.back());
    if (static_cast<size_t>(n) == cap && f.consumed < len) continue;
    f.need = st[R_NEED];
    f.error = st[R_ERROR];
    if (st[R_RESUME_OWED] > 0) {
      CHECK(!f.error && f.consumed < len && static_cast<size_t>(st[R_RESUME_AT]) >= f.consumed && static_cast<size_t>(st[R_RESUME_AT]) <= len);
      f.resume = FrameResume{static_cast<size_t>(st[R_RESUME_AT]), static_cast<double>(st[R_RESUME_OWED])};
    }
    return f;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* raw, size_t size) {
  if (size < 2) return 0;
  uint8_t splitSel = raw[0];
  std::vector<uint8_t> buf(raw + 1, raw + size);
  const uint8_t* data = buf.data();
  size_t len = buf.size();

  Framed whole = frameAll(data, len, 0, 4096);
  Framed tiny = frameAll(data, len, 0, 1);
  CHECK(tiny.ends == whole.ends && tiny.consumed == whole.consumed && tiny.need == whole.need && tiny.error == whole.error);

  size_t cut = len ? splitSel % (len + 1) : 0;
  Framed first = frameAll(data, cut, 0, 4096);
  if (!first.error) {
    Framed rest = frameAll(data, len, first.consumed, 4096);
    std::vector<int32_t> joined = first.ends;
    joined.insert(joined.end(), rest.ends.begin(), rest.ends.end());
    CHECK(joined == whole.ends && rest.error == whole.error);
    Framed resumed = frameAll(data, len, first.consumed, 4096, first.resume);
    CHECK(resumed.ends == rest.ends && resumed.error == rest.error && resumed.consumed == rest.consumed);
    if (first.need > 0) {
      size_t shortEnd = first.consumed + static_cast<size_t>(first.need) - 1;
      if (shortEnd <= len) {
        Framed s = frameAll(data, shortEnd, first.consumed, 4096);
        CHECK(s.ends.empty());
      }
    }
  }

  // Merge: each complete reply becomes a sub-reply of a plan whose kind and key layout come
  // from the input; merge must not crash or read outside, whatever the replies hold.
  if (!whole.ends.empty()) {
    std::vector<Span> replies;
    size_t prev = 0;
    for (int32_t e : whole.ends) {
      replies.push_back(Span{data + prev, static_cast<size_t>(e) - prev});
      prev = static_cast<size_t>(e);
    }
    size_t n = replies.size() > 8 ? 8 : replies.size();
    int kind = 1 + splitSel % 3;
    std::vector<int32_t> plan{static_cast<int32_t>(n), kind, 0};
    std::vector<int32_t> keyRecs;
    for (size_t s = 0; s < n; s++) {
      int32_t count = static_cast<int32_t>((data[s % len] % 4));
      plan.insert(plan.end(), {static_cast<int32_t>(s), 0, 0, count});
      for (int32_t k = 0; k < count; k++) keyRecs.insert(keyRecs.end(), {static_cast<int32_t>(s), k});
    }
    plan[2] = static_cast<int32_t>(keyRecs.size() / 2);
    plan.insert(plan.end(), keyRecs.begin(), keyRecs.end());
    std::string out;
    mergeReplies(plan.data(), plan.size(), replies.data(), n, &out);
  }
  return 0;
}
