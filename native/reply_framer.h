// Reply framing: byte ranges of complete backend replies (RESP2, and the RESP3 types Redis can
// send), nested to any depth without recursion or a stack: only the count of values still owed
// is kept. Same rules as the TypeScript reference (src/native/reference/replyFramer.ts).
#pragma once
#include <cstddef>
#include <cstdint>

namespace kvstore {

enum ReplyStatusField { R_COUNT = 0, R_CONSUMED, R_NEED, R_ERROR, R_RESUME_AT, R_RESUME_OWED };
constexpr int kReplyStatusLen = 6;

// Where framing of an incomplete reply can pick up again: the offset of the first value not yet
// complete and how many values are still owed there. Passing it back on the next call (same
// bytes, more appended) scans only the new part, so a huge reply arriving in many reads costs
// linear time instead of a rescan from its start per read.
struct FrameResume {
  size_t at = 0;
  double owed = 0;  // 0 = no resume state
};

constexpr long long kFrameIncomplete = -1;
constexpr long long kFrameError = -2;

// Decimal in buf[start, end): optional '-', then at least one digit (leading zeros allowed).
// Returns NaN otherwise. Accumulates in a double exactly as the reference does in JS.
double parseLooseInteger(const uint8_t* buf, size_t start, size_t end);

// End offset of the complete value starting at buf[start], or kFrameIncomplete / kFrameError.
// On kFrameIncomplete, *need is a lower bound of the bytes the value needs from `start`
// (0 when that is not more than the bytes already there) and *resume where to pick up.
// With `from` (owed > 0), scanning starts at from.at instead of `start`.
long long frameOne(const uint8_t* buf, size_t start, size_t end, int32_t* need, FrameResume from = {}, FrameResume* resume = nullptr);

// Frames replies in buf[from..len): end offsets into ends[0..cap). Returns R_COUNT. `resume`
// (from the previous call's R_RESUME_AT / R_RESUME_OWED) applies to the reply at `from`.
int frameReplies(const uint8_t* buf, size_t len, size_t from, int32_t* ends, size_t cap, int32_t* status, FrameResume resume = {});

}  // namespace kvstore
