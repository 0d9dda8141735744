// Reply framing: byte ranges of complete backend replies (RESP2, and the RESP3 types Redis can
// send), nested to any depth without recursion or a stack: only the count of values still owed
// is kept. Same rules as the TypeScript reference (src/native/reference/replyFramer.ts).
#pragma once
#include <cstddef>
#include <cstdint>

namespace kvstore {

enum ReplyStatusField { R_COUNT = 0, R_CONSUMED, R_NEED, R_ERROR };
constexpr int kReplyStatusLen = 4;

constexpr long long kFrameIncomplete = -1;
constexpr long long kFrameError = -2;

// Decimal in buf[start, end): optional '-', then at least one digit (leading zeros allowed).
// Returns NaN otherwise. Accumulates in a double exactly as the reference does in JS.
double parseLooseInteger(const uint8_t* buf, size_t start, size_t end);

// End offset of the complete value starting at buf[start], or kFrameIncomplete / kFrameError.
// On kFrameIncomplete, *need is a lower bound of the bytes the value needs from `start`
// (0 when that is not more than the bytes already there).
long long frameOne(const uint8_t* buf, size_t start, size_t end, int32_t* need);

// Frames replies in buf[from..len): end offsets into ends[0..cap). Returns R_COUNT.
int frameReplies(const uint8_t* buf, size_t len, size_t from, int32_t* ends, size_t cap, int32_t* status);

}  // namespace kvstore
