// Reply framing: byte ranges of complete backend replies (RESP2, RESP3 tolerated), nested to
// any depth without recursion or a stack: only the count of elements still owed is kept.
#pragma once
#include <cstddef>
#include <cstdint>

namespace kvstore {

enum ReplyStatusField { R_COUNT = 0, R_CONSUMED, R_NEED, R_ERROR };
constexpr int kReplyStatusLen = 4;

struct ReplyScan {
  enum Kind { Complete, Incomplete, Error } kind;
  size_t end;      // Complete: byte just past the reply
  long long need;  // Incomplete: total bytes the reply needs from its start, when known (else 0)
};

// Scans one complete reply starting at buf[pos].
ReplyScan scanReply(const uint8_t* buf, size_t len, size_t pos);

// Frames replies in buf[from..len): end offsets into ends[0..cap). Returns R_COUNT.
int frameReplies(const uint8_t* buf, size_t len, size_t from, int32_t* ends, size_t cap, int32_t* status);

}  // namespace kvstore
